/**
 * decodeFile: the browser's `scatter decode` (scatter/formats/pipeline.py decrypt_shards / decode_dir):
 * any k shards -> verified plaintext. Every CAR block is checked against its CID and each CAR's root
 * against the shard's CID; the shard headers must agree and the first stripe match the file id; every
 * segment must authenticate (GCM); the plaintext must match its sha256. A shard that fails on its own
 * (bad block, truncated, wrong root) is dropped and another used while k remain (Blob inputs only: a
 * stream cannot be read twice). The result is a Blob, returned only once everything verified.
 */
import { CID } from "multiformats/cid";
import { Decryptor } from "../formats/aead";
import { type Bytes, equal, getUint } from "../formats/bytes";
import { openCarBlob, openCarStream } from "../formats/car";
import { blobReader, chunkReader, type ShardReader, ShardSet } from "../formats/erasure";
import { BadShardError, FormatError, IntegrityError, NotEnoughShardsError, ScatterError } from "../formats/errors";
import { Sha256 } from "../formats/sha256";
import { exportFile } from "../formats/unixfs";

export type ShardInput =
  /** A shard's CAR: a Blob (any block order) or a stream in DFS order (a trustless gateway's answer). */
  | { cid: string; car: Blob | ReadableStream<Uint8Array> }
  /** Raw shard bytes. */
  | { raw: Blob };

export interface DecodeProgress {
  /** Ciphertext bytes decoded so far. */
  done: number;
  total: number;
}

export interface DecodeOptions {
  /** The plaintext's sha256 (from the metadata or the share link): checked before returning. */
  sha256?: Bytes;
  onProgress?: (p: DecodeProgress) => void;
}

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** An input that failed on its own: dropped, and the decode started over with the others. */
class InputError extends BadShardError {
  constructor(
    message: string,
    index: number,
    readonly position: number,
  ) {
    super(message, index);
  }
}

/** A reader over one input; its errors name the shard; `seen` learns its index from its header. */
function openInput(input: ShardInput, position: number, seen: Map<number, number>): ShardReader {
  let index = -1;
  let inner: ShardReader | null = null;
  const open = async (): Promise<ShardReader> => {
    if ("raw" in input) return blobReader(input.raw);
    const want = CID.parse(input.cid);
    if (input.car instanceof Blob) {
      const car = await openCarBlob(input.car);
      if (!car.root.equals(want)) throw new FormatError(`CAR root is ${car.root.toString()}, expected ${input.cid}`);
      return chunkReader(exportFile(want, car.get));
    }
    const car = await openCarStream(streamChunks(input.car));
    return chunkReader(exportFile(want, car.get));
  };
  return {
    async read(size: number): Promise<Bytes> {
      try {
        inner ??= await open();
        const data = await inner.read(size);
        if (index < 0 && data.length >= 12) {
          index = getUint(data, 10, 2);
          seen.set(index, position);
        }
        return data;
      } catch (e) {
        if (!(e instanceof ScatterError) || e instanceof BadShardError) throw e;
        const which = index >= 0 ? `shard ${index}` : `shard input #${position}`;
        throw new InputError(`${which} is unreadable: ${e.message}`, index, position);
      }
    },
  };
}

/** Output kept as a Blob, folded every 8 MiB (no whole-file copy in the JS heap). */
class BlobSink {
  private body: Blob = new Blob([]);
  private parts: Bytes[] = [];
  private bytes = 0;
  write(data: Bytes): void {
    this.parts.push(data);
    this.bytes += data.length;
    if (this.bytes >= 8 << 20) this.fold();
  }
  private fold(): void {
    this.body = new Blob([this.body, ...this.parts]);
    this.parts = [];
    this.bytes = 0;
  }
  finish(type: string): Blob {
    this.fold();
    return new Blob([this.body], { type });
  }
}

async function decodeOnce(inputs: ShardInput[], positions: number[], key: Bytes, opts: DecodeOptions, seen: Map<number, number>): Promise<Blob> {
  const readers = positions.map((p) => openInput(inputs[p] as ShardInput, p, seen));
  const shards = await ShardSet.open(readers, positions.map((p) => `shard input #${p}`));
  const decryptor = new Decryptor(key);
  const digest = await Sha256.create();
  const out = new BlobSink();
  const total = shards.header.ciphertextLength;
  let done = 0;
  const take = (plain: Bytes): void => {
    digest.update(plain);
    out.write(plain);
  };
  for await (const blocks of shards.stripes()) {
    for (const block of blocks) {
      for (const plain of await decryptor.update(block)) take(plain);
      done += block.length;
    }
    opts.onProgress?.({ done, total });
  }
  take(await decryptor.finalize());
  if (opts.sha256 !== undefined && !equal(digest.digest(), opts.sha256)) {
    throw new IntegrityError("decrypted file does not match its recorded sha256; the metadata is stale or wrong");
  }
  return out.finish("application/octet-stream");
}

/** Any k shards -> the verified plaintext as a Blob (see the module comment for what is checked). */
export async function decodeFile(shards: ShardInput[], key: Bytes, opts: DecodeOptions = {}): Promise<Blob> {
  const failed: string[] = [];
  const restartable = shards.every((s) => "raw" in s || s.car instanceof Blob);
  let positions = shards.map((_, p) => p);
  for (;;) {
    const seen = new Map<number, number>();
    try {
      return await decodeOnce(shards, positions, key, opts, seen);
    } catch (e) {
      if (e instanceof NotEnoughShardsError && failed.length > 0) throw new NotEnoughShardsError(e.have, e.need, failed.join("; "));
      if (!(e instanceof BadShardError) || !restartable) throw e;
      // One identified shard is bad: drop it and start over with the others.
      const drop = e instanceof InputError ? e.position : seen.get(e.index);
      if (drop === undefined) throw e;
      failed.push(e.message);
      positions = positions.filter((p) => p !== drop);
    }
  }
}
