// Browser parity: the committed format vectors opened with WebCrypto (Node 20's
// globalThis.crypto.subtle, the same API as in the dapp) and js-sha3's keccak.
// Run: node --test tests/js/formats_vectors.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";

const require = createRequire(import.meta.url);
const { keccak256 } = require("js-sha3");
const subtle = globalThis.crypto.subtle;
const dir = new URL("../testdata/formats/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, dir), "utf8"));
const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (u8) => Buffer.from(u8).toString("hex");
const utf8 = (s) => new TextEncoder().encode(s);

async function hkdf(ikm, salt, info, bits) {
  const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bits));
}

async function gcmOpen(rawKey, iv, data, aad) {
  const key = await subtle.importKey("raw", rawKey, "AES-GCM", false, ["decrypt"]);
  return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, key, data));
}

test("SCEA v1 ciphertext opens with WebCrypto", async () => {
  const v = load("aead_v1.json");
  const ct = hex(v.ciphertext);
  const header = ct.slice(0, 42);
  const segSize = new DataView(header.buffer).getUint32(6);
  assert.equal(segSize, v.segment_size);
  const salt = header.slice(10, 26);
  const keyCheck = await hkdf(hex(v.content_key), salt, utf8(v.info_key_check), 128);
  assert.equal(toHex(keyCheck), toHex(header.slice(26, 42)));
  const segKey = await hkdf(hex(v.content_key), salt, utf8(v.info_segment_key), 256);
  const full = segSize + 16;
  const body = ct.slice(42);
  const count = Math.ceil(body.length / full);
  const parts = [];
  for (let i = 0; i < count; i++) {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(7, i); // index as 11-byte big-endian (fits in 32 bits here)
    nonce[11] = i === count - 1 ? 1 : 0;
    parts.push(await gcmOpen(segKey, nonce, body.slice(i * full, (i + 1) * full), header));
  }
  assert.equal(Buffer.concat(parts).toString("hex"), v.plaintext);
});

function encodeTypedDataDigest(td) {
  const k = (bytes) => Buffer.from(keccak256.arrayBuffer(bytes));
  const typeString = (name) => `${name}(${td.types[name].map((f) => `${f.type} ${f.name}`).join(",")})`;
  const encodeField = (type, value) => {
    if (type === "string") return k(utf8(value));
    if (type.startsWith("uint")) return Buffer.from(BigInt(value).toString(16).padStart(64, "0"), "hex");
    throw new Error(`type ${type} not needed here`);
  };
  const hashStruct = (name, obj) =>
    k(Buffer.concat([k(utf8(typeString(name))), ...td.types[name].map((f) => encodeField(f.type, obj[f.name]))]));
  return k(Buffer.concat([Buffer.from([0x19, 0x01]), hashStruct("EIP712Domain", td.domain), hashStruct(td.primaryType, td.message)]));
}

test("metadata key: EIP-712 digest with keccak, HKDF with WebCrypto", async () => {
  const v = load("metadata_key_v1.json");
  assert.equal(v.typed_data.domain.chainId, undefined);
  assert.equal(toHex(encodeTypedDataDigest(v.typed_data)), v.eip712_digest);
  const sig = hex(v.signature);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  let s = BigInt("0x" + toHex(sig.slice(32, 64)));
  if (s > n / 2n) s = n - s;
  const ikm = Buffer.concat([sig.slice(0, 32), Buffer.from(s.toString(16).padStart(64, "0"), "hex")]);
  const key = await hkdf(ikm, utf8(v.hkdf_salt), utf8(v.hkdf_info), 256);
  assert.equal(toHex(key), v.metadata_key);
});

test("SCMD v1 metadata blob opens with WebCrypto", async () => {
  const v = load("metadata_v1.json");
  const blob = hex(v.blob);
  assert.equal(Buffer.from(blob.slice(0, 4)).toString("latin1"), "SCMD");
  const plain = await gcmOpen(hex(v.metadata_key), blob.slice(5, 17), blob.slice(17), blob.slice(0, 5));
  assert.equal(toHex(plain), v.cbor);
});

test("share link fragment carries the content key", () => {
  const link = load("sharelink_v1.json");
  const aead = load("aead_v1.json");
  const url = new URL(link.https_url);
  assert.equal(url.searchParams.get("k"), "3");
  assert.equal(url.searchParams.get("shards").split(",").length, 6);
  const fragment = new URLSearchParams(url.hash.slice(1));
  assert.equal(Buffer.from(fragment.get("key"), "base64url").toString("hex"), aead.content_key);
  assert.equal(fragment.get("name"), "report é.pdf");
});

test("shard CIDs are what an independent UnixFS importer (ipfs add --cid-version=1) gives", async () => {
  const v = load("shards_v1.json");
  const sink = { put: async (cid) => cid, has: async () => false };
  const options = {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: 262144 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
  };
  let checked = 0;
  for (const c of v.cases) {
    for (let i = 0; i < c.shards.length; i++) {
      let last;
      for await (const entry of importer([{ content: hex(c.shards[i]) }], sink, options)) last = entry;
      assert.equal(last.cid.toString(), c.cids[i]);
      checked++;
    }
  }
  assert.equal(checked, 9);
});
