import { describe, expect, it } from "vitest";
import { CarBuilder, openCarBlob } from "../src/formats/car";
import { concat, toHex } from "../src/formats/bytes";
import { exportFile, UnixFSImporter } from "../src/formats/unixfs";
import { vector } from "./vectors";

interface CidVector {
  name: string;
  recipe: { kind: string; text?: string; byte?: number | string };
  length: number;
  chunk_size?: number;
  max_links?: number;
  cidv1_raw_leaves: string;
}

function data(vec: CidVector): Uint8Array<ArrayBuffer> {
  const r = vec.recipe;
  if (r.kind === "literal") return new TextEncoder().encode(r.text ?? "") as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(vec.length);
  if (r.kind === "repeat") out.fill(typeof r.byte === "string" ? parseInt(r.byte, 16) : (r.byte ?? 0));
  else for (let i = 0; i < out.length; i++) out[i] = i % 251;
  return out;
}

async function cidOfBytes(bytes: Uint8Array<ArrayBuffer>, chunk?: number, links?: number, piece = 1 << 20): Promise<string> {
  const imp = new UnixFSImporter(chunk, links);
  for (let pos = 0; pos < bytes.length; pos += piece) await imp.write(bytes.subarray(pos, pos + piece));
  await imp.finish();
  return imp.root.toString();
}

describe("UnixFS as ipfs add --cid-version=1", { timeout: 120_000 }, () => {
  const vectors = [
    ...vector<{ vectors: CidVector[] }>("unixfs_cid_vectors.json").vectors,
    ...vector<{ vectors: CidVector[] }>("unixfs_cid_vectors_independent.json").vectors.filter((v) => v.length < 50_000_000),
  ];
  for (const vec of vectors) {
    it(`${vec.name} (${vec.length} bytes)`, async () => {
      expect(await cidOfBytes(data(vec), vec.chunk_size, vec.max_links, 100_003)).toBe(vec.cidv1_raw_leaves);
    });
  }

  it("round-trips through a CAR, every block verified", async () => {
    const bytes = data({ name: "x", recipe: { kind: "counter" }, length: 3_000_000, cidv1_raw_leaves: "" });
    const imp = new UnixFSImporter(65536, 5);
    const car = new CarBuilder();
    for (const b of await imp.write(bytes)) car.add(b);
    for (const b of await imp.finish()) car.add(b);
    const blob = await car.finish(imp.root);
    expect(blob.size).toBe(car.size);
    const { root, get } = await openCarBlob(blob);
    expect(root.toString()).toBe(imp.root.toString());
    const out = [];
    for await (const piece of exportFile(root, get)) out.push(piece);
    expect(toHex(concat(out))).toBe(toHex(bytes));
    // A block altered in the CAR is refused (its bytes no longer match its CID).
    const raw = new Uint8Array(await blob.arrayBuffer());
    raw[raw.length - 10_000] = (raw[raw.length - 10_000] ?? 0) ^ 1;
    const bad = await openCarBlob(new Blob([raw]));
    await expect(async () => {
      for await (const piece of exportFile(bad.root, bad.get)) void piece;
    }).rejects.toThrow(/does not match its CID/);
  });
});
