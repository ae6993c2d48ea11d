/**
 * The hosters' public endpoints, as the CLI uses them (scatter/sdk/push.py, scatter/sdk/fetch.py,
 * scatter/protocol/upload.py):
 *
 * - pushCar: `PUT {endpoint}/scatter/v1/bids/{bidId}/slots/{slot}/car`, the CAR as the body, signed by
 *   the bid's client over EIP-712 `CarUpload(bidId, slot, root, carSha256, carSize, expires)` in the
 *   domain {name: "Scatter Hoster", version: "2", chainId, verifyingContract: Market};
 * - fetchCar: a shard's CAR from a trustless gateway (`GET {gateway}/ipfs/{cid}?format=car`, depth-first
 *   with duplicates), as a Blob that decodeFile verifies block by block against the CID;
 * - downloadFile: any k shards from their gateways, decoded, decrypted and checked (sha256).
 */
import { CID } from "multiformats/cid";
import type { Account, Address, WalletClient } from "viem";
import { type Bytes, type Hex, toHex } from "../formats/bytes";
import { openCarBlob } from "../formats/car";
import { BadShardError, NotEnoughShardsError, ScatterError } from "../formats/errors";
import { decodeFile, type DecodeProgress } from "./decode";
import { carSha256, type EncodedShard } from "./encode";
import { exportFile } from "../formats/unixfs";

export const API_PREFIX = "/scatter/v1";
/** How long a push signature stays valid (seconds). */
export const SIGNATURE_LIFETIME = 3600;
const CAR_TYPE = "application/vnd.ipld.car";

export const CAR_UPLOAD_TYPES = {
  CarUpload: [
    { name: "bidId", type: "uint256" },
    { name: "slot", type: "uint8" },
    { name: "root", type: "bytes" },
    { name: "carSha256", type: "bytes32" },
    { name: "carSize", type: "uint64" },
    { name: "expires", type: "uint64" },
  ],
} as const;

export interface CarUpload {
  bidId: bigint;
  slot: number;
  /** The slot's binary CID (the shard's). */
  root: Bytes;
  carSha256: Bytes;
  carSize: number;
  /** Unix seconds after which the signature is void. */
  expires: number;
}

/** The typed data a push signs (what `CarUpload.typed_data` gives in Python). */
export function carUploadTypedData(u: CarUpload, chainId: number, market: Address) {
  return {
    domain: { name: "Scatter Hoster", version: "2", chainId, verifyingContract: market },
    types: CAR_UPLOAD_TYPES,
    primaryType: "CarUpload" as const,
    message: {
      bidId: u.bidId,
      slot: u.slot,
      root: `0x${toHex(u.root)}` as Hex,
      carSha256: `0x${toHex(u.carSha256)}` as Hex,
      carSize: BigInt(u.carSize),
      expires: BigInt(u.expires),
    },
  };
}

export class PushRejectedError extends ScatterError {
  override name = "PushRejectedError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface PushOptions {
  wallet: WalletClient;
  account: Account | Address;
  chainId: number;
  market: Address;
  /** The CAR's sha256 if already known. */
  carSha256?: Bytes;
  signal?: AbortSignal;
}

/** Push a shard's CAR for `slot` of `bidId` to the hoster that reserved it; returns the hoster's JSON. */
export async function pushCar(endpoint: string, bidId: bigint, slot: number, shard: EncodedShard, opts: PushOptions): Promise<unknown> {
  const upload: CarUpload = {
    bidId,
    slot,
    root: shard.cidBytes,
    carSha256: opts.carSha256 ?? (await carSha256(shard.car)),
    carSize: shard.car.size,
    expires: Math.floor(Date.now() / 1000) + SIGNATURE_LIFETIME,
  };
  const signature = await opts.wallet.signTypedData({ account: opts.account, ...carUploadTypedData(upload, opts.chainId, opts.market) });
  const url = `${endpoint.replace(/\/+$/, "")}${API_PREFIX}/bids/${bidId}/slots/${slot}/car`;
  const what = `slot ${slot} of bid ${bidId}`;
  let resp: Response;
  try {
    resp = await fetch(url, {
      method: "PUT",
      body: shard.car,
      headers: {
        "X-Scatter-Signature": signature,
        "X-Scatter-Car-Sha256": `0x${toHex(upload.carSha256)}`,
        "X-Scatter-Expires": String(upload.expires),
        "Content-Type": CAR_TYPE,
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (e) {
    throw new ScatterError(`hoster ${endpoint} unreachable while pushing ${what}: ${(e as Error).message}`);
  }
  const text = await resp.text();
  if (resp.status >= 300) {
    const reason = text.trim().split("\n")[0] || resp.statusText;
    throw new PushRejectedError(`hoster ${endpoint} refused the CAR of ${what} (${resp.status}): ${reason.slice(0, 300)}`, resp.status);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}

/** A shard's CAR from the first gateway that answers (not yet verified: decodeFile checks every block). */
export async function fetchCar(gateways: readonly string[], cid: string, signal?: AbortSignal): Promise<Blob> {
  const errors: string[] = [];
  for (const gateway of gateways) {
    const url = `${gateway.replace(/\/+$/, "")}/ipfs/${cid}?format=car&dag-scope=all&car-order=dfs&car-dups=y`;
    try {
      const resp = await fetch(url, { headers: { Accept: `${CAR_TYPE}; version=1; order=dfs; dups=y` }, ...(signal ? { signal } : {}) });
      if (resp.ok) return await resp.blob();
      errors.push(`${gateway}: HTTP ${resp.status}`);
    } catch (e) {
      errors.push(`${gateway}: ${(e as Error).message}`);
    }
  }
  throw new ScatterError(`no gateway served shard ${cid}${errors.length ? ` (${errors.join("; ")})` : ""}`);
}

export interface ShardSource {
  index: number;
  cid: string;
  /** Most likely holders first. */
  gateways: string[];
}

/**
 * Any k shards of a file -> its verified plaintext. Data shards are tried first (no decoding work);
 * a shard no gateway serves, or whose CAR fails its CID, is replaced by the next one while any remain.
 */
export async function downloadFile(
  sources: readonly ShardSource[],
  k: number,
  key: Bytes,
  opts: { sha256?: Bytes; onProgress?: (p: DecodeProgress) => void; signal?: AbortSignal } = {},
): Promise<Blob> {
  const queue = [...sources].sort((a, b) => a.index - b.index);
  const have: { source: ShardSource; car: Blob }[] = [];
  const failed: string[] = [];
  for (;;) {
    while (have.length < k && queue.length > 0) {
      const batch = queue.splice(0, k - have.length);
      const got = await Promise.allSettled(batch.map((s) => fetchCar(s.gateways, s.cid, opts.signal)));
      got.forEach((r, i) => {
        const source = batch[i] as ShardSource;
        if (r.status === "fulfilled") have.push({ source, car: r.value });
        else failed.push(`shard ${source.index}: ${(r.reason as Error).message}`);
      });
    }
    if (have.length < k) throw new NotEnoughShardsError(have.length, k, failed.join("; "));
    try {
      return await decodeFile(
        have.map((h) => ({ cid: h.source.cid, car: h.car })),
        key,
        { ...(opts.sha256 ? { sha256: opts.sha256 } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) },
      );
    } catch (e) {
      // decodeFile already dropped the bad shards it could name; with fewer than k left, fetch more.
      if (!(e instanceof NotEnoughShardsError || e instanceof BadShardError) || queue.length === 0) throw e;
      failed.push((e as Error).message);
      const bad = new Set(await badInputs(have.map((h) => ({ cid: h.source.cid, car: h.car }))));
      for (let i = have.length - 1; i >= 0; i--) if (bad.has(i)) have.splice(i, 1);
      if (bad.size === 0) have.pop();
    }
  }
}

/** Which of these CAR inputs fail on their own (a block not matching its CID, a wrong root). */
async function badInputs(inputs: { cid: string; car: Blob }[]): Promise<number[]> {
  const bad: number[] = [];
  for (const [i, input] of inputs.entries()) {
    try {
      const car = await openCarBlob(input.car);
      if (!car.root.equals(CID.parse(input.cid))) throw new ScatterError("wrong root");
      for await (const piece of exportFile(car.root, car.get)) void piece;
    } catch {
      bad.push(i);
    }
  }
  return bad;
}
