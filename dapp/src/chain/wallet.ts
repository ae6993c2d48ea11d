// The injected wallet (EIP-1193, window.ethereum): connect, account, chain, switching.
// State lives in one object; the UI subscribes. Keys never leave the wallet.
import { createClient, custom, numberToHex, type Account, type Address, type Chain, type Client, type EIP1193Provider, type Transport } from "viem";
import { chainName, type ChainDeployment, type DappConfig } from "./config";
import { explain } from "./errors";

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

export type WalletStatus = "none" | "disconnected" | "connecting" | "connected";

export interface WalletState {
  status: WalletStatus;
  account: Address | null;
  chainId: number | null;
  /** A plain message for the last failure (no wallet, locked, rejected, wrong chain). */
  message: string | null;
}

const UNRECOGNIZED_CHAIN = 4902;

export class Wallet {
  state: WalletState;
  private listeners = new Set<(s: WalletState) => void>();

  constructor(
    readonly config: DappConfig,
    readonly provider: EIP1193Provider | undefined = window.ethereum,
  ) {
    this.state = {
      status: provider ? "disconnected" : "none",
      account: null,
      chainId: null,
      message: provider ? null : "No browser wallet found. Install one (MetaMask, Rabby, Frame…) to sign; the market is readable without it.",
    };
    if (provider) {
      provider.on("accountsChanged", (accounts) => this.onAccounts(accounts as Address[]));
      provider.on("chainChanged", (id) => this.set({ chainId: Number(id) }));
      provider.on("disconnect", () => this.set({ status: "disconnected", account: null }));
    }
  }

  subscribe(fn: (s: WalletState) => void): () => void {
    this.listeners.add(fn);
    fn(this.state);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<WalletState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }

  private onAccounts(accounts: Address[]): void {
    const account = accounts[0] ?? null;
    this.set(
      account
        ? { account, status: "connected", message: null }
        : { account: null, status: "disconnected", message: "The wallet disconnected this site, or it is locked." },
    );
  }

  /** Reconnect silently when the site was connected before (eth_accounts asks nothing). */
  async restore(): Promise<void> {
    if (!this.provider) return;
    try {
      const [accounts, chainId] = await Promise.all([
        this.provider.request({ method: "eth_accounts" }),
        this.provider.request({ method: "eth_chainId" }),
      ]);
      this.set({ chainId: Number(chainId) });
      if (accounts[0]) this.set({ account: accounts[0], status: "connected" });
    } catch (err) {
      this.set({ message: explain(err) });
    }
  }

  async connect(): Promise<void> {
    if (!this.provider) {
      this.set({ message: this.state.message });
      return;
    }
    this.set({ status: "connecting", message: null });
    try {
      const accounts = await this.provider.request({ method: "eth_requestAccounts" });
      const chainId = Number(await this.provider.request({ method: "eth_chainId" }));
      if (!accounts[0]) {
        this.set({ status: "disconnected", chainId, message: "Your wallet is locked: unlock it, then connect again." });
        return;
      }
      this.set({ status: "connected", account: accounts[0], chainId, message: null });
    } catch (err) {
      this.set({ status: "disconnected", account: null, message: explain(err) });
    }
  }

  /** Forget the account in this page (wallets keep their own permission list). */
  disconnect(): void {
    this.set({ status: "disconnected", account: null, message: null });
  }

  /** The deployment of the wallet's chain, or null when it is another chain. */
  deployment(): ChainDeployment | null {
    return this.state.chainId === null ? null : (this.config.chains.get(this.state.chainId) ?? null);
  }

  onRightChain(): boolean {
    return this.deployment() !== null;
  }

  /** Ask the wallet to switch to `chainId`, adding the network first when it does not know it. */
  async switchTo(chainId: number): Promise<void> {
    if (!this.provider) return;
    const chainIdHex = numberToHex(chainId);
    try {
      await this.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chainIdHex }] });
    } catch (err) {
      const code = (err as { code?: number }).code ?? (err as { data?: { originalError?: { code?: number } } }).data?.originalError?.code;
      const target = this.config.chains.get(chainId);
      if (code !== UNRECOGNIZED_CHAIN || !target?.rpcUrl) {
        this.set({ message: code === UNRECOGNIZED_CHAIN ? `Your wallet does not know ${chainName(chainId)}; add it with its RPC URL.` : explain(err) });
        return;
      }
      try {
        await this.provider.request({
          method: "wallet_addEthereumChain",
          params: [
            {
              chainId: chainIdHex,
              chainName: target.name,
              nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
              rpcUrls: [target.rpcUrl],
              ...(target.explorer ? { blockExplorerUrls: [target.explorer] } : {}),
            },
          ],
        });
      } catch (addErr) {
        this.set({ message: explain(addErr) });
        return;
      }
    }
    this.set({ chainId: Number(await this.provider.request({ method: "eth_chainId" })), message: null });
  }

  /**
   * The one gate before anything is signed or sent: a wallet, an unlocked and connected account,
   * and a chain where Scatter is deployed. Throws a plain message otherwise, before the wallet is asked.
   */
  signer(): { provider: EIP1193Provider; account: Address } {
    if (!this.provider) throw new Error(this.state.message ?? "No browser wallet found.");
    if (!this.state.account) throw new Error("Connect your wallet first (unlock it if it is locked).");
    if (!this.onRightChain()) throw new Error(`Your wallet is on ${chainName(this.state.chainId ?? 0)}: switch to ${chainName(this.config.defaultChain)} first; nothing was sent.`);
    return { provider: this.provider, account: this.state.account };
  }

  /** A viem client that signs with the connected account (throws a plain message otherwise). */
  client(): Client<Transport, Chain | undefined, Account> {
    const { provider, account } = this.signer();
    return createClient({ account, transport: custom(provider) });
  }
}
