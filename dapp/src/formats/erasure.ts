/**
 * k-of-n erasure coding of a ciphertext into shards, SCSH v1 (scatter/formats/erasure.py,
 * shard_schema.py, docs/formats.md section 2):
 *
 *   shard  = header | block_0 | ... | block_{s-1}
 *   header = "SCSH" | version 1 | codec u8 | k u16 | n u16 | index u16 | block_size u32
 *            | ciphertext_length u64 | file_id[16]                                       (40 bytes)
 *
 * Stripes of k * block_size ciphertext bytes (the last one shorter, blocks of ceil(tail/k) bytes,
 * zero-padded); zfec (compiled from its own C) makes n blocks of each; shard i gets block i.
 */
import { type Bytes, concat, equal, getUint, putUint, sha256, utf8 } from "./bytes";
import { FormatError, InvalidParametersError, MismatchedShardsError, NotEnoughShardsError, TruncatedError, TruncatedShardError, UnsupportedVersionError } from "./errors";
import { Codec, type ErasureParams, erasureParams } from "./params";
import { loadWasm, type ScatterWasm } from "./wasm";

export const MAGIC = utf8("SCSH");
export const VERSION = 1;
export const HEADER_SIZE = 40;
export const FILE_ID_SIZE = 16;

export interface ShardHeader {
  codec: Codec;
  k: number;
  n: number;
  index: number;
  blockSize: number;
  ciphertextLength: number;
  fileId: Bytes;
  version: number;
}

export function packShardHeader(h: ShardHeader): Bytes {
  const out = new Uint8Array(HEADER_SIZE);
  out.set(MAGIC, 0);
  out[4] = h.version;
  out[5] = h.codec;
  putUint(out, 6, 2, h.k);
  putUint(out, 8, 2, h.n);
  putUint(out, 10, 2, h.index);
  putUint(out, 12, 4, h.blockSize);
  putUint(out, 16, 8, h.ciphertextLength);
  out.set(h.fileId, 24);
  return out;
}

export function unpackShardHeader(data: Bytes): ShardHeader {
  if (data.length < 5 || !equal(data.subarray(0, 4), MAGIC)) {
    throw new FormatError("not a Scatter shard (magic is not 'SCSH'); check the file or CID");
  }
  if (data[4] !== VERSION) throw new UnsupportedVersionError("shard format", data[4] ?? -1, [VERSION]);
  if (data.length < HEADER_SIZE) {
    throw new TruncatedError(`shard header truncated: ${data.length} of ${HEADER_SIZE} bytes; fetch the shard again`);
  }
  const codec = data[5] ?? 0;
  if (codec !== Codec.ZFEC && codec !== Codec.REPLICATION) {
    throw new UnsupportedVersionError("erasure codec", codec, [Codec.ZFEC, Codec.REPLICATION]);
  }
  const h: ShardHeader = {
    codec,
    k: getUint(data, 6, 2),
    n: getUint(data, 8, 2),
    index: getUint(data, 10, 2),
    blockSize: getUint(data, 12, 4),
    ciphertextLength: getUint(data, 16, 8),
    fileId: data.slice(24, 40),
    version: VERSION,
  };
  try {
    paramsOf(h);
  } catch (e) {
    throw new FormatError(`shard header: ${(e as Error).message}; the shard is damaged`);
  }
  if (h.index >= h.n) throw new FormatError(`shard header: index ${h.index} out of range for n=${h.n}`);
  return h;
}

export const paramsOf = (h: ShardHeader): ErasureParams =>
  erasureParams({ k: h.k, n: h.n, blockSize: h.blockSize, codec: h.codec });

/** Everything but the index: equal for all shards of one encoding of one file. */
const family = (h: ShardHeader): string =>
  `${h.version}/${h.codec}/${h.k}/${h.n}/${h.blockSize}/${h.ciphertextLength}/${h.fileId.join(",")}`;

/** The stripes of a ciphertext: fully determined by (k, block_size, ciphertext_length). */
export class StripeLayout {
  constructor(
    readonly k: number,
    readonly blockSize: number,
    readonly ciphertextLength: number,
  ) {}
  get stripeSize(): number {
    return this.k * this.blockSize;
  }
  get fullStripes(): number {
    return Math.floor(this.ciphertextLength / this.stripeSize);
  }
  get tailLength(): number {
    return this.ciphertextLength % this.stripeSize;
  }
  get tailBlockSize(): number {
    return Math.ceil(this.tailLength / this.k);
  }
  get stripeCount(): number {
    return this.fullStripes + (this.tailLength ? 1 : 0);
  }
  /** Total bytes of each shard, header included. */
  get shardLength(): number {
    return HEADER_SIZE + this.fullStripes * this.blockSize + this.tailBlockSize;
  }
  /** [block size, ciphertext bytes] of stripe s. */
  stripe(s: number): [number, number] {
    return s < this.fullStripes ? [this.blockSize, this.stripeSize] : [this.tailBlockSize, this.tailLength];
  }
}

export const fileIdOf = async (firstStripe: Bytes): Promise<Bytes> => (await sha256(firstStripe)).slice(0, FILE_ID_SIZE);

/** One stripe in, n blocks out (and back): zfec in wasm, or copies for replication. */
export class StripeCodec {
  private constructor(
    readonly params: ErasureParams,
    private readonly wasm: ScatterWasm,
  ) {}

  static async create(params: ErasureParams): Promise<StripeCodec> {
    return new StripeCodec(params, await loadWasm());
  }

  /** The n blocks of a stripe of exactly k * block bytes (views of `stripe` for the data blocks). */
  encode(stripe: Bytes, block: number): Bytes[] {
    const { k, n, codec } = this.params;
    if (codec === Codec.REPLICATION) return Array.from({ length: n }, () => stripe);
    const data = Array.from({ length: k }, (_, j) => stripe.subarray(j * block, (j + 1) * block));
    if (n === k) return data;
    const code = this.wasm.zfecCode(k, n);
    const input = this.wasm.scratch("zfec-in", k * block);
    const output = this.wasm.scratch("zfec-out", (n - k) * block);
    input.view(k * block).set(stripe);
    this.wasm.exports.zf_encode(code, input.ptr, output.ptr, block);
    const parity = output.view((n - k) * block).slice();
    for (let i = 0; i < n - k; i++) data.push(parity.subarray(i * block, (i + 1) * block));
    return data;
  }

  /** The k data blocks of a stripe from k blocks with these (distinct) shard indexes. */
  decode(blocks: Bytes[], indexes: number[], block: number): Bytes[] {
    const { k, n, codec } = this.params;
    if (codec === Codec.REPLICATION) return [blocks[0] as Bytes];
    if (indexes.every((ix, pos) => ix === pos)) return blocks;
    const code = this.wasm.zfecCode(k, n);
    const input = this.wasm.scratch("zfec-in", k * block);
    const idx = this.wasm.scratch("zfec-idx", 4 * k);
    const output = this.wasm.scratch("zfec-dec", k * block);
    const view = input.view(k * block);
    blocks.forEach((b, pos) => view.set(b, pos * block));
    new Uint32Array(this.wasm.exports.memory.buffer, idx.ptr, k).set(indexes);
    this.wasm.exports.zf_decode(code, input.ptr, idx.ptr, output.ptr, block);
    const out = output.view(k * block).slice();
    return Array.from({ length: k }, (_, j) => out.subarray(j * block, (j + 1) * block));
  }
}

/**
 * Turns a ciphertext of known length into n shards, one stripe at a time: each returned item is
 * n pieces, piece i appended to shard i; the first item is the n headers.
 */
export class ShardEncoder {
  readonly layout: StripeLayout;
  private stripeBuf: Bytes = new Uint8Array(0);
  private fill = 0;
  private stripeIndex = 0;
  private received = 0;
  private headersSent = false;
  private done = false;

  private constructor(
    readonly params: ErasureParams,
    ciphertextLength: number,
    private readonly codec: StripeCodec,
  ) {
    this.layout = new StripeLayout(params.k, params.blockSize, ciphertextLength);
    this.nextStripe();
  }

  static async create(params: ErasureParams, ciphertextLength: number): Promise<ShardEncoder> {
    if (!(ciphertextLength >= 0)) throw new InvalidParametersError("ciphertext length must be >= 0");
    return new ShardEncoder(params, ciphertextLength, await StripeCodec.create(params));
  }

  headers(fileId: Bytes): Bytes[] {
    const p = this.params;
    return Array.from({ length: p.n }, (_, index) =>
      packShardHeader({ ...p, index, ciphertextLength: this.layout.ciphertextLength, fileId, version: VERSION }),
    );
  }

  private nextStripe(): void {
    if (this.stripeIndex >= this.layout.stripeCount) return;
    const [block] = this.layout.stripe(this.stripeIndex);
    this.stripeBuf = new Uint8Array(block * this.params.k); // zero padding included
    this.fill = 0;
  }

  async update(data: Bytes): Promise<Bytes[][]> {
    if (this.done) throw new InvalidParametersError("shard encoder already finalized");
    this.received += data.length;
    if (this.received > this.layout.ciphertextLength) {
      throw new InvalidParametersError(
        `more ciphertext than announced (${this.received} > ${this.layout.ciphertextLength} bytes); ` +
          "did the input change while encoding?",
      );
    }
    const out: Bytes[][] = [];
    let pos = 0;
    while (pos < data.length) {
      const [block, length] = this.layout.stripe(this.stripeIndex);
      const take = Math.min(length - this.fill, data.length - pos);
      this.stripeBuf.set(data.subarray(pos, pos + take), this.fill);
      this.fill += take;
      pos += take;
      if (this.fill === length) {
        if (!this.headersSent) {
          out.push(this.headers(await fileIdOf(this.stripeBuf.subarray(0, length))));
          this.headersSent = true;
        }
        out.push(this.codec.encode(this.stripeBuf, block));
        this.stripeIndex++;
        this.nextStripe();
      }
    }
    return out;
  }

  async finalize(): Promise<Bytes[][]> {
    if (this.done) throw new InvalidParametersError("shard encoder already finalized");
    this.done = true;
    if (this.received !== this.layout.ciphertextLength) {
      throw new TruncatedError(
        `ciphertext ended at ${this.received} of ${this.layout.ciphertextLength} announced bytes; ` +
          "did the input change while encoding?",
      );
    }
    if (this.headersSent) return [];
    this.headersSent = true;
    return [this.headers(await fileIdOf(new Uint8Array(0)))];
  }
}

/** All n shards of a whole buffer (tests and small files). */
export async function encodeBytes(params: ErasureParams, ciphertext: Bytes): Promise<Bytes[]> {
  const enc = await ShardEncoder.create(params, ciphertext.length);
  const shards: Bytes[][] = Array.from({ length: params.n }, () => []);
  for (const pieces of [...(await enc.update(ciphertext)), ...(await enc.finalize())]) {
    pieces.forEach((piece, i) => shards[i]?.push(piece));
  }
  return shards.map(concat);
}

/** Where shard bytes come from: `read(size)` gives `size` bytes, fewer only at the end. */
export interface ShardReader {
  read(size: number): Promise<Bytes>;
}

/** A ShardReader over a Blob (raw shard bytes). */
export function blobReader(blob: Blob): ShardReader {
  let pos = 0;
  return {
    async read(size: number): Promise<Bytes> {
      const end = Math.min(blob.size, pos + size);
      const data = new Uint8Array(await blob.slice(pos, end).arrayBuffer());
      pos = end;
      return data;
    },
  };
}

/** A ShardReader over chunks (e.g. a CAR being exported). */
export function chunkReader(chunks: AsyncIterator<Bytes>): ShardReader {
  let pending: Bytes = new Uint8Array(0);
  let ended = false;
  return {
    async read(size: number): Promise<Bytes> {
      const parts: Bytes[] = [];
      let have = 0;
      while (have < size) {
        if (pending.length === 0) {
          if (ended) break;
          const next = await chunks.next();
          if (next.done === true) {
            ended = true;
            break;
          }
          pending = next.value;
          continue;
        }
        const take = Math.min(size - have, pending.length);
        parts.push(pending.subarray(0, take));
        pending = pending.subarray(take);
        have += take;
      }
      return parts.length === 1 ? (parts[0] as Bytes) : concat(parts);
    },
  };
}

/** At least k shards of one encoding of one file, checked to belong together. */
export class ShardSet {
  private constructor(
    readonly header: ShardHeader,
    readonly params: ErasureParams,
    readonly layout: StripeLayout,
    readonly indexes: number[],
    private readonly readers: ShardReader[],
    private readonly codec: StripeCodec,
  ) {}

  static async open(readers: ShardReader[], names?: string[]): Promise<ShardSet> {
    const chosen = new Map<number, ShardReader>();
    let reference: ShardHeader | null = null;
    let refName = "";
    for (const [pos, reader] of readers.entries()) {
      const name = names?.[pos] ?? `shard #${pos}`;
      const header = unpackShardHeader(await reader.read(HEADER_SIZE));
      if (reference === null) {
        reference = header;
        refName = name;
      } else if (family(header) !== family(reference)) {
        throw new MismatchedShardsError(
          `${name} does not belong with ${refName}: ${difference(header, reference)}; give shards of one file and one encoding`,
        );
      }
      if (!chosen.has(header.index)) chosen.set(header.index, reader);
    }
    if (reference === null) throw new NotEnoughShardsError(0, 1);
    if (chosen.size < reference.k) throw new NotEnoughShardsError(chosen.size, reference.k);
    const use = [...chosen.keys()].sort((a, b) => a - b).slice(0, reference.k);
    const params = paramsOf(reference);
    return new ShardSet(
      reference,
      params,
      new StripeLayout(reference.k, reference.blockSize, reference.ciphertextLength),
      use,
      use.map((i) => chosen.get(i) as ShardReader),
      await StripeCodec.create(params),
    );
  }

  /** The k data blocks of each stripe, padding stripped from the last; checks file id and lengths. */
  async *stripes(): AsyncGenerator<Bytes[]> {
    const { layout, params } = this;
    for (let s = 0; s < layout.stripeCount; s++) {
      const [block, length] = layout.stripe(s);
      const blocks = await Promise.all(this.readers.map((r) => r.read(block)));
      blocks.forEach((data, pos) => {
        if (data.length !== block) {
          const i = this.indexes[pos] ?? -1;
          throw new TruncatedShardError(`shard ${i} is truncated: stripe ${s} has ${data.length} of ${block} bytes; fetch it again`, i);
        }
      });
      let data = this.codec.decode(blocks, this.indexes, block);
      if (length < block * params.k) data = trim(data, length);
      if (s === 0 && !equal(await fileIdOf(concat(data)), this.header.fileId)) {
        throw new MismatchedShardsError(
          `shards ${JSON.stringify(this.indexes)} decode to data whose file id does not match their headers: ` +
            "they are from different files or corrupted",
        );
      }
      yield data;
    }
    for (const [pos, reader] of this.readers.entries()) {
      if ((await reader.read(1)).length > 0) {
        throw new FormatError(`shard ${this.indexes[pos]} has bytes after its last stripe; it is not a valid shard`);
      }
    }
    if (layout.stripeCount === 0 && !equal(this.header.fileId, await fileIdOf(new Uint8Array(0)))) {
      throw new MismatchedShardsError("empty shards with a non-empty file id: the headers were altered");
    }
  }
}

function trim(blocks: Bytes[], length: number): Bytes[] {
  const out: Bytes[] = [];
  let left = length;
  for (const b of blocks) {
    if (left <= 0) break;
    out.push(b.length > left ? b.subarray(0, left) : b);
    left -= b.length;
  }
  return out;
}

function difference(a: ShardHeader, b: ShardHeader): string {
  if (a.version !== b.version || a.codec !== b.codec || a.k !== b.k || a.n !== b.n || a.blockSize !== b.blockSize) {
    return (
      `parameters differ (${a.k}/${a.n} codec ${a.codec} block ${a.blockSize} v${a.version} vs ` +
      `${b.k}/${b.n} codec ${b.codec} block ${b.blockSize} v${b.version})`
    );
  }
  return "it is a shard of a different file";
}

/** The ciphertext, in order, from any k shards (extra shards are ignored). */
export async function* decodeShards(readers: ShardReader[]): AsyncGenerator<Bytes> {
  for await (const blocks of (await ShardSet.open(readers)).stripes()) yield* blocks;
}
