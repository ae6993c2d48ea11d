// Reads of the Market and FileRegistry (views and event logs) through a viem public client:
// the deployment's RPC URL when it has one, else the wallet. Writes live in tx.ts.
import { createClient, custom, http, type Address, type Client, type EIP1193Provider, type Hex, type Log } from "viem";
import { getBalance, getBlockNumber, getContractEvents, readContract, watchContractEvent } from "viem/actions";
import { CID } from "multiformats/cid";
import { marketAbi } from "virtual:scatter-abi";
import type { ChainDeployment } from "./config";

/** The Market version this dapp speaks: its ABI, and bids whose roots are possession trees of format 2. */
export const MARKET_VERSION = 3;

export class MarketVersionError extends Error {}

/** Throws unless `version` is the one this dapp speaks. */
export function checkMarketVersion(version: bigint | number, market: Address): void {
  if (Number(version) !== MARKET_VERSION) {
    throw new MarketVersionError(
      `The Market at ${market} is version ${version}, and this dapp speaks version ${MARKET_VERSION}: open the dapp its own node serves (\`scatter web\`), or point this one at a version ${MARKET_VERSION} deployment.`,
    );
  }
}

export enum Role {
  Hoster = 0,
  Validator = 1,
}
export const NODE_STATUS = ["none", "active", "exiting"] as const;
export const DEAL_STATUS = ["none", "active", "finished", "faulted"] as const;
export type DealState = (typeof DEAL_STATUS)[number];

export interface Params {
  genesis: bigint;
  epochSeconds: number;
  reserveEpochs: number;
  proofWindowEpochs: number;
  maxFaults: number;
  missedQuorumEpochs: number;
  auditBps: number;
  auditEveryBlocks: number;
  collateralBps: number;
  validatorFeeBps: number;
  minHosterStake: bigint;
  minValidatorStake: bigint;
  exitDelay: bigint;
}

export interface Bid {
  bidId: bigint;
  client: Address;
  size: bigint;
  slotCount: number;
  rootPerSlot: boolean;
  pricePerEpoch: bigint;
  durationEpochs: number;
  openSlots: number;
  reservedSlots: number;
  closedSlots: number;
  escrow: bigint;
  postedBlock: bigint;
}

export interface Deal {
  dealId: bigint;
  hoster: Address;
  bidId: bigint;
  slot: number;
  status: DealState;
  faults: number;
  startEpoch: number;
  endEpoch: number;
  paidThrough: number;
  paidEpochs: number;
  failedEpoch: number;
  collateral: bigint;
}

export interface NodeInfo {
  account: Address;
  role: Role;
  stake: bigint;
  locked: bigint;
  capacity: bigint;
  exitAt: bigint;
  status: (typeof NODE_STATUS)[number];
  joinedAt: bigint;
  endpoint: string;
}

export interface BidPosted {
  bidId: bigint;
  client: Address;
  cids: string[];
  origins: string[];
  block: bigint;
}

/** One Market event, decoded, with where it was mined. */
export interface MarketEvent {
  name: string;
  args: Record<string, unknown>;
  block: bigint;
  tx: Hex;
  logIndex: number;
}

/** A bare viem client (actions are imported one by one: a smaller bundle than createPublicClient). */
export function publicClientFor(chain: ChainDeployment, wallet?: EIP1193Provider): Client {
  const transport = chain.rpcUrl ? http(chain.rpcUrl, { batch: { batchSize: 100, wait: 5 } }) : custom(wallet!);
  return createClient({ transport, pollingInterval: 1_000 });
}

export function cidText(bytes: Hex): string {
  try {
    return CID.decode(hexBytes(bytes)).toString();
  } catch {
    return bytes;
  }
}

export function hexBytes(hex: Hex): Uint8Array {
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

export function decodedEvent(log: Log & { eventName?: string; args?: unknown }): MarketEvent {
  return {
    name: log.eventName ?? "unknown",
    args: (log.args ?? {}) as Record<string, unknown>,
    block: log.blockNumber ?? 0n,
    tx: log.transactionHash ?? "0x",
    logIndex: log.logIndex ?? 0,
  };
}

/** Bitmap → slot indexes. */
export function bits(mask: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) if ((mask >>> i) & 1) out.push(i);
  return out;
}

export class MarketReader {
  private params_: Params | null = null;
  private version_: bigint | null = null;
  private bidPosted = new Map<bigint, BidPosted>();
  private bidPostedThrough: bigint;

  constructor(
    readonly client: Client,
    readonly chain: ChainDeployment,
  ) {
    this.bidPostedThrough = chain.block - 1n;
  }

  private read<T>(functionName: string, args: readonly unknown[] = []): Promise<T> {
    return readContract(this.client, { address: this.chain.market, abi: marketAbi, functionName, args }) as Promise<T>;
  }

  /** Resolves when the Market is MARKET_VERSION (read once), else rejects with MarketVersionError. */
  async checkVersion(): Promise<void> {
    this.version_ ??= await this.read<bigint>("VERSION");
    checkMarketVersion(this.version_, this.chain.market);
  }

  async params(): Promise<Params> {
    if (this.params_ === null) {
      const p = await this.read<Record<string, bigint | number>>("params");
      this.params_ = {
        genesis: BigInt(p.genesis ?? 0),
        epochSeconds: Number(p.epochSeconds),
        reserveEpochs: Number(p.reserveEpochs),
        proofWindowEpochs: Number(p.proofWindowEpochs),
        maxFaults: Number(p.maxFaults),
        missedQuorumEpochs: Number(p.missedQuorumEpochs),
        auditBps: Number(p.auditBps),
        auditEveryBlocks: Number(p.auditEveryBlocks),
        collateralBps: Number(p.collateralBps),
        validatorFeeBps: Number(p.validatorFeeBps),
        minHosterStake: BigInt(p.minHosterStake ?? 0),
        minValidatorStake: BigInt(p.minValidatorStake ?? 0),
        exitDelay: BigInt(p.exitDelay ?? 0),
      };
    }
    return this.params_;
  }

  async currentEpoch(): Promise<number> {
    return Number(await this.read<number>("currentEpoch"));
  }

  async counts(): Promise<{ bids: bigint; deals: bigint }> {
    const [bids, deals] = await Promise.all([this.read<bigint>("bidCount"), this.read<bigint>("dealCount")]);
    return { bids, deals };
  }

  blockNumber(): Promise<bigint> {
    return getBlockNumber(this.client, { cacheTime: 0 });
  }

  /** The account's ETH (not its Market balance: see balanceOf). */
  ethBalance(account: Address): Promise<bigint> {
    return getBalance(this.client, { address: account });
  }

  async balanceOf(account: Address): Promise<bigint> {
    return this.read<bigint>("balanceOf", [account]);
  }

  async bid(bidId: bigint): Promise<Bid> {
    const b = await this.read<Record<string, unknown>>("getBid", [bidId]);
    return {
      bidId,
      client: b.client as Address,
      size: BigInt(b.size as bigint),
      slotCount: Number(b.slotCount),
      rootPerSlot: Boolean(b.rootPerSlot),
      pricePerEpoch: BigInt(b.pricePerEpoch as bigint),
      durationEpochs: Number(b.durationEpochs),
      openSlots: Number(b.openSlots),
      reservedSlots: Number(b.reservedSlots),
      closedSlots: Number(b.closedSlots),
      escrow: BigInt(b.escrow as bigint),
      postedBlock: BigInt(b.postedBlock as bigint),
    };
  }

  async deal(dealId: bigint): Promise<Deal> {
    const d = await this.read<Record<string, unknown>>("getDeal", [dealId]);
    return {
      dealId,
      hoster: d.hoster as Address,
      bidId: BigInt(d.bidId as bigint),
      slot: Number(d.slot),
      status: DEAL_STATUS[Number(d.status)] ?? "none",
      faults: Number(d.faults),
      startEpoch: Number(d.startEpoch),
      endEpoch: Number(d.endEpoch),
      paidThrough: Number(d.paidThrough),
      paidEpochs: Number(d.paidEpochs),
      failedEpoch: Number(d.failedEpoch),
      collateral: BigInt(d.collateral as bigint),
    };
  }

  /** The newest `limit` bids, newest first (ids run from 1 to bidCount). */
  async recentBids(limit: number, count?: bigint): Promise<Bid[]> {
    const total = count ?? (await this.counts()).bids;
    const ids: bigint[] = [];
    for (let id = total; id >= 1n && ids.length < limit; id--) ids.push(id);
    return Promise.all(ids.map((id) => this.bid(id)));
  }

  async recentDeals(limit: number, count?: bigint): Promise<Deal[]> {
    const total = count ?? (await this.counts()).deals;
    const ids: bigint[] = [];
    for (let id = total; id >= 1n && ids.length < limit; id--) ids.push(id);
    return Promise.all(ids.map((id) => this.deal(id)));
  }

  async node(role: Role, account: Address): Promise<NodeInfo> {
    const n = await this.read<Record<string, unknown>>("node", [role, account]);
    return {
      account,
      role,
      stake: BigInt(n.stake as bigint),
      locked: BigInt(n.locked as bigint),
      capacity: BigInt(n.capacity as bigint),
      exitAt: BigInt(n.exitAt as bigint),
      status: NODE_STATUS[Number(n.status)] ?? "none",
      joinedAt: BigInt((n.joinedAt as bigint | undefined) ?? 0n),
      endpoint: String(n.endpoint),
    };
  }

  async nodes(role: Role): Promise<NodeInfo[]> {
    const count = await this.read<bigint>("nodeCount", [role]);
    const accounts = count === 0n ? [] : await this.read<readonly Address[]>("nodesPage", [role, 0n, count]);
    return Promise.all(accounts.map((a) => this.node(role, a)));
  }

  /** Market events in [from, to] (all kinds, or only `eventName`), decoded. */
  async events(
    from: bigint,
    to: bigint | "latest" = "latest",
    eventName?: string,
    args?: Record<string, unknown>,
  ): Promise<MarketEvent[]> {
    const logs = await getContractEvents(this.client, {
      address: this.chain.market,
      abi: marketAbi,
      ...(eventName ? { eventName } : {}),
      ...(args ? { args } : {}),
      fromBlock: from < this.chain.block ? this.chain.block : from,
      toBlock: to,
    } as Parameters<typeof getContractEvents>[1]);
    return logs.map((l) => decodedEvent(l as Log & { eventName?: string; args?: unknown }));
  }

  /** `BidPosted` of each bid (its CIDs and origins), read incrementally. */
  async bidsPosted(): Promise<Map<bigint, BidPosted>> {
    const head = await this.blockNumber();
    if (head > this.bidPostedThrough) {
      for (const e of await this.events(this.bidPostedThrough + 1n, head, "BidPosted")) {
        const a = e.args as { bidId: bigint; client: Address; cids: Hex[]; origins: string[] };
        this.bidPosted.set(a.bidId, { bidId: a.bidId, client: a.client, cids: a.cids.map(cidText), origins: [...a.origins], block: e.block });
      }
      this.bidPostedThrough = head;
    }
    return this.bidPosted;
  }

  /** Watch every Market event as it is mined (polling getLogs); returns the unwatch function. */
  watch(onEvents: (events: MarketEvent[]) => void, onError: (err: Error) => void): () => void {
    return watchContractEvent(this.client, {
      address: this.chain.market,
      abi: marketAbi,
      poll: true,
      pollingInterval: 1_000,
      onLogs: (logs) => onEvents(logs.map((l) => decodedEvent(l as Log & { eventName?: string; args?: unknown }))),
      onError,
    });
  }
}
