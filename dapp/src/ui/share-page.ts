// A share link opened in the dapp: `<dapp>?v=2&…&shards=…&hosts=…#key=…` (the fields of a
// `scatter:file?…` link). No wallet and no chain: the shards come from the link's hosts, every
// block checked against its CID, then decoded, decrypted and sha256-checked in this browser. The
// key stays in the fragment, which the browser never sends to any server.
import { parseShareLink, SCHEME_BASE, type ShareLink } from "../formats/sharelink";
import { downloadFile } from "../pipeline";
import { bytes, h, replace } from "./dom";

/** Whether the page was opened from a share link (its fragment holds the key). */
export function isShareLink(location: Location): boolean {
  return location.hash.startsWith("#key=") && location.search.length > 1;
}

/** The page's own URL as the link it carries (`scatter:file?…#…`: the base is only where it opened). */
export function linkOfPage(location: Location): ShareLink {
  return parseShareLink(`${SCHEME_BASE}${location.search}${location.hash}`);
}

/** The dapp's link for a `scatter:file?…` link: the same fields after this page's address. */
export function dappLink(schemeLink: string, location: Location): string {
  return `${location.origin}${location.pathname}${schemeLink.slice(SCHEME_BASE.length)}`;
}

export function renderSharePage(root: HTMLElement, location: Location): void {
  let link: ShareLink;
  try {
    link = linkOfPage(location);
  } catch (err) {
    replace(root, h("h1", {}, "Shared file"), h("p", { class: "notice error", role: "alert", "data-testid": "share-error" }, `This share link is not valid: ${(err as Error).message}`));
    return;
  }
  const status = h("p", { role: "status", "aria-live": "polite", "data-testid": "share-status" });
  const go = h("button", { type: "button", class: "primary", "data-testid": "share-download" }, "Download and decrypt");
  const hosts = link.hosts ?? [];
  go.addEventListener("click", () => {
    go.disabled = true;
    status.textContent = "Fetching shards…";
    const sources = link.shards.map((cid, index) => ({ index, cid, gateways: hosts }));
    downloadFile(sources, link.k, link.contentKey, {
      ...(link.sha256 ? { sha256: link.sha256 } : {}),
      onProgress: (p) => {
        status.textContent = `Decoding: ${bytes(p.done)} of ${bytes(p.total)}`;
      },
    })
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const a = h("a", { href: url, download: link.name ?? "file" });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        status.textContent = `Downloaded ${bytes(blob.size)}${link.sha256 ? ", sha256 checked" : ""}.`;
      })
      .catch((err: unknown) => {
        status.textContent = `The download failed: ${(err as Error).message}`;
      })
      .finally(() => {
        go.disabled = false;
      });
  });
  replace(
    root,
    h("h1", {}, "Shared file"),
    h(
      "dl",
      { class: "pairs card" },
      h("dt", {}, "Name"), h("dd", { "data-testid": "share-name" }, link.name ?? "(not given)"),
      h("dt", {}, "Size"), h("dd", {}, link.size !== undefined ? bytes(link.size) : "(not given)"),
      h("dt", {}, "Shards"), h("dd", {}, `any ${link.k} of ${link.n}`),
      h("dt", {}, "From"), h("dd", {}, hosts.length ? hosts.join(", ") : "no hosts in the link"),
    ),
    h("p", { class: "muted" }, "No wallet needed: the key is in this link's fragment, which your browser never sends anywhere; every block is checked against its CID."),
    go,
    status,
  );
}
