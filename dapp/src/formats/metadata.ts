/**
 * The file metadata record (CBOR v1, scatter/formats/metadata_schema.py) and its encrypted
 * envelope SCMD v1 (metadata.py), what the FileRegistry stores:
 *
 *   blob = "SCMD" | version 1 | nonce[12] | AES-256-GCM(key, nonce, cbor(metadata), aad = blob[0:5])
 *
 * CBOR in its core deterministic form (length-first sorted keys, shortest integers), so the dapp
 * and the Python produce the same bytes; a record not in that form is refused.
 */
import { decode as cborDecode, encode as cborEncode } from "cborg";
import { CID } from "multiformats/cid";
import { type Bytes, concat, equal, own, randomBytes, utf8 } from "./bytes";
import { FormatError, InvalidParametersError, MetadataTooLargeError, UnsupportedVersionError, WrongKeyError } from "./errors";
import { Codec, type ErasureParams, erasureParams } from "./params";

export const MAGIC = utf8("SCMD");
export const VERSION = 1;
export const SCHEMA_VERSION = 1;
export const NONCE_SIZE = 12;
/** FileRegistry's limit for one entry. */
export const MAX_BLOB_SIZE = 16 * 1024;

/** One stored version of a file: what is needed to fetch, check and decrypt it. */
export interface FileVersion {
  size: number;
  sha256: Bytes;
  contentKey: Bytes;
  erasure: ErasureParams;
  ciphertextLength: number;
  /** Shard CIDs (CIDv1, base32), in shard order. */
  shards: string[];
  segmentSize: number;
  aeadVersion: number;
  bidId: bigint | null;
  /** Unix seconds. */
  created: number;
}

export interface FileMetadata {
  name: string;
  mediaType: string;
  current: FileVersion;
  /** Earlier versions, newest first. */
  history: FileVersion[];
}

const TOP_KEYS = ["cur", "hist", "name", "type", "v"];
const VERSION_KEYS = ["aead", "bid", "block", "codec", "k", "key", "len", "n", "seg", "sha256", "shards", "size", "t"];
const INTS = ["size", "aead", "seg", "codec", "k", "n", "block", "len", "t"];

function cidBytes(text: string): Bytes {
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch (e) {
    throw new FormatError(`invalid shard CID '${text}': ${(e as Error).message}`);
  }
  if (cid.version !== 1) throw new FormatError(`shard CID '${text}' is CIDv0; shards are addressed by CIDv1 (raw leaves)`);
  return own(cid.bytes);
}

function versionObj(v: FileVersion): Record<string, unknown> {
  if (v.sha256.length !== 32 || v.contentKey.length !== 32) throw new FormatError("file version: sha256 and content key must be 32 bytes each");
  if (v.shards.length !== v.erasure.n) throw new FormatError(`file version: ${v.shards.length} shard CIDs for n=${v.erasure.n}`);
  return {
    size: v.size,
    sha256: v.sha256,
    key: v.contentKey,
    aead: v.aeadVersion,
    seg: v.segmentSize,
    codec: v.erasure.codec,
    k: v.erasure.k,
    n: v.erasure.n,
    block: v.erasure.blockSize,
    len: v.ciphertextLength,
    shards: v.shards.map(cidBytes),
    bid: v.bidId,
    t: v.created,
  };
}

const sameKeys = (obj: object, keys: string[]): boolean => {
  const have = Object.keys(obj).sort();
  return have.length === keys.length && have.every((k, i) => k === keys[i]);
};

function versionFrom(obj: unknown): FileVersion {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj) || !sameKeys(obj, VERSION_KEYS)) {
    throw new FormatError("metadata: a version record has missing or unknown fields");
  }
  const o = obj as Record<string, unknown>;
  if (!INTS.every((name) => typeof o[name] === "number" && Number.isSafeInteger(o[name]) && (o[name] as number) >= 0)) {
    throw new FormatError("metadata: a version record has a non-integer number");
  }
  const bid = o["bid"];
  if (!(bid === null || (typeof bid === "number" && Number.isInteger(bid)) || typeof bid === "bigint")) {
    throw new FormatError("metadata: bid id must be an integer or null");
  }
  if (!(o["sha256"] instanceof Uint8Array && o["key"] instanceof Uint8Array)) {
    throw new FormatError("metadata: sha256 and key must be byte strings");
  }
  const shards = o["shards"];
  if (!Array.isArray(shards) || !shards.every((c) => c instanceof Uint8Array)) {
    throw new FormatError("metadata: shards must be a list of binary CIDs");
  }
  const num = (name: string): number => o[name] as number;
  const codec = num("codec");
  if (codec !== Codec.ZFEC && codec !== Codec.REPLICATION) throw new UnsupportedVersionError("erasure codec", codec, [1, 2]);
  let cids: string[];
  try {
    cids = (shards as Uint8Array[]).map((c) => CID.decode(c).toString());
  } catch (e) {
    throw new FormatError(`metadata: invalid shard CID: ${(e as Error).message}`);
  }
  const v: FileVersion = {
    size: num("size"),
    sha256: own(o["sha256"]),
    contentKey: own(o["key"]),
    erasure: erasureParams({ k: num("k"), n: num("n"), blockSize: num("block"), codec }),
    ciphertextLength: num("len"),
    shards: cids,
    segmentSize: num("seg"),
    aeadVersion: num("aead"),
    bidId: bid === null ? null : BigInt(bid as number | bigint),
    created: num("t"),
  };
  versionObj(v); // the same checks as on the way out
  return v;
}

export function metadataToCbor(m: FileMetadata): Bytes {
  const obj = { v: SCHEMA_VERSION, name: m.name, type: m.mediaType, cur: versionObj(m.current), hist: m.history.map(versionObj) };
  return own(cborEncode(obj));
}

export function metadataFromCbor(data: Bytes): FileMetadata {
  let obj: unknown;
  try {
    obj = cborDecode(data, { strict: true, rejectDuplicateMapKeys: true, useMaps: false });
  } catch (e) {
    throw new FormatError(`metadata is not valid CBOR: ${(e as Error).message}`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new FormatError("metadata: the record is not a CBOR map");
  const o = obj as Record<string, unknown>;
  const version = o["v"];
  if (version !== SCHEMA_VERSION) {
    throw new UnsupportedVersionError("metadata schema", typeof version === "number" && Number.isInteger(version) ? version : -1, [SCHEMA_VERSION]);
  }
  if (!sameKeys(o, TOP_KEYS)) throw new FormatError("metadata: the record has missing or unknown fields");
  if (typeof o["name"] !== "string" || typeof o["type"] !== "string") throw new FormatError("metadata: name and media type must be text");
  if (!Array.isArray(o["hist"])) throw new FormatError("metadata: history must be a list");
  const record: FileMetadata = {
    name: o["name"],
    mediaType: o["type"],
    current: versionFrom(o["cur"]),
    history: (o["hist"] as unknown[]).map(versionFrom),
  };
  if (!equal(metadataToCbor(record), data)) throw new FormatError("metadata: not in deterministic CBOR form (re-encoding differs)");
  return record;
}

/** A record whose current version is `version`; the old one moves to the history. */
export function withNewVersion(m: FileMetadata, version: FileVersion, keep?: number): FileMetadata {
  const history = [m.current, ...m.history];
  return { ...m, current: version, history: keep === undefined ? history : history.slice(0, keep) };
}

async function gcmKey(key: Bytes, usage: KeyUsage): Promise<CryptoKey> {
  if (key.length !== 32) throw new InvalidParametersError(`metadata key must be 32 bytes, got ${key.length}`);
  return globalThis.crypto.subtle.importKey("raw", key, "AES-GCM", false, [usage]);
}

/** Seal a metadata record; `nonce` is random unless given (test vectors only). */
export async function encryptMetadata(key: Bytes, m: FileMetadata, nonce: Bytes = randomBytes(NONCE_SIZE), maxSize = MAX_BLOB_SIZE): Promise<Bytes> {
  if (nonce.length !== NONCE_SIZE) throw new InvalidParametersError("metadata nonce must be 12 bytes");
  const prefix = concat([MAGIC, Uint8Array.of(VERSION)]);
  const sealed = await globalThis.crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: prefix, tagLength: 128 },
    await gcmKey(key, "encrypt"),
    metadataToCbor(m),
  );
  const blob = concat([prefix, nonce, new Uint8Array(sealed)]);
  if (blob.length > maxSize) {
    throw new MetadataTooLargeError(
      `encrypted metadata is ${blob.length} bytes, over the ${maxSize}-byte entry limit; ` +
        `keep fewer old versions (it has ${m.history.length})`,
    );
  }
  return blob;
}

/** Open a metadata blob; a wrong key or an altered blob throws WrongKeyError. */
export async function decryptMetadata(key: Bytes, blob: Bytes): Promise<FileMetadata> {
  if (blob.length < 5 || !equal(blob.subarray(0, 4), MAGIC)) throw new FormatError("not a Scatter metadata blob (magic is not 'SCMD')");
  if (blob[4] !== VERSION) throw new UnsupportedVersionError("metadata envelope", blob[4] ?? -1, [VERSION]);
  if (blob.length < 5 + NONCE_SIZE + 16) throw new FormatError(`metadata blob truncated: ${blob.length} bytes`);
  let plain: ArrayBuffer;
  try {
    plain = await globalThis.crypto.subtle.decrypt(
      { name: "AES-GCM", iv: blob.slice(5, 17), additionalData: blob.slice(0, 5), tagLength: 128 },
      await gcmKey(key, "decrypt"),
      blob.slice(17),
    );
  } catch {
    throw new WrongKeyError("cannot open this metadata: it belongs to another wallet, or it was altered; check the connected account");
  }
  return metadataFromCbor(new Uint8Array(plain));
}
