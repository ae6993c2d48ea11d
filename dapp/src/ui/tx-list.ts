// The transactions of this session: pending, confirmed or failed, with the reason in words.
import type { App } from "./app";
import { badge, h, replace } from "./dom";

const LABEL = { signing: "waiting for signature", pending: "pending", confirmed: "confirmed", failed: "failed" } as const;

export function txList(app: App, root: HTMLElement): void {
  app.txs.subscribe((records) => {
    replace(
      root,
      ...records.slice(0, 6).map((r) =>
        h(
          "div",
          { class: `tx ${r.status}`, "data-testid": "tx", "data-status": r.status },
          h("strong", {}, r.label),
          " ",
          badge(LABEL[r.status], r.status),
          r.message ? h("span", { class: "tx-message" }, " ", r.message) : null,
          r.hash ? h("code", { class: "hash", title: r.hash }, ` ${r.hash.slice(0, 10)}…`) : null,
        ),
      ),
    );
  });
}
