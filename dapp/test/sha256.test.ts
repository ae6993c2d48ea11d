import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toHex } from "../src/formats/bytes";
import { Sha256 } from "../src/formats/sha256";

const data = Uint8Array.from({ length: (1 << 20) + 3000 }, (_, i) => (i * 131 + 17) % 256);
const reference = (d: Uint8Array): string => createHash("sha256").update(d).digest("hex");

describe("Sha256 (sha256.c in scatter.wasm)", () => {
  it("gives the FIPS 180-4 digests of the empty string and 'abc'", async () => {
    expect(toHex((await Sha256.create()).digest())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex((await Sha256.create()).update(new TextEncoder().encode("abc")).digest())).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("matches node's sha256 for every length around the block and padding edges", async () => {
    for (let len = 0; len < 300; len++) {
      const d = data.subarray(0, len);
      expect(toHex((await Sha256.create()).update(d).digest())).toBe(reference(d));
    }
  });

  it("streams in pieces of any size, past the 1 MiB copy into wasm memory", async () => {
    for (const piece of [1, 63, 64, 65, 100_000, 1 << 20, data.length]) {
      const h = await Sha256.create();
      for (let pos = 0; pos < data.length; pos += piece) h.update(data.subarray(pos, pos + piece));
      expect(toHex(h.digest())).toBe(reference(data));
    }
  });

  it("keeps concurrent digests apart and refuses a second digest()", async () => {
    const [a, b] = [await Sha256.create(), await Sha256.create()];
    a.update(data.subarray(0, 1000));
    b.update(data.subarray(0, 2000));
    a.update(data.subarray(1000, 5000));
    expect(toHex(a.digest())).toBe(reference(data.subarray(0, 5000)));
    expect(toHex(b.digest())).toBe(reference(data.subarray(0, 2000)));
    expect(() => a.digest()).toThrow(/already/);
    expect(toHex((await Sha256.create()).update(data.subarray(0, 7)).digest())).toBe(reference(data.subarray(0, 7))); // a reused context starts clean
  });
});
