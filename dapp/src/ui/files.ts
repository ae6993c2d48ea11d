// Store a private file and My files: the chain and hoster steps around the formats pipeline
// (../pipeline: encode, push, download; ../formats: metadata key, records, share links), in the
// order `scatter upload` runs them: encode -> bid -> (reserved) push -> filled -> metadata, with the
// wallet's key request signed before the bid (the CLI holds its key; a wallet may refuse).
// Loaded only when one of these pages opens (a separate chunk with the pipeline's WebAssembly).
import { createWalletClient, custom, parseEventLogs, type Address, type Hex, type WalletClient } from "viem";
import { fileRegistryAbi, marketAbi } from "virtual:scatter-abi";
import { fromHex, own, toHex, type Bytes } from "../formats/bytes";
import { deriveMetadataKey } from "../formats/keyderiv";
import { decryptMetadata, encryptMetadata, type FileMetadata } from "../formats/metadata";
import { parseShards } from "../formats/params";
import { formatShareLink, shareLinkForFile } from "../formats/sharelink";
import { downloadFile, encodeFile, fileVersionOf, pushCar, type EncodedFile } from "../pipeline";
import { defaultWorkers } from "../pipeline/sinks";
import { bits, Role, type Deal } from "../chain/market";
import type { App } from "./app";
import { waitingSlots } from "./bid-actions";
import { bytes, h, shortAddress, table } from "./dom";

const POLL_MS = 1_000;
const PUSH_RETRY_MS = 3_000;

function signer(app: App): { wallet: WalletClient; account: Address } {
  const { provider, account } = app.wallet.signer();
  return { wallet: createWalletClient({ account, transport: custom(provider) }), account };
}

const keys = new Map<string, Bytes>();

/** The wallet's metadata key (one signature per session, the same as the CLI's). */
export async function metadataKey(app: App): Promise<Bytes> {
  const { wallet, account } = signer(app);
  const id = `${app.chain.chainId}:${account.toLowerCase()}`;
  let key = keys.get(id);
  if (!key) {
    key = await deriveMetadataKey(wallet, account);
    keys.set(id, key);
  }
  return key;
}

export interface StoreUi {
  stage(name: string, text: string, done?: number, total?: number): void;
  shard(slot: number, text: string): void;
}

/**
 * Encode `file` (k/n), ready to bid; the UI shows the cost from it. The CARs go to OPFS files
 * (written by at least one worker), `enc.cars`: remove them once the store ends or is abandoned.
 */
export async function encode(file: File, shards: string, ui: StoreUi): Promise<EncodedFile> {
  const erasure = parseShards(shards);
  ui.stage("encode", "encrypting and erasure-coding…", 0, file.size);
  const params = { k: erasure.k, n: erasure.n, workers: Math.max(1, defaultWorkers()) };
  const enc = await encodeFile(file, params, (p) => ui.stage("encode", "encrypting and erasure-coding…", p.done, p.total));
  ui.stage("encode", `${enc.shards.length} shards of ${bytes(enc.shardSize)}`, 1, 1);
  return enc;
}

/**
 * Key, bid, push each CAR to the hoster that reserved its slot, wait for every fill, record the
 * metadata. A shard's CAR file is deleted once its slot is filled, and all of them when this ends.
 */
export async function store(app: App, enc: EncodedFile, perSlot: bigint, epochs: number, ui: StoreUi): Promise<bigint> {
  try {
    return await storeEncoded(app, enc, perSlot, epochs, ui);
  } finally {
    await enc.cars?.remove();
  }
}

async function storeEncoded(app: App, enc: EncodedFile, perSlot: bigint, epochs: number, ui: StoreUi): Promise<bigint> {
  const { wallet, account } = signer(app);
  const chain = app.chain;
  const n = enc.shards.length;
  await app.reader.checkVersion(); // the roots are of format 2: only a VERSION 3 Market takes them
  // The key first: refusing it then leaves nothing behind, where refusing it after the bid would
  // leave a paid bid with no record in My files.
  ui.stage("key", "sign the key request in your wallet (once per session)…");
  const key = await metadataKey(app);
  ui.stage("key", "metadata key ready", 1, 1);
  ui.stage("bid", "confirm the bid in your wallet…");
  const receipt = await app.txs.send({
    label: `Bid for ${enc.name} (${n} shards)`,
    address: chain.market,
    abi: marketAbi,
    functionName: "bid",
    args: [enc.shards.map((s) => `0x${toHex(s.cidBytes)}` as Hex), enc.shards.map((s) => s.root), BigInt(enc.shardSize), n, perSlot, epochs, []],
    value: perSlot * BigInt(n) * BigInt(epochs),
  });
  const [posted] = parseEventLogs({ abi: marketAbi, eventName: "BidPosted", logs: receipt.logs });
  const bidId = (posted?.args as { bidId?: bigint } | undefined)?.bidId;
  if (bidId === undefined) throw new Error("The receipt holds no BidPosted event.");
  ui.stage("bid", `bid #${bidId} posted`, 1, 1);

  const reader = app.reader;
  const pushedTo = new Map<number, string>(); // slot -> hoster it was pushed to
  const retryAt = new Map<number, number>();
  const filled = new Set<number>();
  ui.stage("push", "waiting for hosters to reserve the slots…", 0, n);
  for (;;) {
    const bid = await reader.bid(bidId);
    const open = new Set(bits(bid.openSlots, bid.slotCount));
    const reserved = new Set(bits(bid.reservedSlots, bid.slotCount));
    for (let s = 0; s < n; s++) {
      if (!open.has(s) && !filled.has(s)) {
        filled.add(s);
        await enc.cars?.removeShard(s);
        ui.shard(s, "filled: the hoster proved it holds the shard");
      }
    }
    ui.stage("push", `${filled.size} of ${n} slots filled`, filled.size, n);
    if (filled.size === n) break;
    for (const s of reserved) {
      if (filled.has(s) || (retryAt.get(s) ?? 0) > Date.now()) continue;
      const reservation = (await reservationOf(app, bidId, s)) as Address;
      if (pushedTo.get(s) === reservation.toLowerCase()) continue;
      const node = await reader.node(Role.Hoster, reservation);
      const shard = enc.shards[s]!;
      ui.shard(s, `pushing ${bytes(shard.car.size)} to ${shortAddress(reservation)} (${node.endpoint})…`);
      try {
        await pushCar(node.endpoint, bidId, s, shard, { wallet, account, chainId: chain.chainId, market: chain.market });
        pushedTo.set(s, reservation.toLowerCase());
        ui.shard(s, `pushed to ${shortAddress(reservation)}; it checks the shard, then fills the slot`);
      } catch (err) {
        retryAt.set(s, Date.now() + PUSH_RETRY_MS);
        ui.shard(s, `push to ${shortAddress(reservation)} failed, retrying: ${(err as Error).message}`);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }

  const record: FileMetadata = { name: enc.name, mediaType: enc.mediaType, current: fileVersionOf(enc, bidId), history: [] };
  const blob = await encryptMetadata(key, record);
  ui.stage("metadata", "confirm the metadata record in your wallet…");
  await app.txs.send({ label: `Record ${enc.name}`, address: chain.fileRegistry, abi: fileRegistryAbi, functionName: "add", args: [`0x${toHex(blob)}`] });
  ui.stage("metadata", "recorded: the file is in My files", 1, 1);
  return bidId;
}

async function reservationOf(app: App, bidId: bigint, slot: number): Promise<string> {
  const { readContract } = await import("viem/actions");
  const res = (await readContract(app.reader.client, { address: app.chain.market, abi: marketAbi, functionName: "reservationOf", args: [bidId, slot] })) as { hoster: Address };
  return res.hoster;
}

// ------------------------------------------------------------------------------ my files

export interface MyFile {
  fileId: bigint;
  metadata: FileMetadata;
  bidId: bigint | null;
  deals: Deal[];
  live: number;
  endpoints: Map<number, string[]>; // shard -> hoster endpoints, live first
}

/** The connected owner's entries, decrypted here, with each shard's deals. */
export async function myFiles(app: App): Promise<MyFile[]> {
  const { account } = signer(app);
  const key = await metadataKey(app);
  const { getContractEvents, readContract } = await import("viem/actions");
  const client = app.reader.client;
  const registry = app.chain.fileRegistry;
  const from = app.chain.block;
  const logs = [
    ...(await getContractEvents(client, { address: registry, abi: fileRegistryAbi, eventName: "FileAdded", args: { owner: account }, fromBlock: from })),
    ...(await getContractEvents(client, { address: registry, abi: fileRegistryAbi, eventName: "FileReplaced", args: { owner: account }, fromBlock: from })),
  ].sort((a, b) => Number((a.blockNumber ?? 0n) - (b.blockNumber ?? 0n)) || (a.logIndex ?? 0) - (b.logIndex ?? 0));
  const latest = new Map<bigint, Hex>();
  for (const log of logs) {
    const args = log.args as { fileId: bigint; metadata: Hex };
    latest.set(args.fileId, args.metadata);
  }
  const epoch = await app.reader.currentEpoch();
  const out: MyFile[] = [];
  for (const [fileId, blob] of latest) {
    const entry = (await readContract(client, { address: registry, abi: fileRegistryAbi, functionName: "entry", args: [fileId] })) as { owner: Address };
    if (entry.owner.toLowerCase() !== account.toLowerCase()) continue; // removed or given away
    let metadata: FileMetadata;
    try {
      metadata = await decryptMetadata(key, own(fromHex(blob)));
    } catch {
      continue; // not readable with this wallet's key
    }
    const bidId = metadata.current.bidId;
    const deals: Deal[] = [];
    const endpoints = new Map<number, string[]>();
    if (bidId !== null) {
      const fills = await app.reader.events(from, "latest", "SlotFilled", { bidId });
      for (const e of fills) deals.push(await app.reader.deal((e.args as { dealId: bigint }).dealId));
      deals.sort((a, b) => Number(isLive(b, epoch)) - Number(isLive(a, epoch)));
      for (const d of deals) {
        const node = await app.reader.node(Role.Hoster, d.hoster);
        if (node.endpoint) endpoints.set(d.slot, [...(endpoints.get(d.slot) ?? []), node.endpoint]);
      }
    }
    const live = new Set(deals.filter((d) => isLive(d, epoch)).map((d) => d.slot)).size;
    out.push({ fileId, metadata, bidId, deals, live, endpoints });
  }
  return out.sort((a, b) => Number(b.fileId - a.fileId));
}

const isLive = (d: Deal, epoch: number): boolean => d.status === "active" && d.endEpoch >= epoch;

export function healthLabel(f: MyFile): { label: string; state: string } {
  const { k, n } = f.metadata.current.erasure;
  const state = f.live > k ? "healthy" : f.live === k ? "at-risk" : "lost";
  return { label: `${f.live}/${n} ${state === "healthy" ? "live" : state === "at-risk" ? "AT RISK" : "LOST"}`, state };
}

/** Any k shards from the hosters, verified, decoded, decrypted and sha256-checked, then saved. */
export async function download(f: MyFile, onProgress: (done: number, total: number) => void): Promise<void> {
  const v = f.metadata.current;
  const sources = v.shards.map((cid, index) => ({ index, cid, gateways: f.endpoints.get(index) ?? [] }));
  const blob = await downloadFile(sources, v.erasure.k, v.contentKey, { sha256: v.sha256, onProgress: (p) => onProgress(p.done, p.total) });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: f.metadata.name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function shareLink(app: App, f: MyFile): string {
  const hosts = [...new Set([...f.endpoints.values()].flat())];
  return formatShareLink(shareLinkForFile(f.metadata, undefined, { chainId: app.chain.chainId, market: app.chain.market, hosts }));
}

/** rm: cancel the open, unreserved slots (refunded), then remove the entry. */
export async function remove(app: App, f: MyFile): Promise<void> {
  if (f.bidId !== null) {
    for (const slot of waitingSlots(await app.reader.bid(f.bidId))) {
      await app.txs.send({ label: `Cancel slot ${slot} of bid #${f.bidId}`, address: app.chain.market, abi: marketAbi, functionName: "cancel", args: [f.bidId, slot] });
    }
  }
  await app.txs.send({ label: `Remove ${f.metadata.name}`, address: app.chain.fileRegistry, abi: fileRegistryAbi, functionName: "remove", args: [f.fileId] });
}

export function filesTable(files: MyFile[], actions: (f: MyFile) => HTMLElement): HTMLElement {
  return table(
    "Your files (decrypted in this browser)",
    ["File", "Size", "Shards", "Health", "Hosters (paid through)", "Stored until epoch", ""],
    files.map((f) => {
      const v = f.metadata.current;
      const health = healthLabel(f);
      const live = f.deals.filter((d) => d.status === "active");
      return [
        h("span", { title: `file #${f.fileId}` }, f.metadata.name),
        bytes(v.size),
        `${v.erasure.k}/${v.erasure.n}`,
        h("span", { class: `badge ${health.state}`, "data-testid": "file-health" }, health.label),
        live.map((d) => `${d.slot}: ${shortAddress(d.hoster)} (${d.paidThrough >= d.startEpoch ? d.paidThrough : "—"})`).join(", ") || "—",
        live.length ? String(Math.min(...live.map((d) => d.endEpoch))) : "—",
        actions(f),
      ];
    }),
    "none yet: store one.",
  );
}

