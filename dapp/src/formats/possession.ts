/**
 * Possession tree, format version 2 (docs/trust.md "Possession tree", scatter/formats/possession.py):
 * the shard's bytes in 128-byte segments (the last zero-padded), H(x) = keccak256(x)[0:20], leaves
 * H(segment), nodes H(left || right), 2^D leaves with D = max(1, ceil(log2 N)) (zero segments past
 * N), root = bytes32(bytes20 node): the top node then 12 zero bytes (Market VERSION 3 refuses any
 * other). Roots only: the dapp builds no proofs (hosters do). Hashing runs in scatter.wasm
 * (merkle_simd.c), a 256 KiB subtree per call.
 */
import { type Bytes, concat, type Hex, toHex } from "./bytes";
import { Chunker } from "./chunker";
import { FormatError } from "./errors";
import { loadWasm, type ScatterWasm } from "./wasm";

export const POSSESSION_VERSION = 2;
export const SEGMENT = 128;
/** Bytes kept of each keccak256 digest (leaf and inner node). */
export const NODE = 20;
export const ROOT_SIZE = 32;
/** Height of the subtrees hashed in one call (2048 segments, 256 KiB). */
const CHUNK_HEIGHT = 11;
const CHUNK = SEGMENT << CHUNK_HEIGHT;

export function segmentCount(size: number): number {
  if (size <= 0) throw new FormatError(`a possession tree needs at least one byte, not ${size}`);
  return Math.ceil(size / SEGMENT);
}

/** D = max(1, ceil(log2 N)). */
export function depth(size: number): number {
  const n = segmentCount(size);
  let d = 0;
  while (2 ** d < n) d++;
  return Math.max(1, d);
}

class Hasher {
  private readonly zeros: Bytes[] = [];
  constructor(private readonly wasm: ScatterWasm) {}

  /** H(data) for a short input (a pair of nodes, or one segment). */
  h(data: Bytes): Bytes {
    const input = this.wasm.scratch("keccak-in", 256);
    const out = this.wasm.scratch("keccak-out", 32);
    input.view(data.length).set(data);
    this.wasm.exports.keccak256(input.ptr, data.length, out.ptr);
    return out.view(NODE).slice();
  }

  /** The node over 2^height segments. */
  subtree(segments: Bytes, height: number): Bytes {
    const input = this.wasm.scratch("merkle-in", CHUNK);
    const tmp = this.wasm.scratch("merkle-tmp", NODE << CHUNK_HEIGHT);
    input.view(segments.length).set(segments);
    this.wasm.exports.subtree_root(input.ptr, height, tmp.ptr);
    return tmp.view(NODE).slice();
  }

  /** The node over 2^level zero segments (the tree's padding). */
  zero(level: number): Bytes {
    while (this.zeros.length <= level) {
      const below = this.zeros[this.zeros.length - 1];
      this.zeros.push(below === undefined ? this.h(new Uint8Array(SEGMENT)) : this.h(concat([below, below])));
    }
    return this.zeros[level] as Bytes;
  }
}

/** Streams a shard's bytes into its possession root; memory O(log N) plus one 256 KiB chunk. */
export class PossessionRoot {
  private readonly chunker = new Chunker(CHUNK);
  /** levels[l]: a left node at level l waiting for its right sibling (a binary counter). */
  private readonly levels: (Bytes | null)[] = [];
  private result: Bytes | null = null;
  size = 0;

  private constructor(private readonly hasher: Hasher) {}

  static async create(): Promise<PossessionRoot> {
    return new PossessionRoot(new Hasher(await loadWasm()));
  }

  update(data: Bytes): void {
    if (this.result !== null) throw new FormatError("PossessionRoot.update after finish");
    this.size += data.length;
    for (const chunk of this.chunker.push(data)) this.push(this.hasher.subtree(chunk, CHUNK_HEIGHT));
  }

  private push(node: Bytes): void {
    let level = CHUNK_HEIGHT;
    let carry = node;
    for (;;) {
      while (this.levels.length <= level) this.levels.push(null);
      const left = this.levels[level] ?? null;
      if (left === null) {
        this.levels[level] = carry;
        return;
      }
      this.levels[level] = null;
      carry = this.hasher.h(concat([left, carry]));
      level++;
    }
  }

  /** The root as 32 bytes (the 20-byte node, then 12 zero bytes). */
  finish(): Bytes {
    if (this.result !== null) return this.result;
    const d = depth(this.size);
    const rest = this.chunker.rest();
    if (d < CHUNK_HEIGHT) {
      // Everything is in the rest: one subtree of 2^d padded segments.
      const segments = new Uint8Array(SEGMENT << d);
      segments.set(rest);
      return (this.result = asRoot(this.hasher.subtree(segments, d)));
    }
    if (rest.length > 0) {
      const padded = new Uint8Array(CHUNK); // zero segments past N are the tree's own padding
      padded.set(rest);
      this.push(this.hasher.subtree(padded, CHUNK_HEIGHT));
    }
    while (this.levels.length <= d) this.levels.push(null);
    let carry: Bytes | null = null;
    for (let level = CHUNK_HEIGHT; level < d; level++) {
      const left = this.levels[level] ?? null;
      if (left !== null) carry = this.hasher.h(concat([left, carry ?? this.hasher.zero(level)]));
      else if (carry !== null) carry = this.hasher.h(concat([carry, this.hasher.zero(level)]));
    }
    const top = carry ?? this.levels[d] ?? null;
    if (top === null) throw new FormatError("possession tree: no top node (internal error)");
    return (this.result = asRoot(top));
  }
}

function asRoot(node: Bytes): Bytes {
  const out = new Uint8Array(ROOT_SIZE);
  out.set(node);
  return out;
}

/** A root of format 2 as a bid takes it: 32 bytes, the last 12 zero (a format-1 root is refused). */
export function rootHex(root: Bytes): Hex {
  if (root.length !== ROOT_SIZE || root.subarray(NODE).some((b) => b !== 0)) {
    throw new FormatError(`not a possession root of format ${POSSESSION_VERSION}: need ${ROOT_SIZE} bytes whose last ${ROOT_SIZE - NODE} are zero, got 0x${toHex(root)}`);
  }
  return `0x${toHex(root)}`;
}

/** The root of a whole buffer. */
export async function possessionRoot(data: Bytes): Promise<Bytes> {
  const builder = await PossessionRoot.create();
  builder.update(data);
  return builder.finish();
}
