/**
 * Streaming AEAD, SCEA v1 (scatter/formats/aead.py, docs/formats.md section 1), with WebCrypto:
 *
 *   header  (42) = "SCEA" | version 1 | algorithm 1 | segment_size u32 | salt[16] | key_check[16]
 *   segment i    = AES-256-GCM(segment_key, nonce(i, last), plaintext_i, aad = header)
 *   segment_key  = HKDF-SHA256(content_key, salt, "scatter/aead/v1/segment-key", 32)
 *   key_check    = HKDF-SHA256(content_key, salt, "scatter/aead/v1/key-check", 16)
 *   nonce(i, last) = i as 11 bytes big-endian | (1 if last else 0)
 *
 * Decryption returns only authenticated plaintext and holds at most one segment.
 */
import { type Bytes, equal, getUint, putUint, randomBytes, utf8 } from "./bytes";
import { Chunker } from "./chunker";
import { FormatError, InvalidParametersError, TamperedError, TruncatedError, UnsupportedVersionError, WrongKeyError } from "./errors";
import { checkSegmentSize, DEFAULT_SEGMENT_SIZE } from "./params";

export const MAGIC = utf8("SCEA");
export const VERSION = 1;
export const ALGORITHM = 1;
export const HEADER_SIZE = 42;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const SALT_SIZE = 16;
const INFO_SEGMENT_KEY = utf8("scatter/aead/v1/segment-key");
const INFO_KEY_CHECK = utf8("scatter/aead/v1/key-check");

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

export async function hkdf(ikm: Bytes, salt: Bytes, info: Bytes, bytes: number): Promise<Bytes> {
  const key = await subtle().importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

/** A fresh random 256-bit content key (one per file, never reused). */
export const newContentKey = (): Bytes => randomBytes(KEY_SIZE);

function checkKey(key: Bytes): Bytes {
  if (key.length !== KEY_SIZE) throw new InvalidParametersError(`content key must be ${KEY_SIZE} bytes, got ${key.length}`);
  return key;
}

export function nonce(index: number, last: boolean): Bytes {
  const out = new Uint8Array(12);
  putUint(out, 0, 11, index);
  out[11] = last ? 1 : 0;
  return out;
}

export interface AeadHeader {
  segmentSize: number;
  salt: Bytes;
  keyCheck: Bytes;
}

/** Check magic then version (the first 5 bytes). */
export function checkPrefix(data: Uint8Array): void {
  if (!equal(data.subarray(0, 4), MAGIC)) {
    throw new FormatError("not a Scatter encrypted file (magic is not 'SCEA'); check you passed the ciphertext");
  }
  if (data[4] !== VERSION) throw new UnsupportedVersionError("encryption format", data[4] ?? -1, [VERSION]);
}

export function unpackHeader(data: Bytes): AeadHeader {
  if (data.length < 5) throw new FormatError(`not a Scatter encrypted file: ${data.length} bytes is shorter than a header`);
  checkPrefix(data);
  if (data.length < HEADER_SIZE) throw new FormatError(`encryption header truncated: ${data.length} of ${HEADER_SIZE} bytes`);
  if (data[5] !== ALGORITHM) throw new UnsupportedVersionError("encryption algorithm", data[5] ?? -1, [ALGORITHM]);
  const segmentSize = getUint(data, 6, 4);
  try {
    checkSegmentSize(segmentSize);
  } catch (e) {
    throw new FormatError(`encryption header: ${(e as Error).message}; the header is damaged`);
  }
  return { segmentSize, salt: data.slice(10, 26), keyCheck: data.slice(26, 42) };
}

export async function makeHeader(key: Bytes, segmentSize: number, salt: Bytes = randomBytes(SALT_SIZE)): Promise<Bytes> {
  checkSegmentSize(segmentSize);
  if (salt.length !== SALT_SIZE) throw new FormatError("encryption header: salt must be 16 bytes");
  const header = new Uint8Array(HEADER_SIZE);
  header.set(MAGIC, 0);
  header[4] = VERSION;
  header[5] = ALGORITHM;
  putUint(header, 6, 4, segmentSize);
  header.set(salt, 10);
  header.set(await hkdf(checkKey(key), salt, INFO_KEY_CHECK, 16), 26);
  return header;
}

/** Seals and opens single segments of one file (its key and header fixed). */
export class SegmentCipher {
  private constructor(
    readonly header: AeadHeader,
    readonly headerBytes: Bytes,
    private readonly key: CryptoKey,
  ) {}

  static async create(key: Bytes, headerBytes: Bytes): Promise<SegmentCipher> {
    const header = unpackHeader(headerBytes);
    checkKey(key);
    if (!equal(await hkdf(key, header.salt, INFO_KEY_CHECK, 16), header.keyCheck)) {
      throw new WrongKeyError(
        "wrong key: this content key does not open the file (or its header was altered); " +
          "check the share link or metadata the key came from",
      );
    }
    const raw = await hkdf(key, header.salt, INFO_SEGMENT_KEY, KEY_SIZE);
    const aesKey = await subtle().importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    return new SegmentCipher(header, headerBytes.slice(0, HEADER_SIZE), aesKey);
  }

  get segmentSize(): number {
    return this.header.segmentSize;
  }

  /** WebCrypto copies `plaintext` before this returns, so the caller may reuse its buffer. */
  async seal(index: number, plaintext: Bytes, last: boolean): Promise<Bytes> {
    const params = { name: "AES-GCM", iv: nonce(index, last), additionalData: this.headerBytes, tagLength: 128 };
    return new Uint8Array(await subtle().encrypt(params, this.key, plaintext));
  }

  private async tryOpen(index: number, ciphertext: Bytes, last: boolean): Promise<Bytes | null> {
    const params = { name: "AES-GCM", iv: nonce(index, last), additionalData: this.headerBytes, tagLength: 128 };
    try {
      return new Uint8Array(await subtle().decrypt(params, this.key, ciphertext));
    } catch {
      return null;
    }
  }

  /** Authenticate and decrypt one segment, or raise an error that says what went wrong. */
  async open(index: number, ciphertext: Bytes, last: boolean): Promise<Bytes> {
    const plain = await this.tryOpen(index, ciphertext, last);
    if (plain !== null) return plain;
    if ((await this.tryOpen(index, ciphertext, !last)) === null) {
      throw new TamperedError(
        `segment ${index} failed authentication: it was altered, reordered or taken from ` +
          "another file; fetch the data again from another source",
        index,
      );
    }
    if (last) {
      throw new TruncatedError(
        `ciphertext truncated: it ends after segment ${index}, which is not the final segment; ` +
          "the download is incomplete",
      );
    }
    throw new TamperedError(`segment ${index} is the final segment but more data follows it: the ciphertext was extended`, index);
  }
}

/** Push-style encryptor: `header` first, then what update() and finalize() return, in order. */
export class Encryptor {
  private readonly chunker: Chunker; // holds the last full segment until a byte follows it
  private index = 0;
  private done = false;
  plaintextLength = 0;

  private constructor(
    readonly header: Bytes,
    private readonly cipher: SegmentCipher,
  ) {
    this.chunker = new Chunker(cipher.segmentSize, true);
  }

  static async create(key: Bytes, segmentSize = DEFAULT_SEGMENT_SIZE, salt?: Bytes): Promise<Encryptor> {
    const header = await makeHeader(key, segmentSize, salt);
    return new Encryptor(header, await SegmentCipher.create(key, header));
  }

  /** Take plaintext; the segments completed so far (a segment is sealed once a byte after it exists). */
  async update(data: Bytes): Promise<Bytes[]> {
    if (this.done) throw new InvalidParametersError("encryptor already finalized");
    this.plaintextLength += data.length;
    return Promise.all(this.chunker.push(data).map((segment) => this.cipher.seal(this.index++, segment, false)));
  }

  /** Seal and return the final segment. */
  async finalize(): Promise<Bytes> {
    if (this.done) throw new InvalidParametersError("encryptor already finalized");
    this.done = true;
    return this.cipher.seal(this.index, this.chunker.rest(), true);
  }
}

/** Push-style decryptor: returns only authenticated plaintext, holds at most one segment. */
export class Decryptor {
  private cipher: SegmentCipher | null = null;
  private readonly header = new Chunker(HEADER_SIZE);
  private segments: Chunker | null = null; // segment + tag; holds the last one until a byte follows
  private index = 0;
  private done = false;

  constructor(private readonly key: Bytes) {
    checkKey(key);
  }

  async update(data: Bytes): Promise<Bytes[]> {
    if (this.done) throw new InvalidParametersError("decryptor already finalized");
    let rest = data;
    if (this.cipher === null) {
      const take = Math.min(HEADER_SIZE - this.header.buffered, data.length);
      const [header] = this.header.push(data.subarray(0, take));
      rest = data.subarray(take);
      const seen = header ?? this.header.peek();
      if (seen.length >= 5) checkPrefix(seen); // a wrong file fails on its first bytes
      if (header === undefined) return [];
      this.cipher = await SegmentCipher.create(this.key, header.slice());
      this.segments = new Chunker(this.cipher.segmentSize + TAG_SIZE, true);
    }
    const cipher = this.cipher;
    return Promise.all((this.segments as Chunker).push(rest).map((segment) => cipher.open(this.index++, segment, false)));
  }

  /** Check and return the final segment; throws if the ciphertext ended early. */
  async finalize(): Promise<Bytes> {
    if (this.done) throw new InvalidParametersError("decryptor already finalized");
    this.done = true;
    if (this.cipher === null || this.segments === null) {
      throw new TruncatedError(`ciphertext truncated: ${this.header.buffered} bytes, shorter than the ${HEADER_SIZE}-byte header`);
    }
    const last = this.segments.rest();
    if (last.length < TAG_SIZE) {
      throw new TruncatedError(
        `ciphertext truncated: segment ${this.index} has ${last.length} bytes, less than its ${TAG_SIZE}-byte tag`,
      );
    }
    if (this.index > 0 && last.length === TAG_SIZE) {
      throw new TruncatedError(`ciphertext malformed: empty final segment ${this.index} after data`);
    }
    return this.cipher.open(this.index, last, true);
  }
}

/** Ciphertext length of a plaintext: 42 + P + 16 * max(1, ceil(P / segment_size)). */
export function ciphertextLength(segmentSize: number, plaintextLength: number): number {
  const count = Math.max(1, Math.ceil(plaintextLength / segmentSize));
  return HEADER_SIZE + plaintextLength + count * TAG_SIZE;
}

export async function encryptBytes(key: Bytes, plaintext: Bytes, segmentSize = DEFAULT_SEGMENT_SIZE, salt?: Bytes): Promise<Bytes[]> {
  const enc = await Encryptor.create(key, segmentSize, salt);
  return [enc.header, ...(await enc.update(plaintext)), await enc.finalize()];
}

export async function decryptBytes(key: Bytes, ciphertext: Bytes): Promise<Bytes[]> {
  const dec = new Decryptor(key);
  return [...(await dec.update(ciphertext)), await dec.finalize()];
}
