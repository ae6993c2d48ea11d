import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createWalletClient, http, recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { equal, fromHex, toHex } from "../src/formats/bytes";
import { NotEnoughShardsError } from "../src/formats/errors";
import { carUploadTypedData, downloadFile, encodeFile, type EncodedFile, pushCar, PushRejectedError } from "../src/pipeline";

const account = privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const wallet = createWalletClient({ account, transport: http("http://127.0.0.1:9") }); // local signing only
const market = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const chainId = 31337;

interface Received {
  url: string;
  headers: IncomingMessage["headers"];
  body: Uint8Array;
}
const received: Received[] = [];
/** shard CID -> CAR bytes served at /ipfs/<cid>; "bad" serves altered bytes. */
const served = new Map<string, Uint8Array>();
let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "";
      if (req.method === "PUT") {
        received.push({ url, headers: req.headers, body: new Uint8Array(Buffer.concat(chunks)) });
        const refuse = url.includes("/slots/5/");
        res.writeHead(refuse ? 409 : 200, { "Content-Type": "application/json" });
        res.end(refuse ? "slot not reserved by this hoster\n" : JSON.stringify({ state: "verified" }));
        return;
      }
      const cid = /\/ipfs\/([a-z0-9]+)/.exec(url)?.[1] ?? "";
      const car = served.get(cid);
      res.writeHead(car ? 200 : 404, { "Content-Type": "application/vnd.ipld.car" });
      res.end(car ? Buffer.from(car) : "not found");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let encoded: Promise<EncodedFile> | null = null;
const data = new Uint8Array(600_000).map((_, i) => (i * 31 + (i >> 9)) % 251);
const enc = (): Promise<EncodedFile> => (encoded ??= encodeFile(new Blob([data]), { k: 2, n: 4, blockSize: 64 * 1024, segmentSize: 16 * 1024 }));

describe("hoster endpoints", { timeout: 120_000 }, () => {
  it("pushes a CAR signed as the Python signs a CarUpload", async () => {
    const e = await enc();
    const shard = e.shards[1]!;
    const answer = await pushCar(base, 7n, 1, shard, { wallet, account, chainId, market });
    expect(answer).toEqual({ state: "verified" });
    const got = received.at(-1)!;
    expect(got.url).toBe("/scatter/v1/bids/7/slots/1/car");
    expect(equal(got.body, new Uint8Array(await shard.car.arrayBuffer()))).toBe(true);
    const carSha256 = fromHex(String(got.headers["x-scatter-car-sha256"]));
    const upload = { bidId: 7n, slot: 1, root: shard.cidBytes, carSha256, carSize: got.body.length, expires: Number(got.headers["x-scatter-expires"]) };
    const signer = await recoverTypedDataAddress({
      ...carUploadTypedData(upload, chainId, market),
      signature: String(got.headers["x-scatter-signature"]) as `0x${string}`,
    });
    expect(signer).toBe(account.address);
    expect(toHex(carSha256)).toBe(toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", got.body as Uint8Array<ArrayBuffer>))));
  });

  it("reports a hoster's refusal with its reason", async () => {
    const e = await enc();
    await expect(pushCar(base, 7n, 5, e.shards[0]!, { wallet, account, chainId, market })).rejects.toThrow(PushRejectedError);
    await expect(pushCar(base, 7n, 5, e.shards[0]!, { wallet, account, chainId, market })).rejects.toThrow(/not reserved/);
  });

  it("downloads any k shards, passing over a missing and a corrupted one", async () => {
    const e = await enc();
    const cars = await Promise.all(e.shards.map(async (s) => new Uint8Array(await s.car.arrayBuffer())));
    const bad = cars[1]!.slice();
    bad[1000] = (bad[1000] ?? 0) ^ 1; // in the first leaf: only its CID tells
    served.set(e.shards[1]!.cid, bad); // shard 0 is not served at all
    served.set(e.shards[2]!.cid, cars[2]!);
    served.set(e.shards[3]!.cid, cars[3]!);
    const sources = e.shards.map((s) => ({ index: s.index, cid: s.cid, gateways: [base] }));
    const out = await downloadFile(sources, 2, e.contentKey, { sha256: e.sha256 });
    expect(equal(new Uint8Array(await out.arrayBuffer()), data)).toBe(true);
    served.delete(e.shards[3]!.cid);
    await expect(downloadFile(sources, 2, e.contentKey)).rejects.toBeInstanceOf(NotEnoughShardsError);
  });
});
