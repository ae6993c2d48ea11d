import { describe, expect, it } from "vitest";
import { concat, toHex } from "../src/formats/bytes";
import { decodeShards, encodeBytes, type ShardReader } from "../src/formats/erasure";
import { MismatchedShardsError, NotEnoughShardsError, TruncatedShardError } from "../src/formats/errors";
import { type Codec, erasureParams } from "../src/formats/params";
import { UnixFSImporter } from "../src/formats/unixfs";
import { hex, vector } from "./vectors";

interface ShardsVector {
  ciphertext: string;
  cases: { k: number; n: number; block_size: number; codec: number; shards: string[]; cids: string[] }[];
}
const v = vector<ShardsVector>("formats/shards_v1.json");
const ct = hex(v.ciphertext);

function reader(data: Uint8Array): ShardReader {
  let pos = 0;
  return {
    read: async (size) => {
      const out = data.slice(pos, pos + size);
      pos += out.length;
      return out;
    },
  };
}
const decode = async (shards: Uint8Array[]): Promise<string> => {
  const parts = [];
  for await (const piece of decodeShards(shards.map(reader))) parts.push(piece);
  return toHex(concat(parts));
};

describe("SCSH v1", () => {
  for (const c of v.cases) {
    const params = erasureParams({ k: c.k, n: c.n, blockSize: c.block_size, codec: c.codec as Codec });
    const shards = c.shards.map(hex);

    it(`encodes ${c.k}/${c.n} codec ${c.codec} byte for byte (zfec in wasm)`, async () => {
      expect((await encodeBytes(params, ct)).map(toHex)).toEqual(c.shards);
    });

    it(`decodes ${c.k}/${c.n} from any k shards (parity only, mixed, reversed)`, async () => {
      expect(await decode(shards.slice(c.n - c.k))).toBe(v.ciphertext);
      expect(await decode([...shards].reverse().slice(0, c.k))).toBe(v.ciphertext);
      if (c.k > 1) expect(await decode([shards[0] as Uint8Array, ...shards.slice(c.n - c.k + 1)])).toBe(v.ciphertext);
    });

    it(`gives ${c.k}/${c.n} shards the CIDs of ipfs add --cid-version=1`, async () => {
      const cids = [];
      for (const shard of shards) {
        const imp = new UnixFSImporter();
        await imp.write(shard);
        await imp.finish();
        cids.push(imp.root.toString());
      }
      expect(cids).toEqual(c.cids);
    });
  }

  const c = v.cases[0] as ShardsVector["cases"][number];
  const shards = c.shards.map(hex);

  it("refuses fewer than k shards", async () => {
    await expect(decode(shards.slice(0, c.k - 1))).rejects.toBeInstanceOf(NotEnoughShardsError);
    await expect(decode([shards[0] as Uint8Array, shards[0] as Uint8Array, shards[1] as Uint8Array])).rejects.toBeInstanceOf(NotEnoughShardsError);
  });

  it("refuses a truncated shard, naming it", async () => {
    const cut = (shards[4] as Uint8Array).slice(0, -1);
    await expect(decode([shards[3] as Uint8Array, cut, shards[5] as Uint8Array])).rejects.toMatchObject({ name: "TruncatedShardError", index: 4 });
    await expect(decode([cut, shards[3] as Uint8Array, shards[5] as Uint8Array])).rejects.toBeInstanceOf(TruncatedShardError);
  });

  it("refuses shards of another file or other parameters", async () => {
    const other = (shards[5] as Uint8Array).slice();
    other[30] = (other[30] ?? 0) ^ 1; // file id
    await expect(decode([shards[3] as Uint8Array, shards[4] as Uint8Array, other])).rejects.toBeInstanceOf(MismatchedShardsError);
    const forged = [3, 4, 5].map((i) => (shards[i] as Uint8Array).slice());
    for (const s of forged) s[30] = (s[30] ?? 0) ^ 1; // the same forged file id on all: caught by the decoded stripe
    await expect(decode(forged)).rejects.toBeInstanceOf(MismatchedShardsError);
  });
});
