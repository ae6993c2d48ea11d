import { describe, expect, it } from "vitest";
import { PossessionRoot, possessionRoot, rootHex } from "../src/formats/possession";
import { hex, vector } from "./vectors";

interface PossessionVectors {
  cases: { size: number; data_hex: string; root: string }[];
}

describe("possession tree v1 (keccak in scatter.wasm)", () => {
  for (const c of vector<PossessionVectors>("possession_vectors.json").cases) {
    it(`root of ${c.size} bytes`, async () => {
      expect(rootHex(await possessionRoot(hex(c.data_hex)))).toBe(c.root);
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
});
