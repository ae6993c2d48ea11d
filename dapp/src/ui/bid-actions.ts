// What a bid's client can still change from the browser: extend the open slots. Only open,
// unreserved slots grow (Market.extend); a filled deal keeps the end fixed at its fill and changes
// only with its hoster's signature (extendDeal, docs/trust.md T7), which the dapp does not collect.
import { marketAbi } from "virtual:scatter-abi";
import { bits, type Bid } from "../chain/market";
import type { App } from "./app";
import { eth, field, h, replace } from "./dom";

/** Open slots no hoster has reserved: what `cancel` refunds and `extend` pays for. */
export const waitingSlots = (bid: Bid): number[] => {
  const reserved = new Set(bits(bid.reservedSlots, bid.slotCount));
  return bits(bid.openSlots, bid.slotCount).filter((s) => !reserved.has(s));
};

/** The extend form of one bid; `update` with each fresh read of the bid (shown only to its client). */
export function extendForm(app: App, bidId: bigint): { form: HTMLElement; update(bid: Bid, mine: boolean): void } {
  const epochs = h("input", { name: "extend-epochs", type: "number", min: 1, value: 100, required: true, "data-testid": "bid-extend-epochs" });
  const cost = h("dd", { "data-testid": "bid-extend-cost" });
  const go = h("button", { type: "submit", class: "primary", "data-testid": "bid-extend" }, "Extend");
  const form = h(
    "form",
    { class: "card", hidden: true, "aria-label": `Extend bid #${bidId}` },
    h("h3", {}, "Extend the open slots"),
    field("Extra epochs", epochs, "Adds epochs to the slots still waiting for a hoster. A filled deal keeps the end fixed when it was filled."),
    h("dl", { class: "pairs" }, h("dt", {}, "Cost"), cost),
    go,
  );
  let bid: Bid | null = null;
  const quote = (): { slots: number; extra: number; total: bigint } | null => {
    const extra = Number(epochs.value);
    if (!bid || !Number.isInteger(extra) || extra < 1) return null;
    const slots = waitingSlots(bid).length;
    return { slots, extra, total: bid.pricePerEpoch * BigInt(slots) * BigInt(extra) };
  };
  const render = (): void => {
    const q = quote();
    go.disabled = !q;
    cost.dataset.wei = q ? q.total.toString() : "";
    replace(cost, q ? `${eth(q.total, 18)} (${q.slots} open slot${q.slots === 1 ? "" : "s"} × ${q.extra} epochs × ${eth(bid!.pricePerEpoch, 9)})` : "—");
    go.textContent = q ? `Extend: pay ${eth(q.total)}` : "Extend";
  };
  epochs.addEventListener("input", render);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = quote();
    if (!q) return;
    go.disabled = true;
    app.txs
      .send({ label: `Extend bid #${bidId} by ${q.extra} epochs`, address: app.chain.market, abi: marketAbi, functionName: "extend", args: [bidId, q.extra], value: q.total })
      .catch(() => undefined) // the transaction list says why
      .finally(render);
  });
  return {
    form,
    update(next, mine) {
      const changed = !bid || waitingSlots(bid).length !== waitingSlots(next).length || bid.pricePerEpoch !== next.pricePerEpoch;
      bid = next;
      form.hidden = !mine || waitingSlots(next).length === 0;
      if (changed) render();
    },
  };
}
