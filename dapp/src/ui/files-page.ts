// Store a private file and My files: the pages. The work (formats pipeline, pushes, metadata) is in
// ./files.ts, loaded with the pipeline's WebAssembly only when one of these pages opens.
import { explain } from "../chain/errors";
import type { App, Page } from "./app";
import { bytes, eth, field, h, replace, seconds } from "./dom";
import type { EncodedFile } from "../pipeline";
import type { MyFile, StoreUi } from "./files";
import { followBid } from "./pin-page";
import { priceInput, priceRows, priceWarnings, quotePrice } from "./price-quote";
import { typedPrice } from "./units";

const lib = (): Promise<typeof import("./files")> => import("./files");
const message = (err: unknown): string => (err instanceof Error ? err.message.split("\n")[0]! : String(err));

export const storePage: Page = (app, root) => {
  const file = h("input", { type: "file", name: "file", required: true, "data-testid": "store-file" });
  const shards = h("select", { name: "shards", "data-testid": "store-shards" }, ...["3/6", "2/4", "4/8", "1/3"].map((s) => h("option", { value: s }, s)));
  const days = h("input", { name: "days", type: "number", min: 1, value: 30, required: true, "data-testid": "store-days" });
  const price = priceInput("store-price");
  const go = h("button", { type: "submit", class: "primary", "data-testid": "store-encode" }, "Encrypt and show the cost");
  const form = h(
    "form",
    { class: "card" },
    field("File", file, "Encrypted here with a fresh key (AES-256-GCM); hosters only ever see ciphertext."),
    h("div", { class: "row" }, field("Shards (k/n)", shards, "Any k of the n shards rebuild the file."), field("Duration (days)", days), field("Price (gwei per GiB per epoch)", price, "Empty: the default, twice the hosters' gas at the chain's gas price.")),
    go,
  );
  const stages = h("ol", { class: "stages", "aria-label": "Upload progress", "aria-live": "polite", "data-testid": "store-stages" });
  const shardList = h("ol", { class: "stages", "aria-label": "Shards", "data-testid": "store-shards-progress" });
  const out = h("div", { "aria-live": "polite", "data-testid": "store-out" });
  replace(root, h("h1", {}, "Store a private file"), form, out, stages, shardList);

  const rows = new Map<string, HTMLElement>();
  const ui: StoreUi = {
    stage(name, text, done, total) {
      let row = rows.get(name);
      if (!row) {
        row = h("li", { "data-stage": name });
        rows.set(name, row);
        stages.append(row);
      }
      replace(row, h("strong", {}, name), h("span", {}, text), done !== undefined && total ? h("progress", { max: total, value: done, "aria-label": `${name} progress` }) : h("span"));
    },
    shard(slot, text) {
      let row = rows.get(`shard-${slot}`);
      if (!row) {
        row = h("li", { "data-shard": slot });
        rows.set(`shard-${slot}`, row);
        shardList.append(row);
      }
      replace(row, h("strong", {}, `shard ${slot}`), h("span", {}, text), h("span"));
    },
  };

  // The encoded file waiting for its bid: its CAR files are deleted when another is encoded or the page is left.
  let pending: EncodedFile | null = null;
  let left = false;
  const drop = (): void => {
    void pending?.cars?.remove();
    pending = null;
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    drop();
    void (async () => {
      const chosen = file.files?.[0];
      try {
        if (!chosen) throw new Error("Choose a file.");
        app.wallet.signer(); // refused here, before encoding, when no account or the wrong chain
        typedPrice(price.value); // and a typo in the price
        const epochs = Math.ceil((Number(days.value) * 86400) / app.chain.epochSeconds);
        if (!Number.isFinite(epochs) || epochs < 1) throw new Error("The duration must be at least a day.");
        go.disabled = true;
        const { encode, store } = await lib();
        const enc = await encode(chosen, shards.value, ui);
        pending = enc;
        if (left) drop();
        const q = await quotePrice(app, { text: price.value, size: BigInt(enc.shardSize), epochs, slots: enc.shards.length });
        const perSlot = q.price.perSlotEpoch;
        const total = q.escrow;
        const sign = h("button", { type: "button", class: "primary", "data-testid": "store-sign" }, `Bid and upload: pay ${eth(total)}`);
        replace(
          out,
          h(
            "div",
            { class: "card quote" },
            h("h2", {}, "Before you sign"),
            h("dl", { class: "pairs" },
              h("dt", {}, "File"), h("dd", {}, `${enc.name}, ${bytes(enc.size)}`),
              h("dt", {}, "Shards"), h("dd", {}, `${enc.erasure.k} of ${enc.shards.length}, ${bytes(enc.shardSize)} each`),
              h("dt", {}, "Duration"), h("dd", {}, `${epochs} epochs (${seconds(epochs * app.chain.epochSeconds)})`),
              ...priceRows(q, "shard", "store"),
              h("dt", {}, "Total escrow"), h("dd", { "data-testid": "store-total", "data-wei": total.toString() }, h("strong", {}, eth(total, 18)))),
            ...priceWarnings(q, "store"),
            enc.shards.every((s) => s.onDisk)
              ? null
              : h("p", { class: "notice warn", "data-testid": "store-memory-note" }, `This browser keeps the encoded shards in memory until they are pushed (about ${bytes(enc.shardSize * enc.shards.length)}): it has no origin-private file system for them.`),
            h("p", { class: "muted" }, `Your wallet signs the key request (once per session), then the bid, one push per shard and the metadata record.`),
            sign,
          ),
        );
        sign.addEventListener("click", () => {
          sign.disabled = true;
          pending = null; // store() deletes the CAR files when it ends
          store(app, enc, perSlot, epochs, ui)
            .then((bidId) => replace(out, h("p", { class: "notice ok", "data-testid": "store-done" }, `Stored: bid #${bidId}. `, h("a", { href: "#/files" }, "My files"))))
            .catch((err: unknown) => replace(out, h("p", { class: "notice error", role: "alert", "data-testid": "store-error" }, explain(err))));
        });
      } catch (err) {
        replace(out, h("p", { class: "notice error", role: "alert", "data-testid": "store-error" }, message(err)));
      } finally {
        go.disabled = false;
      }
    })();
  });
  return () => {
    left = true;
    drop();
  };
};

export const filesPage: Page = (app, root) => {
  const out = h("div", { "aria-live": "polite", "data-testid": "files-out" });
  const unlock = h("button", { type: "button", class: "primary", "data-testid": "files-unlock" }, "Show my files (sign the key request)");
  // a file's bid: its slots, with cancel (per open slot) and extend (the open slots)
  const bidBox = h("section", { "aria-label": "The file's bid", "data-testid": "file-bid" });
  replace(
    root,
    h("h1", {}, "My files"),
    h("p", { class: "muted" }, "Your entries are encrypted on chain under a key derived from one signature of your wallet; they are decrypted here, in this browser."),
    unlock,
    out,
    bidBox,
  );
  let stopBid = (): void => {};
  const showBid = (bidId: bigint): void => {
    stopBid();
    stopBid = followBid(app, bidBox, bidId);
  };
  let stopped = false;
  const load = async (): Promise<void> => {
    replace(out, h("p", { role: "status" }, "Reading your entries…"));
    try {
      const { myFiles, filesTable } = await lib();
      const files = await myFiles(app);
      if (stopped) return;
      replace(out, filesTable(files, (f) => actions(app, f, () => void load(), showBid)));
      unlock.hidden = true;
    } catch (err) {
      replace(out, h("p", { class: "notice error", role: "alert", "data-testid": "files-error" }, message(err)));
    }
  };
  unlock.addEventListener("click", () => void load());
  return () => {
    stopped = true;
    stopBid();
  };
};

function actions(app: App, f: MyFile, reload: () => void, showBid: (bidId: bigint) => void): HTMLElement {
  const status = h("span", { class: "muted", role: "status" });
  const act = (label: string, testid: string, run: () => Promise<void>): HTMLElement =>
    h("button", {
      type: "button",
      "data-testid": testid,
      onclick: () => {
        run().catch((err: unknown) => {
          status.textContent = message(err);
        });
      },
    }, label);
  return h(
    "span",
    { class: "row tight" },
    act("Download", "file-download", async () => {
      const { download } = await lib();
      await download(f, (done, total) => {
        status.textContent = `${bytes(done)} of ${bytes(total)}`;
      });
      status.textContent = "downloaded, sha256 checked";
    }),
    act("Share link", "file-share", async () => {
      const { shareLink } = await lib();
      const { dappLink } = await import("./share-page");
      const link = shareLink(app, f);
      const web = dappLink(link, location);
      status.replaceChildren(
        h("input", { readonly: true, value: web, "aria-label": `Share link of ${f.metadata.name} (opens in this dapp)`, "data-testid": "file-share-web" }),
        h("input", { readonly: true, value: link, "aria-label": `Share link of ${f.metadata.name} (scatter download)`, "data-testid": "file-share-link" }),
      );
      await navigator.clipboard?.writeText(web).catch(() => undefined);
    }),
    f.bidId !== null ? act(`Bid #${f.bidId}: slots, cancel, extend`, "file-slots", async () => showBid(f.bidId!)) : null,
    act("Remove", "file-remove", async () => {
      const { remove } = await lib();
      await remove(app, f);
      reload();
    }),
    status,
  );
}
