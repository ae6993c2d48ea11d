import { describe, expect, it } from "vitest";
import { concat } from "../src/formats/bytes";
import { Chunker } from "../src/formats/chunker";

const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31 + 7) % 251);

/** Feed `data` in pieces of the given sizes (cycled); the chunks returned and the rest. */
function run(chunker: Chunker, pieces: number[]): { chunks: Uint8Array[]; rest: Uint8Array } {
  const chunks: Uint8Array[] = [];
  let i = 0;
  for (let pos = 0; pos < data.length; i++) {
    const n = pieces[i % pieces.length]!;
    chunks.push(...chunker.push(data.subarray(pos, pos + n)));
    pos += n;
  }
  return { chunks, rest: chunker.rest() };
}

describe("Chunker", () => {
  const splits = [[1], [7], [1000], [999, 1, 1001], [3000], [10_000], [0, 5, 0, 2000]];
  for (const holdLast of [false, true]) {
    for (const pieces of splits) {
      it(`cuts the same chunks from pieces of ${pieces.join(",")} (holdLast ${holdLast})`, () => {
        const { chunks, rest } = run(new Chunker(1000, holdLast), pieces);
        expect(chunks.every((c) => c.length === 1000)).toBe(true);
        expect(concat([...chunks, rest])).toEqual(data);
        // 10 000 bytes = 10 whole chunks: the last one is held back only with holdLast
        expect(chunks.length).toBe(holdLast ? 9 : 10);
        expect(rest.length).toBe(holdLast ? 1000 : 0);
      });
    }
  }

  it("returns a partial rest and starts empty after it", () => {
    const chunker = new Chunker(300);
    expect(chunker.push(data.subarray(0, 1000)).length).toBe(3);
    expect(chunker.buffered).toBe(100);
    expect(chunker.peek()).toEqual(data.subarray(900, 1000));
    expect(chunker.rest()).toEqual(data.subarray(900, 1000));
    expect(chunker.buffered).toBe(0);
    expect(chunker.rest().length).toBe(0);
  });

  it("does not copy chunks that lie whole in a piece, and gives fresh arrays for assembled ones", () => {
    const chunker = new Chunker(1000);
    const [aligned] = chunker.push(data.subarray(0, 1000));
    expect(aligned!.buffer).toBe(data.buffer);
    chunker.push(data.subarray(0, 10));
    const [assembled] = chunker.push(data.subarray(10, 1000));
    expect(assembled!.buffer).not.toBe(data.buffer);
    const [next] = (chunker.push(data.subarray(0, 500)), chunker.push(data.subarray(500, 1000)));
    expect(next!.buffer).not.toBe(assembled!.buffer); // a returned chunk is never overwritten
  });

  it("with holdLast, releases a full chunk only once a byte follows it", () => {
    const chunker = new Chunker(1000, true);
    expect(chunker.push(data.subarray(0, 1000))).toEqual([]);
    expect(chunker.buffered).toBe(1000);
    expect(chunker.push(data.subarray(1000, 1001))).toEqual([data.subarray(0, 1000)]);
    expect(chunker.rest()).toEqual(data.subarray(1000, 1001));
  });

  it("refuses a chunk size that is not a positive integer", () => {
    expect(() => new Chunker(0)).toThrow(RangeError);
    expect(() => new Chunker(1.5)).toThrow(RangeError);
  });
});
