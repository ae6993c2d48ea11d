/** Byte helpers. `Bytes` is a Uint8Array over a plain ArrayBuffer: what WebCrypto accepts. */
export type Bytes = Uint8Array<ArrayBuffer>;
export type Hex = `0x${string}`;

const encoder = new TextEncoder();

export const utf8 = (text: string): Bytes => encoder.encode(text) as Bytes;

/** `data` itself if it is over a plain ArrayBuffer, else a copy (for bytes from other libraries). */
export function own(data: Uint8Array): Bytes {
  return data.buffer instanceof ArrayBuffer ? (data as Bytes) : new Uint8Array(data);
}

export function toHex(data: Uint8Array): string {
  let out = "";
  for (const b of data) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(text: string): Bytes {
  const s = text.startsWith("0x") ? text.slice(2) : text;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new TypeError(`not hex: ${text.slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Bytes {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Unsigned LEB128 varint (protobuf, CAR), for values up to 2^53. */
export function uvarint(value: number): Bytes {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Big-endian unsigned integer of `size` bytes (up to 2^53) written at `offset`. */
export function putUint(view: Uint8Array, offset: number, size: number, value: number): void {
  let v = value;
  for (let i = size - 1; i >= 0; i--) {
    view[offset + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

export function getUint(view: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + (view[offset + i] ?? 0);
  return v;
}

export function randomBytes(size: number): Bytes {
  return globalThis.crypto.getRandomValues(new Uint8Array(size));
}

export async function sha256(data: Bytes): Promise<Bytes> {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", data));
}
