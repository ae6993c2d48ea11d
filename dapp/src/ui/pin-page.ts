// Pin a CID: the content is read once from an origin the user types, checked against the CID, and
// its possession commitment computed here; replicas, duration and price give the total before
// anything is signed; after the bid, its slots fill live.
import { parseEventLogs, type Hex } from "viem";
import { marketAbi } from "virtual:scatter-abi";
import { bits } from "../chain/market";
import type { Page } from "./app";
import { extendForm, waitingSlots } from "./bid-actions";
import { bytes, eth, field, h, replace, seconds, shortAddress, table } from "./dom";
import type { Possession } from "./pin-content";
import { priceInput, priceRows, priceWarnings, quotePrice } from "./price-quote";
import { DURATION_UNITS, epochsOf, typedPrice, type DurationUnit } from "./units";

export const pinPage: Page = (app, root) => {
  const cid = h("input", { name: "cid", required: true, autocomplete: "off", spellcheck: "false", placeholder: "bafy…", "data-testid": "pin-cid" });
  const origin = h("input", { name: "origin", type: "url", required: true, placeholder: "https://gateway.example", "data-testid": "pin-origin" });
  const replicas = h("input", { name: "replicas", type: "number", min: 1, max: 32, value: 3, required: true, "data-testid": "pin-replicas" });
  const amount = h("input", { name: "duration", type: "number", min: 1, value: 30, required: true, "data-testid": "pin-duration" });
  const unit = h("select", { name: "unit", "aria-label": "Duration unit", "data-testid": "pin-unit" }, ...Object.keys(DURATION_UNITS).map((u) => h("option", { value: u, selected: u === "days" }, u)));
  const price = priceInput("pin-price");
  const check = h("button", { type: "submit", class: "primary", "data-testid": "pin-check" }, "Read the content and show the cost");
  const quote = h("div", { "aria-live": "polite", "data-testid": "pin-quote" });
  const live = h("section", { "aria-labelledby": "pin-live", "data-testid": "pin-live" });
  const form = h(
    "form",
    { class: "card", novalidate: true },
    field("CID", cid, "A public UnixFS file (CIDv0 or v1)."),
    field("Origin", origin, "A Trustless Gateway that serves the CID; read once here, and given to hosters."),
    h("div", { class: "row" }, field("Replicas", replicas), h("div", { class: "field" }, h("label", { for: "pin-amount" }, "Duration"), h("div", { class: "row tight" }, Object.assign(amount, { id: "pin-amount" }), unit))),
    field("Price (gwei per GiB per epoch)", price, "Leave it empty for the default: twice the hosters' gas (their break-even) at the chain's gas price, at least 1 gwei. Hosters skip a bid below their break-even."),
    check,
  );
  replace(root, h("h1", {}, "Pin a CID"), form, quote, live);

  let possession: Possession | null = null;
  let stopLive = (): void => {};
  const inputs = [cid, origin];
  for (const i of inputs) i.addEventListener("input", () => { possession = null; replace(quote); });
  // a changed price, replica count or duration needs a new quote: the old one's button would sign the old terms
  for (const i of [price, replicas, amount, unit]) i.addEventListener("input", () => replace(quote));

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void makeQuote();
  });

  const makeQuote = async (): Promise<void> => {
    const status = h("p", { role: "status" }, "Reading the content…");
    replace(quote, status);
    try {
      if (!form.reportValidity()) throw new Error("Fill in the CID and the origin.");
      typedPrice(price.value); // a typo fails before the content is read
      if (!possession) {
        const { possessionOf } = await import("./pin-content"); // CAR/UnixFS code: loaded on use
        possession = await possessionOf(cid.value, origin.value, (n) => {
          status.textContent = `Reading the content: ${bytes(n)} checked…`;
        });
      }
      const chain = app.chain;
      const n = Number(replicas.value);
      if (!Number.isInteger(n) || n < 1 || n > 32) throw new Error("Replicas: a whole number from 1 to 32.");
      const epochs = epochsOf(Number(amount.value), unit.value as DurationUnit, chain.epochSeconds);
      const p = possession;
      status.textContent = "Reading the gas price and the hosters…";
      const q = await quotePrice(app, { text: price.value, size: p.size, epochs, slots: n });
      const perSlot = q.price.perSlotEpoch;
      const total = q.escrow;
      const sign = h("button", { type: "button", class: "primary", "data-testid": "pin-sign" }, `Sign and pay ${eth(total)}`);
      sign.addEventListener("click", () => void post(p, n, epochs, perSlot, total, sign));
      replace(
        quote,
        h(
          "div",
          { class: "card quote" },
          h("h2", {}, "Before you sign"),
          h(
            "dl",
            { class: "pairs" },
            h("dt", {}, "Content"), h("dd", {}, `${bytes(p.size)} (${p.size} bytes, ${p.blocks} blocks, every one checked against the CID)`),
            h("dt", {}, "Possession root"), h("dd", {}, h("code", { "data-testid": "pin-root" }, p.root)),
            h("dt", {}, "Replicas"), h("dd", {}, String(n)),
            h("dt", {}, "Duration"), h("dd", {}, `${epochs} epochs (${seconds(epochs * chain.epochSeconds)})`),
            ...priceRows(q, "replica", "pin"),
            h("dt", {}, "Total escrow"), h("dd", { "data-testid": "pin-total", "data-wei": total.toString() }, h("strong", {}, eth(total, 18)), ` (${total} wei)`),
          ),
          ...priceWarnings(q, "pin"),
          h("p", { class: "muted" }, "The escrow stays in the Market; what no hoster earns comes back (cancel, reopened slots, finish)."),
          sign,
        ),
      );
    } catch (err) {
      possession = null;
      replace(quote, h("p", { class: "notice error", role: "alert" }, err instanceof Error ? err.message : String(err)));
    }
  };

  const post = async (p: Possession, n: number, epochs: number, perSlot: bigint, total: bigint, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    try {
      await app.reader.checkVersion(); // the root is of format 2: only a VERSION 3 Market takes it
      const receipt = await app.txs.send({
        label: `Pin ${cid.value.slice(0, 12)}… ×${n}`,
        address: app.chain.market,
        abi: marketAbi,
        functionName: "bid",
        args: [[bytesHex(p.cidBytes)], [p.root], p.size, n, perSlot, epochs, [origin.value]],
        value: total,
      });
      const [posted] = parseEventLogs({ abi: marketAbi, eventName: "BidPosted", logs: receipt.logs });
      const bidId = (posted?.args as { bidId?: bigint } | undefined)?.bidId;
      if (bidId === undefined) throw new Error("The receipt holds no BidPosted event.");
      stopLive();
      stopLive = followBid(app, live, bidId);
    } catch (err) {
      replace(quote, h("p", { class: "notice error", role: "alert", "data-testid": "pin-error" }, err instanceof Error ? err.message : String(err)));
    } finally {
      button.disabled = false;
    }
  };

  return () => stopLive();
};

/** Cancel open, unreserved slots one transaction each; their escrow is credited (withdraw on Operators). */
export async function cancelSlots(app: Parameters<Page>[0], bidId: bigint, slots: number[]): Promise<void> {
  for (const slot of slots) {
    try {
      await app.txs.send({ label: `Cancel slot ${slot} of bid #${bidId}`, address: app.chain.market, abi: marketAbi, functionName: "cancel", args: [bidId, slot] });
    } catch {
      return; // the transaction list says why
    }
  }
}

function bytesHex(data: Uint8Array): Hex {
  let out = "0x";
  for (const b of data) out += b.toString(16).padStart(2, "0");
  return out as Hex;
}

/** A bid's slots, refreshed every second: open, reserved (by whom) or filled (deal, hoster). */
export function followBid(app: Parameters<Page>[0], box: HTMLElement, bidId: bigint): () => void {
  let stopped = false;
  const reader = app.reader;
  const slots = h("div");
  const extend = extendForm(app, bidId);
  replace(box, slots, extend.form);
  const tick = async (): Promise<void> => {
    try {
      const bid = await reader.bid(bidId);
      const fills = await reader.events(bid.postedBlock, "latest", "SlotFilled", { bidId });
      const bySlot = new Map<number, { dealId: bigint; hoster: string }>();
      for (const e of fills) {
        const a = e.args as { slot: number; dealId: bigint; hoster: string };
        bySlot.set(Number(a.slot), { dealId: a.dealId, hoster: a.hoster });
      }
      const open = new Set(bits(bid.openSlots, bid.slotCount));
      const reserved = new Set(bits(bid.reservedSlots, bid.slotCount));
      const closed = new Set(bits(bid.closedSlots, bid.slotCount));
      if (stopped) return;
      const filled = [...Array(bid.slotCount).keys()].filter((s) => !open.has(s) && !closed.has(s)).length;
      const cancellable = waitingSlots(bid);
      const mine = app.wallet.state.account?.toLowerCase() === bid.client.toLowerCase();
      extend.update(bid, mine);
      const cancelOne = (s: number): HTMLElement =>
        h("button", { type: "button", class: "danger", "data-testid": "slot-cancel", onclick: () => void cancelSlots(app, bidId, [s]) }, `Cancel slot ${s}`);
      replace(
        slots,
        h("h2", { id: "pin-live" }, `Bid #${bidId}: ${filled} of ${bid.slotCount} replicas filled`),
        mine && cancellable.length > 0
          ? h("p", {}, h("button", { type: "button", class: "danger", "data-testid": "cancel-open", onclick: () => void cancelSlots(app, bidId, cancellable) }, `Cancel ${cancellable.length} open slot${cancellable.length > 1 ? "s" : ""} (refund their escrow)`))
          : null,
        table(
          `Slots of bid #${bidId}`,
          ["Slot", "State", "Deal", "Hoster", "Action"],
          [...Array(bid.slotCount).keys()].map((s) => {
            const deal = bySlot.get(s);
            const state = closed.has(s) ? "closed" : open.has(s) ? (reserved.has(s) ? "reserved" : "open") : "filled";
            return [String(s), h("span", { class: `badge ${state}`, "data-testid": "slot-state" }, state), deal && state === "filled" ? `#${deal.dealId}` : "—", deal && state === "filled" ? shortAddress(deal.hoster) : "—", mine && state === "open" ? cancelOne(s) : ""];
          }),
        ),
      );
    } catch {
      // the next tick tries again
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), 1_000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
