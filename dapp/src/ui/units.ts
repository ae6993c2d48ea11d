// Prices and durations as the SDK reads them (scatter/sdk/units.py): prices per GiB of slot per
// epoch (an empty field: the default, ../chain/pricing.ts), durations rounded up to whole epochs.
import { parseUnits } from "viem";

export const DURATION_UNITS = { epochs: 0, hours: 3600, days: 86400, weeks: 604800 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

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

/** A price field: wei per GiB-epoch, or null when empty (the default). */
export function typedPrice(text: string): bigint | null {
  if (text.trim() === "") return null;
  const wei = gweiToWei(text);
  if (wei <= 0n) throw new Error("The price must be above zero, e.g. 2 (gwei); leave it empty for the default.");
  return wei;
}
