import { decode as cborDecode, encode as cborEncode, type Token } from "cborg";
import { hashTypedData } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { toHex } from "../src/formats/bytes";
import { UnsupportedVersionError, WrongKeyError } from "../src/formats/errors";
import { KEY_REQUEST_TYPED_DATA, metadataKeyFromSignature } from "../src/formats/keyderiv";
import { decryptMetadata, encryptMetadata, metadataFromCbor, metadataToCbor } from "../src/formats/metadata";
import { hex, vector } from "./vectors";

const m = vector<{ blob: string; cbor: string; metadata_key: string; nonce: string }>("formats/metadata_v1.json");
const k = vector<{ private_key: `0x${string}`; address: string; signature: string; eip712_digest: string; metadata_key: string; typed_data: unknown }>(
  "formats/metadata_key_v1.json",
);

describe("metadata record (CBOR v1) and envelope (SCMD v1)", () => {
  it("decodes the record and encodes it back byte for byte", () => {
    const record = metadataFromCbor(hex(m.cbor));
    expect(toHex(metadataToCbor(record))).toBe(m.cbor);
    expect(record.current.shards).toHaveLength(record.current.erasure.n);
  });

  it("opens the vector blob and seals it again identically", async () => {
    const record = await decryptMetadata(hex(m.metadata_key), hex(m.blob));
    expect(toHex(await encryptMetadata(hex(m.metadata_key), record, hex(m.nonce)))).toBe(m.blob);
  });

  it("refuses another key and an altered blob", async () => {
    const wrong = hex(m.metadata_key);
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    await expect(decryptMetadata(wrong, hex(m.blob))).rejects.toBeInstanceOf(WrongKeyError);
    const bad = hex(m.blob);
    bad[40] = (bad[40] ?? 0) ^ 1;
    await expect(decryptMetadata(hex(m.metadata_key), bad)).rejects.toBeInstanceOf(WrongKeyError);
    const v2 = hex(m.blob);
    v2[4] = 2;
    await expect(decryptMetadata(hex(m.metadata_key), v2)).rejects.toBeInstanceOf(UnsupportedVersionError);
  });

  it("refuses a record not in deterministic form", () => {
    // The same maps with their keys in reverse alphabetical order: valid CBOR, not the canonical bytes.
    const obj = cborDecode(hex(m.cbor), { useMaps: false }) as Record<string, unknown>;
    const key = (entry: unknown): string => String(((entry as Token[])[0] as Token).value);
    const reordered = cborEncode(obj, { mapSorter: (a, b) => key(b).localeCompare(key(a)) });
    expect(toHex(reordered)).not.toBe(m.cbor);
    expect(() => metadataFromCbor(new Uint8Array(reordered))).toThrow(/deterministic/);
  });
});

describe("metadata key from the wallet signature", () => {
  it("signs the same EIP-712 digest as the Python", () => {
    expect(hashTypedData(KEY_REQUEST_TYPED_DATA)).toBe(`0x${k.eip712_digest}`);
  });

  it("derives the vector key from the vector signature, and from a viem signature of the same account", async () => {
    expect(toHex(await metadataKeyFromSignature(`0x${k.signature}`))).toBe(k.metadata_key);
    const account = privateKeyToAccount(k.private_key);
    expect(account.address).toBe(k.address);
    const sig = await account.signTypedData(KEY_REQUEST_TYPED_DATA);
    expect(toHex(await metadataKeyFromSignature(sig))).toBe(k.metadata_key);
  });

  it("gives the same key for the high-s twin of a signature", async () => {
    const sig = hex(k.signature);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${toHex(sig.subarray(32, 64))}`);
    sig.set(hex((n - s).toString(16).padStart(64, "0")), 32);
    expect(toHex(await metadataKeyFromSignature(sig))).toBe(k.metadata_key);
  });
});
