// The wallet in the header: connect, the account and its balance, the chain, and what to do
// when something is off (no wallet, locked, rejected, wrong chain).
import { chainName, SEPOLIA } from "../chain/config";
import type { App } from "./app";
import { eth, h, replace, shortAddress } from "./dom";

export function walletBar(app: App, bar: HTMLElement, notice: HTMLElement): void {
  const { wallet, config } = app;
  let balanceFor = "";

  const render = (): void => {
    const s = wallet.state;
    if (s.status === "none") {
      replace(bar, h("span", { class: "muted", "data-testid": "wallet-status" }, "No wallet"));
    } else if (s.status === "connected" && s.account) {
      const balance = h("span", { class: "balance", "data-testid": "wallet-balance" }, "…");
      replace(
        bar,
        h("span", { class: "chain", "data-testid": "wallet-chain" }, chainName(s.chainId ?? 0)),
        h("span", { class: "account", title: s.account, "data-testid": "wallet-account" }, shortAddress(s.account)),
        balance,
        h("button", { type: "button", class: "ghost", onclick: () => wallet.disconnect() }, "Disconnect"),
      );
      balanceFor = `${s.account}@${s.chainId}`;
      const want = balanceFor;
      app.reader
        .ethBalance(s.account)
        .then((wei) => {
          if (want === balanceFor) balance.textContent = eth(wei, 4);
        })
        .catch(() => {
          balance.textContent = "balance unavailable";
        });
    } else {
      replace(
        bar,
        h(
          "button",
          { type: "button", class: "primary", "data-testid": "connect", disabled: s.status === "connecting", onclick: () => void wallet.connect() },
          s.status === "connecting" ? "Connecting…" : "Connect wallet",
        ),
      );
    }

    const messages: HTMLElement[] = [];
    if (s.message) messages.push(h("p", { class: "notice warn", "data-testid": "wallet-message" }, s.message));
    if (s.status === "connected" && !wallet.onRightChain()) {
      const offers = [config.defaultChain, ...(config.chains.has(SEPOLIA) ? [SEPOLIA] : [])].filter((c, i, a) => a.indexOf(c) === i);
      messages.push(
        h(
          "div",
          { class: "notice error", "data-testid": "wrong-chain" },
          h("p", {}, `Your wallet is on ${chainName(s.chainId ?? 0)}, where Scatter is not deployed. Switch to continue; the market below is read from ${chainName(config.defaultChain)}.`),
          ...offers.map((c) =>
            h("button", { type: "button", class: "primary", "data-testid": `switch-${c}`, onclick: () => void wallet.switchTo(c) }, `Switch to ${chainName(c)}`),
          ),
        ),
      );
    }
    replace(notice, ...messages);
  };

  wallet.subscribe(render);
  app.txs.subscribe((records) => {
    if (records[0]?.status === "confirmed" || records[0]?.status === "failed") render();
  });
}
