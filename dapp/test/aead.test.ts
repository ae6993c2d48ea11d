import { describe, expect, it } from "vitest";
import { Decryptor, decryptBytes, Encryptor, encryptBytes } from "../src/formats/aead";
import { concat, toHex } from "../src/formats/bytes";
import { TamperedError, TruncatedError, UnsupportedVersionError, WrongKeyError } from "../src/formats/errors";
import { hex, vector } from "./vectors";

interface AeadVector {
  ciphertext: string;
  empty_ciphertext: string;
  plaintext: string;
  content_key: string;
  salt: string;
  segment_size: number;
}
const v = vector<AeadVector>("formats/aead_v1.json");
const key = hex(v.content_key);
const ct = hex(v.ciphertext);
const full = v.segment_size + 16;

const decrypt = async (data: Uint8Array, k = key): Promise<string> =>
  toHex(concat(await decryptBytes(k, new Uint8Array(data))));

describe("SCEA v1", () => {
  it("encrypts the vector byte for byte", async () => {
    const out = concat(await encryptBytes(key, hex(v.plaintext), v.segment_size, hex(v.salt)));
    expect(toHex(out)).toBe(v.ciphertext);
    const empty = concat(await encryptBytes(key, new Uint8Array(0), v.segment_size, hex(v.salt)));
    expect(toHex(empty)).toBe(v.empty_ciphertext);
  });

  it("streams in pieces of any size", async () => {
    const plain = hex(v.plaintext);
    const enc = await Encryptor.create(key, v.segment_size, hex(v.salt));
    const parts = [enc.header];
    for (let pos = 0; pos < plain.length; pos += 777) parts.push(...(await enc.update(plain.slice(pos, pos + 777))));
    parts.push(await enc.finalize());
    expect(toHex(concat(parts))).toBe(v.ciphertext);
    const dec = new Decryptor(key);
    const out = [];
    for (let pos = 0; pos < ct.length; pos += 1000) out.push(...(await dec.update(ct.slice(pos, pos + 1000))));
    out.push(await dec.finalize());
    expect(toHex(concat(out))).toBe(v.plaintext);
  });

  it("decrypts the vector, and the empty file", async () => {
    expect(await decrypt(ct)).toBe(v.plaintext);
    expect(await decrypt(hex(v.empty_ciphertext))).toBe("");
  });

  it("rejects a wrong key before any segment", async () => {
    const wrong = key.slice();
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    await expect(decrypt(ct, wrong)).rejects.toBeInstanceOf(WrongKeyError);
  });

  it("rejects an altered segment, naming it", async () => {
    const bad = ct.slice();
    const at = 42 + full + 5;
    bad[at] = (bad[at] ?? 0) ^ 1;
    await expect(decrypt(bad)).rejects.toMatchObject({ name: "TamperedError", segment: 1 });
  });

  it("rejects reordered segments", async () => {
    const bad = concat([ct.subarray(0, 42), ct.subarray(42 + full, 42 + 2 * full), ct.subarray(42, 42 + full), ct.subarray(42 + 2 * full)]);
    await expect(decrypt(bad)).rejects.toBeInstanceOf(TamperedError);
  });

  it("rejects truncation at a segment boundary and extension", async () => {
    await expect(decrypt(ct.slice(0, 42 + 2 * full))).rejects.toBeInstanceOf(TruncatedError);
    const extended = concat([ct, ct.subarray(42, 42 + full)]);
    await expect(decrypt(extended)).rejects.toBeInstanceOf(TamperedError);
  });

  it("rejects an altered header and an unknown version", async () => {
    const bad = ct.slice();
    bad[9] = (bad[9] ?? 0) ^ 1; // segment size
    await expect(decrypt(bad)).rejects.toThrow();
    const v2 = ct.slice();
    v2[4] = 2;
    await expect(decrypt(v2)).rejects.toBeInstanceOf(UnsupportedVersionError);
  });
});
