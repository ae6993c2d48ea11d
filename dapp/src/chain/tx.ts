// Every transaction the dapp sends: simulated first (a revert is explained before anything is
// signed), then signed in the wallet, then followed to its receipt. Each one is a TxRecord the
// UI lists as pending, confirmed or failed, with the reason in words.
import type { Abi, Address, Client, Hex, TransactionReceipt } from "viem";
import { simulateContract, waitForTransactionReceipt, writeContract } from "viem/actions";
import { explain } from "./errors";
import type { Wallet } from "./wallet";

export type TxStatus = "signing" | "pending" | "confirmed" | "failed";

export interface TxRecord {
  id: number;
  label: string;
  status: TxStatus;
  hash: Hex | null;
  message: string | null;
}

export interface TxRequest {
  label: string;
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  value?: bigint;
}

export class TxFailed extends Error {}

export class Transactions {
  readonly records: TxRecord[] = [];
  private listeners = new Set<(records: readonly TxRecord[]) => void>();
  private nextId = 1;

  constructor(
    private readonly wallet: Wallet,
    private readonly publicClient: () => Client,
  ) {}

  subscribe(fn: (records: readonly TxRecord[]) => void): () => void {
    this.listeners.add(fn);
    fn(this.records);
    return () => this.listeners.delete(fn);
  }

  private update(record: TxRecord, patch: Partial<TxRecord>): void {
    Object.assign(record, patch);
    for (const fn of this.listeners) fn(this.records);
  }

  /** Simulate, sign, send and wait; resolves with the receipt, rejects with TxFailed (in words). */
  async send(req: TxRequest): Promise<TransactionReceipt> {
    const record: TxRecord = { id: this.nextId++, label: req.label, status: "signing", hash: null, message: "Confirm in your wallet…" };
    this.records.unshift(record);
    this.update(record, {});
    try {
      const walletClient = this.wallet.client();
      const account = walletClient.account!;
      const client = this.publicClient();
      const { request } = await simulateContract(client, {
        account,
        address: req.address,
        abi: req.abi,
        functionName: req.functionName,
        args: req.args,
        ...(req.value !== undefined ? { value: req.value } : {}),
      });
      const hash = await writeContract(walletClient, { ...request, account, chain: null } as Parameters<typeof writeContract>[1]);
      this.update(record, { status: "pending", hash, message: "Waiting for the transaction to be mined…" });
      const receipt = await waitForTransactionReceipt(client, { hash, pollingInterval: 500 });
      if (receipt.status !== "success") {
        const message = await this.reasonOfFailure(client, req, account.address, receipt.blockNumber);
        this.update(record, { status: "failed", message });
        throw new TxFailed(message);
      }
      this.update(record, { status: "confirmed", message: `Confirmed in block ${receipt.blockNumber}.` });
      return receipt;
    } catch (err) {
      if (err instanceof TxFailed) throw err;
      const message = explain(err);
      this.update(record, { status: "failed", message });
      throw new TxFailed(message);
    }
  }

  /** Replay a reverted transaction at its block to learn the custom error. */
  private async reasonOfFailure(client: Client, req: TxRequest, account: Address, block: bigint): Promise<string> {
    try {
      await simulateContract(client, {
        account,
        address: req.address,
        abi: req.abi,
        functionName: req.functionName,
        args: req.args,
        blockNumber: block - 1n,
        ...(req.value !== undefined ? { value: req.value } : {}),
      });
      return "The transaction reverted on chain.";
    } catch (err) {
      return explain(err);
    }
  }
}
