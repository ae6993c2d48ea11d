// Driven by tests/dapp/test_formats_ts.py (skipped when run alone): encodes the Python test's input
// with the TS pipeline, and decodes the CARs the Python pipeline wrote, so the Python side can
// compare bytes, CIDs, CARs and possession roots both ways.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/formats/bytes";
import { privateKeyToAccount } from "viem/accounts";
import { carSha256, carUploadTypedData, decodeFile, encodeFile } from "../src/pipeline";

const env = process.env;
const dir = env["SCATTER_XCHECK_DIR"];

describe.skipIf(dir === undefined)("cross-check with the Python pipeline", { timeout: 300_000 }, () => {
  const d = dir as string;
  const spec = (): { k: number; n: number; block_size: number; segment_size: number; key: string; salt: string; python: { index: number; cid: string }[];
    push: { private_key: string; chain_id: number; market: string };
  } =>
    JSON.parse(readFileSync(join(d, "spec.json"), "utf8"));

  it("encodes the input as the Python does", async () => {
    const s = spec();
    const input = readFileSync(join(d, "input.bin"));
    const enc = await encodeFile(new Blob([input]), {
      k: s.k,
      n: s.n,
      blockSize: s.block_size,
      segmentSize: s.segment_size,
      key: fromHex(s.key),
      salt: fromHex(s.salt),
    });
    const shards = [];
    for (const shard of enc.shards) {
      writeFileSync(join(d, `ts-${shard.index}.car`), new Uint8Array(await shard.car.arrayBuffer()));
      shards.push({ index: shard.index, cid: shard.cid, root: shard.root, size: shard.size, car_sha256: toHex(await carSha256(shard.car)) });
    }
    // A push signature over shard 2's CAR, for the Python to check (CarUpload.signer).
    const account = privateKeyToAccount(s.push.private_key as `0x${string}`);
    const shard = enc.shards[2]!;
    const upload = { bidId: 7n, slot: 2, root: shard.cidBytes, carSha256: await carSha256(shard.car), carSize: shard.car.size, expires: 2_000_000_000 };
    const signature = await account.signTypedData(carUploadTypedData(upload, s.push.chain_id, s.push.market as `0x${string}`));
    const push = { bid_id: 7, slot: 2, expires: upload.expires, car_size: upload.carSize, signature };
    const out = { sha256: toHex(enc.sha256), ciphertext_length: enc.ciphertextLength, shards, push };
    writeFileSync(join(d, "ts-encoded.json"), JSON.stringify(out));
    expect(shards).toHaveLength(s.n);
  });

  it("decodes the Python's CARs", async () => {
    const s = spec();
    const inputs = s.python.map((p) => ({ cid: p.cid, car: new Blob([readFileSync(join(d, `py-${p.index}.car`))]) }));
    const plain = await decodeFile(inputs, fromHex(s.key));
    writeFileSync(join(d, "ts-decoded.bin"), new Uint8Array(await plain.arrayBuffer()));
  });
});
