// The price a bid names: the user's, or a default that pays the hosters' gas (a port of
// scatter/sdk/pricing.py; the same vectors check both). Per slot-epoch, for the bid's slot size
// and duration, the default is
//
//     max(1 gwei/GiB-epoch x size / GiB,  MARGIN x the hosters' break-even per slot-epoch)
//
// at the chain's gas price (the latest block's base fee + eth_maxPriorityFeePerGas) and block time
// (the mean over the last 100 blocks), with the hoster daemon's default settle_every and batch.
// A typed price is used as given; below the break-even the page warns (hosters with the default
// filter skip it) with the SDK's words.
import type { Client } from "viem";
import { getBlock } from "viem/actions";
import { breakEvenPrice, BLOCK_SECONDS, DEFAULT_BATCH, DEFAULT_SETTLE_EVERY, GIB, type EconomicsParams } from "./economics";

/** The default price is this many times the hosters' break-even (scatter/sdk/pricing.py says why). */
export const MARGIN = 2n;
/** The floor of the default price: wei per GiB of slot per epoch (1 gwei). */
export const DEFAULT_PRICE_PER_GIB_EPOCH = 1_000_000_000n;
const GWEI = 1_000_000_000n;

/** The contract's price per slot per epoch: ceil(perGib x size / GiB), at least 1 wei. */
export function slotPrice(perGibWei: bigint, size: bigint): bigint {
  if (perGibWei <= 0n) throw new Error("The price must be above zero; leave it empty for the default.");
  const p = (perGibWei * size + GIB - 1n) / GIB;
  return p < 1n ? 1n : p;
}

export interface Market {
  gasPrice: bigint; // wei per gas
  blockSeconds: number;
  block: bigint; // the block both were read at
}

/** The lowest price per slot-epoch a hoster with the default filter takes. */
export function breakEvenSlotPrice(params: EconomicsParams, { size, duration, gasPrice, blockSeconds }: { size: bigint; duration: number; gasPrice: bigint; blockSeconds: number }): bigint {
  const perGib = breakEvenPrice(params, { size, duration, gasPrice, settleEvery: DEFAULT_SETTLE_EVERY, batch: DEFAULT_BATCH, blockSeconds });
  return (perGib * size + GIB - 1n) / GIB;
}

/** The default price per slot-epoch: the larger of 1 gwei per GiB-epoch and MARGIN x the break-even. */
export function defaultSlotPrice(params: EconomicsParams, args: { size: bigint; duration: number; gasPrice: bigint; blockSeconds: number }): bigint {
  const floor = slotPrice(DEFAULT_PRICE_PER_GIB_EPOCH, args.size);
  const gas = MARGIN * breakEvenSlotPrice(params, args);
  return floor > gas ? floor : gas;
}

/** The price of one bid, and what it was measured against. */
export class BidPrice {
  constructor(
    readonly perSlotEpoch: bigint, // wei: what the bid names
    readonly breakEven: bigint, // wei per slot-epoch: the hosters' default filter takes no less
    readonly gasPrice: bigint,
    readonly isDefault: boolean, // no price was typed
    readonly block: bigint = 0n,
  ) {}

  get belowBreakEven(): boolean {
    return this.perSlotEpoch < this.breakEven;
  }

  escrow(slots: number, epochs: number): bigint {
    return this.perSlotEpoch * BigInt(slots) * BigInt(epochs);
  }

  /** What the SDK's PriceWarning says about this price. */
  belowBreakEvenMessage(): string {
    return (
      `price ${this.perSlotEpoch} wei/slot/epoch is below the hosters' break-even (${this.breakEven} ` +
      `at ${gweiText(this.gasPrice)} gwei gas): hosters with the default filter will not take it; ` +
      "leave out the price for the default"
    );
  }

  /** Why this price: "default: 2x the hosters' break-even at 1 gwei gas" and the like. */
  why(): string {
    const gas = `${gweiText(this.gasPrice)} gwei gas`;
    if (this.isDefault && this.perSlotEpoch > this.breakEven * MARGIN) return `default: the 1 gwei/GiB-epoch floor, above ${MARGIN}× the break-even at ${gas}`;
    if (this.isDefault) return `default: ${MARGIN}× the hosters' break-even at ${gas}`;
    return `as typed; break-even ${this.breakEven} wei at ${gas}`;
  }
}

/** The gas price and block time the default is computed at: one read of the latest block. */
export async function readMarket(client: Client): Promise<Market> {
  const head = await getBlock(client, { blockTag: "latest" });
  const tip = BigInt(await client.request({ method: "eth_maxPriorityFeePerGas" } as never));
  let blockSeconds = BLOCK_SECONDS;
  if (head.number >= 2n) {
    const then = await getBlock(client, { blockNumber: head.number > 100n ? head.number - 100n : 0n });
    blockSeconds = Math.max(Number(head.timestamp - then.timestamp) / Number(head.number - then.number), 1.0);
  }
  return { gasPrice: (head.baseFeePerGas ?? 0n) + tip, blockSeconds, block: head.number };
}

/** The price of a bid of `size`-byte slots held `duration` epochs: `perGibEpoch` (wei) when typed, else the default. */
export function priceBid(params: EconomicsParams, market: Market, { size, duration, perGibEpoch }: { size: bigint; duration: number; perGibEpoch: bigint | null }): BidPrice {
  const args = { size, duration, gasPrice: market.gasPrice, blockSeconds: market.blockSeconds };
  const breakEven = breakEvenSlotPrice(params, args);
  const perSlot = perGibEpoch === null ? defaultSlotPrice(params, args) : slotPrice(perGibEpoch, size);
  return new BidPrice(perSlot, breakEven, market.gasPrice, perGibEpoch === null, market.block);
}

/** Hosters whose free stake covers one slot's collateral (price x duration x collateralBps). */
export function collateralOf(perSlotEpoch: bigint, duration: number, collateralBps: number): bigint {
  return (perSlotEpoch * BigInt(duration) * BigInt(collateralBps)) / 10_000n;
}

// ------------------------------------------------------------------ Python's "%.3g" of gas / GWEI

/** `f"{gas_price / GWEI:.3g}"` exactly as Python writes it (the warning names the gas price so). */
export function gweiText(gasPrice: bigint): string {
  return formatG3(Number(gasPrice) / Number(GWEI)); // both exact below 2^53; one rounding, as Python's int / int
}

/** Python's `format(x, ".3g")` for x >= 0: 3 significant digits, halves to even on exact ties. */
export function formatG3(x: number): string {
  if (x === 0) return "0";
  const [mantissa, exp] = x.toExponential(2).split("e") as [string, string];
  let digits = Number(mantissa.replace(".", "")); // 100..999
  let e = Number(exp);
  // toExponential rounds an exact tie up; Python rounds it to the even neighbour.
  const below = digits - 1;
  if (below >= 100 && below % 2 === 0 && isExactly(x, BigInt(2 * below + 1), e - 2, 2n)) digits = below;
  if (digits >= 1000) {
    digits /= 10;
    e += 1;
  }
  const text = String(digits);
  if (e < -4 || e >= 3) {
    const frac = text.slice(1).replace(/0+$/, "");
    return `${text[0]}${frac ? "." + frac : ""}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  if (e === 2) return text;
  const fixed = e >= 0 ? `${text.slice(0, e + 1)}.${text.slice(e + 1)}` : `0.${"0".repeat(-e - 1)}${text}`;
  return fixed.replace(/0+$/, "").replace(/\.$/, "");
}

/** Whether the double `x` is exactly num x 10^pow10 / den. */
function isExactly(x: number, num: bigint, pow10: number, den: bigint): boolean {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const rawExp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = rawExp === 0 ? frac : frac | (1n << 52n);
  const e2 = (rawExp === 0 ? 1 : rawExp) - 1075; // x = m x 2^e2
  // m x 2^e2 x den == num x 10^pow10, cross-multiplied into integers
  let left = m * den;
  let right = num;
  if (e2 >= 0) left <<= BigInt(e2);
  else right <<= BigInt(-e2);
  if (pow10 >= 0) right *= 10n ** BigInt(pow10);
  else left *= 10n ** BigInt(-pow10);
  return left === right;
}
