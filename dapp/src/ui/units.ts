// Prices and durations as the SDK reads them (scatter/sdk/units.py): prices per GiB of slot per
// epoch, durations rounded up to whole epochs.
import { parseUnits } from "viem";

export const GIB = 1n << 30n;
export const DEFAULT_PRICE_GWEI = "1";
export const DURATION_UNITS = { epochs: 0, hours: 3600, days: 86400, weeks: 604800 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/** The contract's price per slot per epoch: ceil(perGib × size / GiB), at least 1 wei. */
export function slotPrice(perGibWei: bigint, size: bigint): bigint {
  if (perGibWei <= 0n) throw new Error("The price must be above zero.");
  const p = (perGibWei * size + GIB - 1n) / GIB;
  return p < 1n ? 1n : p;
}

export function epochsOf(amount: number, unit: DurationUnit, epochSeconds: number): number {
  if (!Number.isFinite(amount) || amount <= 0) throw new Error("The duration must be above zero.");
  if (unit === "epochs") return Math.ceil(amount);
  return Math.ceil((amount * DURATION_UNITS[unit]) / epochSeconds);
}

export function gweiToWei(text: string): bigint {
  try {
    return parseUnits(text.trim(), 9);
  } catch {
    throw new Error(`${text} is not an amount of gwei.`);
  }
}
