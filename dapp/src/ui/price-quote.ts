// The price part of a "Before you sign" card (Store and Pin): the typed price or the default
// (2x the hosters' break-even at the chain's gas price, ../chain/pricing.ts), the escrow, and the
// SDK's two warnings: a typed price below the break-even, and too few hosters with the free
// stake one slot's collateral locks. Everything here is read before anything is signed.
import { Role } from "../chain/market";
import { GIB } from "../chain/economics";
import { collateralOf, priceBid, readMarket, type BidPrice } from "../chain/pricing";
import type { App } from "./app";
import { eth, h } from "./dom";
import { typedPrice } from "./units";

export interface PriceQuote {
  price: BidPrice;
  /** Wei per GiB-epoch: as typed, or the default's (rounded down: on chain the price is per slot). */
  perGibEpoch: bigint;
  escrow: bigint;
  /** The collateral warning, or null when enough hosters can take the slots. */
  collateral: string | null;
}

/** The price field: empty means the default. */
export function priceInput(testid: string): HTMLInputElement {
  return h("input", { name: "price", inputmode: "decimal", placeholder: "default: pays the hosters' gas", autocomplete: "off", "data-testid": testid });
}

/** Price `slots` slots of `size` bytes held `epochs` epochs at the typed price (`text`) or the default. */
export async function quotePrice(app: App, { text, size, epochs, slots }: { text: string; size: bigint; epochs: number; slots: number }): Promise<PriceQuote> {
  const perGib = typedPrice(text); // a typo fails here, before any read
  const [params, market, hosters] = await Promise.all([app.reader.params(), readMarket(app.reader.client), app.reader.nodes(Role.Hoster)]);
  const price = priceBid(params, market, { size, duration: epochs, perGibEpoch: perGib });
  const need = collateralOf(price.perSlotEpoch, epochs, params.collateralBps);
  const able = hosters.filter((n) => n.status === "active" && n.stake - n.locked >= need).length;
  let collateral: string | null = null;
  if (hosters.length === 0) collateral = `no hoster is registered on this market yet: the bid's ${slots} slots stay open until some join`;
  else if (able < slots)
    collateral =
      `each slot locks ${eth(need, 18)} of its hoster's stake as collateral and only ${able} of ${hosters.length} hosters ` +
      `have that much free, fewer than the bid's ${slots} slots: the slots may stay open; shorten the duration`;
  const perGibEpoch = perGib ?? (price.perSlotEpoch * GIB) / (size > 0n ? size : 1n);
  return { price, perGibEpoch, escrow: price.escrow(slots, epochs), collateral };
}

/** The card's price rows (a <dl>'s dt/dd pairs); `prefix` names the test ids. */
export function priceRows(q: PriceQuote, slotName: string, prefix: string): HTMLElement[] {
  const p = q.price;
  return [
    h("dt", {}, `Price per ${slotName} per epoch`),
    h("dd", { "data-testid": `${prefix}-price-slot`, "data-wei": p.perSlotEpoch.toString(), "data-default": String(p.isDefault), "data-block": p.block.toString() }, `${eth(p.perSlotEpoch, 9)} (${p.why()}; block ${p.block})`),
    h("dt", {}, "Price per GiB per epoch"),
    h("dd", { "data-testid": `${prefix}-price-gib` }, `${p.isDefault ? "≈ " : ""}${eth(q.perGibEpoch, 9)}`),
    h("dt", {}, "Hosters' break-even"),
    h("dd", { "data-testid": `${prefix}-break-even`, "data-wei": p.breakEven.toString() }, `${eth(p.breakEven, 9)} per ${slotName} per epoch`),
  ];
}

/** The warnings under the card's pairs (a price below the break-even; too little free stake). */
export function priceWarnings(q: PriceQuote, prefix: string): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (q.price.belowBreakEven) out.push(h("p", { class: "notice warn", role: "alert", "data-testid": `${prefix}-price-warning` }, q.price.belowBreakEvenMessage()));
  if (q.collateral) out.push(h("p", { class: "notice warn", role: "alert", "data-testid": `${prefix}-collateral-warning` }, q.collateral));
  return out;
}
