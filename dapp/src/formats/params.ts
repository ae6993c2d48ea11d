/** Erasure and encryption parameters (scatter/formats/params.py): configuration, recorded in headers. */
import { InvalidParametersError } from "./errors";

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const DEFAULT_K = 3;
export const DEFAULT_N = 6;
export const DEFAULT_SEGMENT_SIZE = MIB;
export const DEFAULT_BLOCK_SIZE = MIB;
export const AUTO_STRIPE_BUDGET = 32 * MIB;
export const MIN_SEGMENT_SIZE = 4 * KIB;
export const MAX_SEGMENT_SIZE = 64 * MIB;
export const MIN_BLOCK_SIZE = 64;
export const MAX_BLOCK_SIZE = 64 * MIB;
export const MAX_SHARDS = 256;

/** Erasure codec id, as written in every shard header. */
export const Codec = { ZFEC: 1, REPLICATION: 2 } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];

export interface ErasureParams {
  readonly k: number;
  readonly n: number;
  /** Bytes each shard gets per stripe. */
  readonly blockSize: number;
  readonly codec: Codec;
}

/** 1 MiB, halved until n blocks fit in 32 MiB (never under 64 KiB). */
export function autoBlockSize(n: number): number {
  let size = DEFAULT_BLOCK_SIZE;
  while (size > 64 * KIB && n * size > AUTO_STRIPE_BUDGET) size /= 2;
  return size;
}

/** Checked parameters; `blockSize` defaults to autoBlockSize(n), `codec` to zfec (replication when k = 1 and asked). */
export function erasureParams(p: { k: number; n: number; blockSize?: number; codec?: Codec }): ErasureParams {
  const { k, n } = p;
  const blockSize = p.blockSize ?? autoBlockSize(n);
  const codec = p.codec ?? Codec.ZFEC;
  if (!(Number.isInteger(k) && Number.isInteger(n) && 1 <= k && k <= n && n <= MAX_SHARDS)) {
    throw new InvalidParametersError(
      `invalid shards ${k}/${n}: need 1 <= k <= n <= ${MAX_SHARDS}, e.g. --shards 3/6`,
    );
  }
  if (!(Number.isInteger(blockSize) && MIN_BLOCK_SIZE <= blockSize && blockSize <= MAX_BLOCK_SIZE)) {
    throw new InvalidParametersError(`invalid block size ${blockSize}: use ${MIN_BLOCK_SIZE}..${MAX_BLOCK_SIZE} bytes`);
  }
  if (codec !== Codec.ZFEC && codec !== Codec.REPLICATION) {
    throw new InvalidParametersError(`unknown erasure codec ${String(codec)}`);
  }
  if (codec === Codec.REPLICATION && k !== 1) {
    throw new InvalidParametersError(
      `replication stores whole copies, so k must be 1 (got ${k}/${n}); use --shards 1/${n}`,
    );
  }
  return { k, n, blockSize, codec };
}

/** "k/n" as the CLI reads it: "1/n" means n plain copies (replication). */
export function parseShards(text: string, blockSize?: number): ErasureParams {
  const m = /^\s*(\d{1,3})\s*\/\s*(\d{1,3})\s*$/.exec(text);
  if (m === null) throw new InvalidParametersError(`invalid shards '${text}': write k/n, e.g. 3/6 (or 1/3 for 3 copies)`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  const codec = k === 1 ? Codec.REPLICATION : Codec.ZFEC;
  return erasureParams(blockSize === undefined ? { k, n, codec } : { k, n, blockSize, codec });
}

export function checkSegmentSize(segmentSize: number): number {
  if (!(Number.isInteger(segmentSize) && MIN_SEGMENT_SIZE <= segmentSize && segmentSize <= MAX_SEGMENT_SIZE)) {
    throw new InvalidParametersError(
      `invalid segment size ${segmentSize}: use ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE} bytes`,
    );
  }
  return segmentSize;
}
