import { keccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { type Bytes, concat } from "../src/formats/bytes";
import { FormatError } from "../src/formats/errors";
import { depth, NODE, POSSESSION_VERSION, PossessionRoot, possessionRoot, ROOT_SIZE, rootHex, SEGMENT } from "../src/formats/possession";
import { hex, vector } from "./vectors";

interface PossessionVectors {
  version: number;
  cases: { size: number; data_hex: string; root: string }[];
}

/** The specification as code (docs/trust.md), with viem's keccak256 (JavaScript, not scatter.wasm). */
function referenceRoot(data: Bytes): Bytes {
  const h = (x: Uint8Array): Bytes => keccak256(x, "bytes").slice(0, 20);
  const padded = new Uint8Array(SEGMENT << depth(data.length));
  padded.set(data);
  let level: Bytes[] = [];
  for (let i = 0; i < padded.length; i += SEGMENT) level.push(h(padded.subarray(i, i + SEGMENT)));
  while (level.length > 1) level = level.flatMap((_, i) => (i % 2 === 0 ? [h(concat([level[i]!, level[i + 1]!]))] : []));
  return concat([level[0]!, new Uint8Array(12)]);
}

function generate(size: number): Bytes {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = ((i * 7) ^ ((i >> 8) * 13)) & 255;
  return data;
}

describe("possession tree v2 (keccak in scatter.wasm)", () => {
  it("is format 2: 20-byte nodes in a 32-byte root", () => {
    expect([POSSESSION_VERSION, NODE, ROOT_SIZE]).toEqual([2, 20, 32]);
  });

  const vectors = vector<PossessionVectors>("possession_vectors.json");
  it("reads vectors of its own format", () => {
    expect(vectors.version).toBe(POSSESSION_VERSION);
  });
  for (const c of vectors.cases) {
    it(`root of ${c.size} bytes (Python's vector)`, async () => {
      expect(rootHex(await possessionRoot(hex(c.data_hex)))).toBe(c.root);
    });
  }

  // 1..9 segments, each a byte short, exact and a byte over (odd leaf counts, one and two padding
  // levels), then around the 256 KiB chunk a call hashes (2048 segments) and several chunks.
  const sizes = [1, 40, 127, 128, 129];
  for (let k = 2; k <= 9; k++) sizes.push(k * SEGMENT - 1, k * SEGMENT, k * SEGMENT + 1);
  sizes.push(262143, 262144, 262145, 2 * 262144 + 128, 4 * 262144, 4 * 262144 + 1, 5 * 262144 + 77);
  for (const size of sizes) {
    it(`root of ${size} bytes is the reference's`, async () => {
      const data = generate(size);
      expect(rootHex(await possessionRoot(data))).toBe(rootHex(referenceRoot(data)));
    });
  }

  it("streams in pieces of any size to the same root, past one 256 KiB chunk", async () => {
    const data = new Uint8Array(3 * 262144 + 1000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    const whole = rootHex(await possessionRoot(data));
    const builder = await PossessionRoot.create();
    for (let pos = 0; pos < data.length; pos += 100_001) builder.update(data.subarray(pos, pos + 100_001));
    expect(rootHex(builder.finish())).toBe(whole);
    const other = data.slice();
    other[500_000] = (other[500_000] ?? 0) ^ 1;
    expect(rootHex(await possessionRoot(other))).not.toBe(whole);
  });

  it("refuses a root whose last 12 bytes are not zero (a format-1 root) or of another length", () => {
    const v1 = new Uint8Array(32).fill(0xab, 0, 24); // a 24-byte node, then 8 zero bytes
    expect(() => rootHex(v1)).toThrow(FormatError);
    expect(() => rootHex(new Uint8Array(20).fill(1))).toThrow(FormatError);
    expect(rootHex(new Uint8Array(32).fill(0xab, 0, 20))).toBe(`0x${"ab".repeat(20)}${"00".repeat(12)}`);
  });
});
