// Whether a slot pays: the gas a hoster spends on it against what it earns (a port of
// scatter/chain/economics.py, checked case by case against tests/testdata/pricing_vectors.json).
// Integers are bigints; the audit term is a double computed in Python's order of operations and
// rounded half to even, as Python's round() does, so both sides agree to the wei.

/** The model's constants (scatter/chain/economics.py: change both, then regenerate the vectors). */
export const TX_BASE = 21_000n;
export const RESERVE = 64_968n + 1_000n + TX_BASE;
export const FILL = 143_674n + 45_936n + TX_BASE;
export const SETTLE_ITEM = 44_639n + 3_500n;
export const SETTLE_FIXED = 25_025n + TX_BASE;
export const PROVE_ALONE = 28_115n + 45_668n + TX_BASE;
/** Seconds per block when the chain does not say (Ethereum and Sepolia). */
export const BLOCK_SECONDS = 12.0;
export const DEFAULT_BATCH = 10;
/** The hoster daemon's default `settle_every`. */
export const DEFAULT_SETTLE_EVERY = 2;
export const GIB = 1n << 30n;

/** The Market parameters the model reads. */
export interface EconomicsParams {
  epochSeconds: number;
  missedQuorumEpochs: number;
  auditBps: number;
  auditEveryBlocks: number;
  validatorFeeBps: number;
}

export interface SlotGas {
  reserve: bigint;
  fill: bigint;
  settlements: bigint;
  proofs: bigint;
  total: bigint;
}

/** ceil(a / b) for a >= 0, b > 0 (bigint division truncates: -(-a / b) would be the floor). */
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** Python's round() of a float: to the nearest integer, halves to the even one. */
export function roundHalfEven(x: number): bigint {
  if (!Number.isFinite(x)) throw new RangeError(`cannot round ${x}`);
  const f = Math.floor(x);
  const d = x - f; // exact (Sterbenz)
  const r = d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
  return BigInt(r);
}

/** The hoster's `settle_every` as the daemon applies it (at least 1, settled before a proof request opens). */
export function settleRangeEpochs(params: EconomicsParams, settleEvery: number): number {
  return Math.max(1, Math.min(settleEvery, params.missedQuorumEpochs - 2));
}

/** The gas of taking one slot held `duration` epochs, settled every `settleEvery` epochs in batches of `batch`. */
export function slotGas(
  params: EconomicsParams,
  { duration, settleEvery, batch = DEFAULT_BATCH, blockSeconds = BLOCK_SECONDS }: { duration: number; settleEvery: number; batch?: number; blockSeconds?: number },
): SlotGas {
  const every = BigInt(settleRangeEpochs(params, settleEvery));
  const epochs = Math.max(duration, 1);
  const settlements = ceilDiv(BigInt(epochs), every);
  const perSettlement = SETTLE_ITEM + ceilDiv(SETTLE_FIXED, BigInt(Math.max(batch, 1)));
  // Python: blocks = max(duration, 1) * epoch_seconds / max(block_seconds, 1e-9) (an int, then a float)
  const blocks = (epochs * params.epochSeconds) / Math.max(blockSeconds, 1e-9);
  const audits = ((blocks / Math.max(params.auditEveryBlocks, 1)) * params.auditBps) / 10_000;
  const gas = { reserve: RESERVE, fill: FILL, settlements: settlements * perSettlement, proofs: roundHalfEven(audits * Number(PROVE_ALONE)) };
  return { ...gas, total: gas.reserve + gas.fill + gas.settlements + gas.proofs };
}

/** The lowest price in wei per GiB-epoch at which a slot of `size` bytes held `duration` epochs
 * earns (after the validators' fee) at least the gas it costs at `gasPrice`; rounded up. */
export function breakEvenPrice(
  params: EconomicsParams,
  { size, duration, gasPrice, settleEvery, batch = DEFAULT_BATCH, blockSeconds = BLOCK_SECONDS }: { size: bigint; duration: number; gasPrice: bigint; settleEvery: number; batch?: number; blockSeconds?: number },
): bigint {
  const gas = slotGas(params, { duration, settleEvery, batch, blockSeconds });
  const cost = gas.total * gasPrice;
  const keep = BigInt(10_000 - params.validatorFeeBps);
  const paidUnits = (size > 1n ? size : 1n) * BigInt(Math.max(duration, 1)) * keep; // byte-epochs x bps
  return ceilDiv(cost * GIB * 10_000n, paidUnits);
}
