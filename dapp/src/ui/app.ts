// What every page shares: the config, the wallet, the reader of the chain shown, the transactions.
import type { ChainDeployment, DappConfig } from "../chain/config";
import { MarketReader, publicClientFor } from "../chain/market";
import { Transactions } from "../chain/tx";
import { Wallet } from "../chain/wallet";

export class App {
  readonly wallet: Wallet;
  readonly txs: Transactions;
  private reader_: MarketReader | null = null;

  constructor(readonly config: DappConfig) {
    this.wallet = new Wallet(config);
    this.txs = new Transactions(this.wallet, () => this.reader.client);
  }

  /** The chain shown: the wallet's when Scatter is deployed there, else the page's default. */
  get chain(): ChainDeployment {
    const chain = this.wallet.deployment() ?? this.config.chains.get(this.config.defaultChain);
    if (!chain) throw new Error(`no deployment for chain ${this.config.defaultChain}`);
    return chain;
  }

  get reader(): MarketReader {
    const chain = this.chain;
    if (this.reader_ === null || this.reader_.chain !== chain) {
      this.reader_ = new MarketReader(publicClientFor(chain, this.wallet.provider), chain);
    }
    return this.reader_;
  }
}

/** A page renders into `root` and returns what stops its timers and watchers. */
export type Page = (app: App, root: HTMLElement) => () => void;
