/**
 * encodeFile: the browser's `scatter encode`, in one pass over the file (scatter/formats/pipeline.py):
 * each 4 MiB read is hashed (plaintext sha256), encrypted segment by segment (SCEA v1, WebCrypto),
 * erasure-coded stripe by stripe (SCSH v1, zfec in wasm), and each shard's bytes go to its sink:
 * UnixFS importer (the CID `ipfs add --cid-version=1` gives), CAR builder and possession root, in
 * Web Workers when there are spare cores (sinks.ts). Memory: a few stripes plus 8 MiB of CAR parts
 * per shard; the CARs themselves are files in OPFS (spool.ts) when the workers can write them,
 * else Blobs (in memory: n/k times the file).
 */
import { ciphertextLength, Encryptor, newContentKey } from "../formats/aead";
import type { Bytes, Hex } from "../formats/bytes";
import { ShardEncoder } from "../formats/erasure";
import { FormatError } from "../formats/errors";
import type { FileVersion } from "../formats/metadata";
import { Sha256 } from "../formats/sha256";
import { checkSegmentSize, Codec, DEFAULT_SEGMENT_SIZE, type ErasureParams, erasureParams } from "../formats/params";
import { defaultWorkers, makeSinks, type Sinks } from "./sinks";
import { CarDir } from "./spool";

export const READ_SIZE = 4 << 20;

export interface EncodeParams {
  /** Any k of the n shards rebuild the file; k = 1 stores n plain copies (replication). */
  k: number;
  n: number;
  /** Bytes per shard per stripe; default autoBlockSize(n). */
  blockSize?: number;
  /** Encryption segment size; default 1 MiB. */
  segmentSize?: number;
  /** Default: replication for k = 1 (as `--shards 1/n`), else zfec. */
  codec?: Codec;
  /** Default: the File's name, or "file". */
  name?: string;
  /** Default: the Blob's type, or application/octet-stream. */
  mediaType?: string;
  /** The 32-byte content key; random unless given. */
  key?: Bytes;
  /** The encryption salt: reproducible outputs for tests only (leave it random). */
  salt?: Bytes;
  /** Web Workers hashing the shards (0: all on this thread); default: one per spare core, at most 4. */
  workers?: number;
  /** Write the CARs to OPFS when the workers can (default true); false: Blobs in memory. */
  spool?: boolean;
}

export interface EncodeProgress {
  /** Plaintext bytes encoded so far. */
  done: number;
  total: number;
}

export interface EncodedShard {
  index: number;
  /** CIDv1 in base32, what `ipfs add --cid-version=1` gives the shard. */
  cid: string;
  /** The binary CID (what a bid names). */
  cidBytes: Bytes;
  /** The shard's possession root, bytes32 (what a bid commits to). */
  root: Hex;
  /** Shard bytes (the same for every shard of a file). */
  size: number;
  /** CAR v1 of the shard's UnixFS DAG, root = cid: what is pushed to the hoster. */
  car: Blob;
  /** The CAR is a file in OPFS (enc.cars), not a Blob in memory. */
  onDisk: boolean;
}

export interface EncodedFile {
  name: string;
  mediaType: string;
  size: number;
  sha256: Bytes;
  contentKey: Bytes;
  segmentSize: number;
  erasure: ErasureParams;
  ciphertextLength: number;
  shardSize: number;
  shards: EncodedShard[];
  /** Web Workers that hashed the shards (0: the calling thread). */
  workers: number;
  /** The OPFS directory holding the CARs on disk (null: all in memory): `cars.remove()` once pushed. */
  cars: CarDir | null;
}

const fileName = (file: Blob): string => ("name" in file && typeof file.name === "string" && file.name ? file.name : "file");

/** Encrypt, erasure-code and import `file` into n shards (CIDs, CARs, possession roots). */
export async function encodeFile(file: Blob, params: EncodeParams, onProgress?: (p: EncodeProgress) => void): Promise<EncodedFile> {
  const erasure = erasureParams({ ...params, codec: params.codec ?? (params.k === 1 ? Codec.REPLICATION : Codec.ZFEC) });
  const segmentSize = checkSegmentSize(params.segmentSize ?? DEFAULT_SEGMENT_SIZE);
  const key = params.key ?? newContentKey();
  const size = file.size;
  const ctLength = ciphertextLength(segmentSize, size);
  const encryptor = await Encryptor.create(key, segmentSize, params.salt);
  const encoder = await ShardEncoder.create(erasure, ctLength);
  const workers = params.workers ?? defaultWorkers();
  const cars = workers > 0 && params.spool !== false ? await CarDir.open() : null;
  let sinks: Sinks;
  try {
    sinks = await makeSinks(erasure.n, workers, cars?.name ?? null);
  } catch (e) {
    await cars?.remove();
    throw e;
  }
  const digest = await Sha256.create();
  const feed = async (stripes: Bytes[][]): Promise<void> => {
    for (const pieces of stripes) await sinks.write(pieces);
  };
  const read = async (pos: number): Promise<Bytes> => new Uint8Array(await file.slice(pos, Math.min(size, pos + READ_SIZE)).arrayBuffer());

  let shards: EncodedShard[];
  try {
    await feed(await encoder.update(encryptor.header));
    let next = size > 0 ? read(0) : null;
    for (let pos = 0; pos < size; pos += READ_SIZE) {
      const data = await (next as Promise<Bytes>);
      if (data.length !== Math.min(READ_SIZE, size - pos)) throw new FormatError("the file changed while it was being encoded; encode it again");
      next = pos + READ_SIZE < size ? read(pos + READ_SIZE) : null; // the next read overlaps this chunk's work
      digest.update(data);
      for (const segment of await encryptor.update(data)) await feed(await encoder.update(segment));
      onProgress?.({ done: pos + data.length, total: size });
    }
    await feed(await encoder.update(await encryptor.finalize()));
    await feed(await encoder.finalize());
    if (size === 0) onProgress?.({ done: 0, total: 0 });
    shards = await sinks.finish();
  } catch (e) {
    await cars?.remove();
    throw e;
  } finally {
    sinks.close();
  }
  const onDisk = shards.some((s) => s.onDisk);
  if (!onDisk) await cars?.remove();
  return {
    name: params.name ?? fileName(file),
    mediaType: params.mediaType ?? (file.type || "application/octet-stream"),
    size,
    sha256: digest.digest(),
    contentKey: key,
    segmentSize,
    erasure,
    ciphertextLength: ctLength,
    shardSize: encoder.layout.shardLength,
    shards,
    workers: sinks.workers,
    cars: onDisk ? cars : null,
  };
}

/** The version record of an encoded file, for the metadata entry once its bid is known. */
export function fileVersionOf(enc: EncodedFile, bidId: bigint | null, created = Math.floor(Date.now() / 1000)): FileVersion {
  return {
    size: enc.size,
    sha256: enc.sha256,
    contentKey: enc.contentKey,
    erasure: enc.erasure,
    ciphertextLength: enc.ciphertextLength,
    shards: enc.shards.map((s) => s.cid),
    segmentSize: enc.segmentSize,
    aeadVersion: 1,
    bidId,
    created,
  };
}

/** The sha256 of a CAR, as a push signs it (scatter/sdk/push.py car_sha256). */
export async function carSha256(car: Blob): Promise<Bytes> {
  const digest = await Sha256.create();
  for (let pos = 0; pos < car.size; pos += READ_SIZE) digest.update(new Uint8Array(await car.slice(pos, pos + READ_SIZE).arrayBuffer()));
  return digest.digest();
}
