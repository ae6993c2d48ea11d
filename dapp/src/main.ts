// The dapp's entry: read the deployment, start the wallet, route between pages (#/market, …).
import { chainName, loadConfig } from "./chain/config";
import { removeLeftovers } from "./pipeline/spool";
import { App, type Page } from "./ui/app";
import { h, replace, shortAddress } from "./ui/dom";
import { filesPage, storePage } from "./ui/files-page";
import { marketPage } from "./ui/market-page";
import { operatorsPage } from "./ui/operators-page";
import { pinPage } from "./ui/pin-page";
import { txList } from "./ui/tx-list";
import { walletBar } from "./ui/wallet-bar";

const PAGES: Record<string, { title: string; page: Page }> = {
  market: { title: "Market", page: marketPage },
  pin: { title: "Pin a CID", page: pinPage },
  store: { title: "Store a private file", page: storePage },
  files: { title: "My files", page: filesPage },
  operators: { title: "Operators", page: operatorsPage },
};

const byId = (id: string): HTMLElement => document.getElementById(id)!;

async function boot(): Promise<void> {
  // Shard CARs left in OPFS by a store that never ended (a closed tab, a crash): deleted now;
  // <html data-spool-swept="N"> says the sweep is over and how many directories it deleted.
  void removeLeftovers()
    .catch(() => [])
    .then((removed) => (document.documentElement.dataset.spoolSwept = String(removed.length)));
  const main = byId("main");
  if (location.hash.startsWith("#key=")) {
    // A share link: no wallet, no chain; the formats pipeline only (loaded on use).
    const { renderSharePage } = await import("./ui/share-page");
    replace(byId("wallet"));
    renderSharePage(main, location);
    return;
  }
  let app: App;
  try {
    app = new App(await loadConfig());
  } catch (err) {
    replace(main, h("h1", {}, "Scatter"), h("p", { class: "notice error", role: "alert", "data-testid": "config-error" }, err instanceof Error ? err.message : String(err)));
    return;
  }
  walletBar(app, byId("wallet"), byId("notice"));
  txList(app, byId("txs"));
  await app.wallet.restore();

  let stop = (): void => {};
  let shownChain = app.chain.chainId;
  const route = (): void => {
    const name = location.hash.replace(/^#\/?/, "").split(/[/?]/)[0] || "market";
    const entry = PAGES[name] ?? PAGES.market!;
    stop();
    for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
      if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = `${entry.title} · Scatter`;
    const root = h("div", { class: "page", "data-page": name });
    replace(main, root);
    stop = entry.page(app, root);
    const about = app.chain;
    replace(byId("about"), `${chainName(about.chainId)} · Market ${shortAddress(about.market)} · FileRegistry ${shortAddress(about.fileRegistry)} · config from ${app.config.source}`);
  };
  window.addEventListener("hashchange", () => {
    route();
    main.focus({ preventScroll: true });
  });
  // A page reads the chain the wallet is on: show it again when that changes.
  app.wallet.subscribe(() => {
    if (app.chain.chainId !== shownChain) {
      shownChain = app.chain.chainId;
      route();
    }
  });
  route();
}

void boot();
