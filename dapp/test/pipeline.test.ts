import { describe, expect, it } from "vitest";
import { concat, equal, randomBytes, sha256, toHex } from "../src/formats/bytes";
import * as dagPB from "@ipld/dag-pb";
import type { CID } from "multiformats/cid";
import { carHeader, openCarBlob } from "../src/formats/car";
import { uvarint } from "../src/formats/bytes";
import { IntegrityError, NotEnoughShardsError, WrongKeyError } from "../src/formats/errors";
import { carSha256, decodeFile, encodeFile, type EncodedFile, type ShardInput } from "../src/pipeline";

function randomFile(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let pos = 0; pos < size; pos += 65536) out.set(randomBytes(Math.min(65536, size - pos)), pos);
  return out;
}
const bytesOf = async (blob: Blob): Promise<Uint8Array<ArrayBuffer>> => new Uint8Array(await blob.arrayBuffer());
const cars = (enc: EncodedFile, use: number[]): ShardInput[] => use.map((i) => ({ cid: enc.shards[i]!.cid, car: enc.shards[i]!.car }));

/** The shard's CAR re-ordered depth-first from the root, as a trustless gateway sends it, as a stream. */
async function dfsStream(car: Blob, tamper = false): Promise<ReadableStream<Uint8Array>> {
  const { root, get } = await openCarBlob(car);
  const parts: Uint8Array[] = [carHeader(root)];
  const walk = async (cid: CID): Promise<void> => {
    const bytes = (await get(cid)).slice();
    if (tamper && cid.code === 0x55) bytes[0] = (bytes[0] ?? 0) ^ 1;
    parts.push(uvarint(cid.bytes.length + bytes.length), cid.bytes, bytes);
    if (cid.code === 0x70) for (const link of dagPB.decode(bytes).Links) await walk(link.Hash as CID);
  };
  await walk(root);
  return new Blob(parts as Uint8Array<ArrayBuffer>[]).stream();
}

describe("encodeFile / decodeFile", { timeout: 120_000 }, () => {
  const data = randomFile(5 * 1024 * 1024 + 12345);
  const file = new File([data], "report.bin", { type: "application/x-test" });
  const params = { k: 3, n: 6, blockSize: 256 * 1024, segmentSize: 64 * 1024 };
  let encoded: Promise<EncodedFile> | null = null;
  const enc = (): Promise<EncodedFile> => (encoded ??= encodeFile(file, params));

  it("encodes: sizes, sha256, one CAR per shard, progress to the end", async () => {
    const seen: number[] = [];
    const e = await encodeFile(new Blob([data.subarray(0, 100_000)]), { k: 2, n: 4 }, (p) => seen.push(p.done));
    expect(seen.at(-1)).toBe(100_000);
    expect(e.shards.map((s) => s.size)).toEqual([e.shardSize, e.shardSize, e.shardSize, e.shardSize]);
    const full = await enc();
    expect(full.name).toBe("report.bin");
    expect(full.mediaType).toBe("application/x-test");
    expect(toHex(full.sha256)).toBe(toHex(await sha256(data)));
    expect(new Set(full.shards.map((s) => s.cid)).size).toBe(6);
    expect(full.shards.every((s) => /^0x[0-9a-f]{64}$/.test(s.root) && s.root.endsWith("0000000000000000"))).toBe(true);
    expect((await carSha256(full.shards[0]!.car)).length).toBe(32);
  });

  it("decodes from the parity CARs only", async () => {
    const e = await enc();
    const out = await decodeFile(cars(e, [3, 4, 5]), e.contentKey, { sha256: e.sha256 });
    expect(equal(await bytesOf(out), data)).toBe(true);
  });

  it("decodes CAR streams in depth-first order (a trustless gateway's), and refuses an altered block", async () => {
    const e = await enc();
    const streams = await Promise.all([1, 3, 4].map(async (i) => ({ cid: e.shards[i]!.cid, car: await dfsStream(e.shards[i]!.car) })));
    expect(equal(await bytesOf(await decodeFile(streams, e.contentKey, { sha256: e.sha256 })), data)).toBe(true);
    const bad = [{ cid: e.shards[1]!.cid, car: await dfsStream(e.shards[1]!.car, true) }, ...cars(e, [3, 4])];
    await expect(decodeFile(bad, e.contentKey)).rejects.toThrow(/does not match its CID/);
  });

  it("drops a shard whose CAR has an altered block and uses another", async () => {
    const e = await enc();
    const car = await bytesOf(e.shards[0]!.car);
    car[car.length - 5000] = (car[car.length - 5000] ?? 0) ^ 1;
    const inputs: ShardInput[] = [{ cid: e.shards[0]!.cid, car: new Blob([car]) }, ...cars(e, [1, 2, 5])];
    expect(equal(await bytesOf(await decodeFile(inputs, e.contentKey, { sha256: e.sha256 })), data)).toBe(true);
    await expect(decodeFile(inputs.slice(0, 3), e.contentKey)).rejects.toBeInstanceOf(NotEnoughShardsError);
  });

  it("refuses a CAR whose root is not the shard's CID", async () => {
    const e = await enc();
    const swapped: ShardInput[] = [{ cid: e.shards[0]!.cid, car: e.shards[1]!.car }, ...cars(e, [2, 3])];
    await expect(decodeFile(swapped, e.contentKey)).rejects.toThrow(/CAR root/);
  });

  it("refuses a wrong key and a wrong sha256", async () => {
    const e = await enc();
    const wrong = e.contentKey.slice();
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    await expect(decodeFile(cars(e, [0, 1, 2]), wrong)).rejects.toBeInstanceOf(WrongKeyError);
    const sha = e.sha256.slice();
    sha[0] = (sha[0] ?? 0) ^ 1;
    await expect(decodeFile(cars(e, [0, 1, 2]), e.contentKey, { sha256: sha })).rejects.toBeInstanceOf(IntegrityError);
  });

  it("round-trips an empty file and replication (1/3)", async () => {
    const empty = await encodeFile(new Blob([]), { k: 3, n: 6 });
    expect((await decodeFile(cars(empty, [5, 4, 3]), empty.contentKey, { sha256: empty.sha256 })).size).toBe(0);
    const small = data.subarray(0, 3000);
    const rep = await encodeFile(new Blob([small]), { k: 1, n: 3 });
    expect(rep.erasure.codec).toBe(2); // replication, as --shards 1/3
    expect(toHex(await bytesOf(await decodeFile(cars(rep, [2]), rep.contentKey)))).toBe(toHex(concat([small])));
  });
});
