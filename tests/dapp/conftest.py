"""The dapp in a real browser: Debian's Chromium (headless, never downloaded) driven by Playwright
against a real ``scatter dev`` network (anvil, hoster and validator processes, the web node that
serves the built dapp), with an injected EIP-1193 wallet backed by anvil's dev accounts.

The wallet (:data:`PROVIDER_JS`) forwards every ``eth_*`` call to anvil's RPC, where anvil signs
``eth_sendTransaction`` and ``eth_signTypedData_v4`` for its unlocked dev accounts. A test steers it
through ``window.__wallet``: ``reject`` (the next signature request is refused with code 4001),
``locked`` (no account until unlocked: ``eth_requestAccounts`` fails as wallets do, with -32002
"pending", 4100 "unauthorized", or answers ``[]`` "empty"; signing requests fail with 4100),
``lock()`` (lock while connected: ``accountsChanged`` with no account), ``chainId`` (the chain it
claims to be on; switching changes it), and it counts what was asked of it in ``window.__wallet.log``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import pytest
from web3 import Web3

from scatter.bench.dapp import CHROMIUM, CHROMIUM_ARGS
from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.chain.deploy import connect
from scatter.chain.market import Market
from scatter.dev import DevNetwork
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes
from scatter.sdk.pricing import BidPrice, price_bid
from tests.waiting import wait_until as wait_until

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots of each page (linked from the README): kept after the run.
SCREENSHOTS = Path(os.environ.get("SCATTER_SCREENSHOTS", ROOT / "build" / "screenshots"))
#: The dapp account: dev client 2 (1 is the CLI's default; the web node's /pins uses 9).
DAPP_ACCOUNT = 2
#: Bounds on waits for outcomes on a loaded machine; never asserted on.
PATIENCE = 180_000  # ms


PROVIDER_JS = """
(() => {
  const cfg = %(config)s;
  const state = { account: cfg.account, chainId: cfg.chainId, reject: false, locked: cfg.locked, log: [] };
  const listeners = {};
  const emit = (name, value) => (listeners[name] || []).forEach((fn) => fn(value));
  let id = 0;
  const rpc = async (method, params) => {
    const r = await fetch(cfg.rpcUrl, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }),
    });
    const body = await r.json();
    if (body.error) {
      const e = new Error(body.error.message); e.code = body.error.code; e.data = body.error.data; throw e;
    }
    return body.result;
  };
  const refuse = (code, message) => { const e = new Error(message); e.code = code; return e; };
  const SIGNING = ["eth_sendTransaction", "eth_signTypedData_v4", "personal_sign", "eth_sign"];
  window.__wallet = Object.assign(state, {
    setChain(chainId) { state.chainId = chainId; emit("chainChanged", "0x" + chainId.toString(16)); },
    unlock() { state.locked = false; emit("accountsChanged", [state.account]); },
    lock() { state.locked = "unauthorized"; emit("accountsChanged", []); },
  });
  window.ethereum = {
    isScatterTestWallet: true,
    on(name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
    removeListener(name, fn) { listeners[name] = (listeners[name] || []).filter((f) => f !== fn); },
    async request({ method, params }) {
      state.log.push(method);
      switch (method) {
        case "eth_requestAccounts":
          if (state.reject) { state.reject = false; throw refuse(4001, "User rejected the request."); }
          if (state.locked === "pending") throw refuse(-32002, "A request is already pending: unlock");
          if (state.locked === "unauthorized") throw refuse(4100, "The account has not been authorized");
          if (state.locked === "empty") return [];
          state.connected = true;
          return [state.account];
        case "eth_accounts":
          return state.connected && !state.locked ? [state.account] : [];
        case "eth_chainId":
          return "0x" + state.chainId.toString(16);
        case "net_version":
          return String(state.chainId);
        case "wallet_switchEthereumChain": {
          const want = parseInt(params[0].chainId, 16);
          if (want !== cfg.realChainId) throw refuse(4902, "Unrecognized chain ID");
          window.__wallet.setChain(want);
          return null;
        }
        case "wallet_addEthereumChain":
          return null;
      }
      if (SIGNING.includes(method)) {
        if (state.locked) throw refuse(4100, "The account has not been authorized");
        if (state.reject) { state.reject = false; throw refuse(4001, "User rejected the request."); }
        if (state.chainId !== cfg.realChainId) throw refuse(4901, "wrong chain");
      }
      return rpc(method, params);
    },
  };
})();
"""


@dataclass
class DappEnv:
    net: DevNetwork
    origin: GatewayServer
    origin_store: EmbeddedBlockStore
    url: str
    rpc_url: str
    chain_id: int
    account: str
    requests: list[str] = field(default_factory=list)

    def public_content(self, size: int) -> str:
        """A random UnixFS file of ``size`` bytes that only the origin serves; its CID."""
        root, blocks = import_bytes(os.urandom(size), cid_version=1)
        for block in blocks:
            self.origin_store.put(block)
        self.origin_store.pin(root)
        return str(root)

    def market(self) -> Market:
        """The dev network's Market, read over the chain RPC."""
        assert self.net.deployment is not None
        return Market(connect(self.rpc_url), self.net.deployment.market)

    def allowed_hosts(self) -> set[str]:
        """Where the dapp may send requests: itself, the chain RPC, hosters' endpoints, the origin."""
        urls = [self.url, self.rpc_url, self.origin.url]
        urls += [c.url for c in self.net.children]
        return {urlsplit(u).netloc for u in urls}


@pytest.fixture(scope="package")
def dapp_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DappEnv]:
    """A dev network (3 hosters, 3 validators) serving the dapp. Package-scoped: stopped after
    the last dapp test of this worker, not kept running (and checking deals) to the session's end."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from scatter.web.dapp import dapp_built

    assert dapp_built(), "the dapp is not built: run `make dapp`"
    state = tmp_path_factory.mktemp("dapp") / ".scatter" / "dev"
    net = DevNetwork(state_dir=state, epoch_seconds=2, rpc_port=free_port(), hosters=3, validators=3, port=0)
    origin_store = EmbeddedBlockStore(state.parent / "origin", durable=False)
    origin = GatewayServer(create_gateway_app(origin_store)).start()
    try:
        net.start(ready_timeout=600)
        assert net.web_url is not None and net.deployment is not None
        yield DappEnv(
            net=net,
            origin=origin,
            origin_store=origin_store,
            url=net.web_url,
            rpc_url=net.rpc_url,
            chain_id=net.deployment.chain_id,
            account=str(wallet.dev_account(DAPP_ACCOUNT).address),
        )
    finally:
        origin.stop()
        net.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API leaves an event
    loop running in the worker's main thread while it is open, and every later test on that
    worker that calls ``asyncio.run`` would fail."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import expect

    expect.set_options(timeout=PATIENCE)  # a bound on waits for outcomes, never asserted on
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


PageFactory = Callable[..., Any]
#: How a locked wallet answers ``eth_requestAccounts``: -32002 (a request is pending, MetaMask),
#: 4100 (unauthorized), or an empty account list.
Locked = Literal["pending", "unauthorized", "empty"]
#: The requests that sign or send: none may reach the wallet on the wrong chain or when locked.
SIGNING = ("eth_sendTransaction", "eth_signTypedData_v4", "personal_sign", "eth_sign")


def signing_requests(page: Any) -> list[str]:
    """What the page asked the injected wallet to sign or send, in order."""
    return [m for m in page.evaluate("window.__wallet.log") if m in SIGNING]


@pytest.fixture()
def open_dapp(browser: Any, dapp_env: DappEnv) -> Iterator[PageFactory]:
    """``open_dapp(wallet=True, chain_id=None, locked=None, path="#/market", width=1280)``: a fresh
    browser context on the dapp; every request it makes is recorded in ``dapp_env.requests``."""
    contexts: list[Any] = []

    def make(
        *,
        wallet: bool = True,
        chain_id: int | None = None,
        locked: Locked | None = None,
        path: str = "#/market",
        width: int = 1280,
        dark: bool = False,
    ) -> Any:
        ctx = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
        )
        contexts.append(ctx)
        ctx.set_default_timeout(PATIENCE)
        ctx.on("request", lambda request: dapp_env.requests.append(request.url))
        if wallet:
            config = {
                "account": dapp_env.account,
                "chainId": chain_id or dapp_env.chain_id,
                "realChainId": dapp_env.chain_id,
                "rpcUrl": dapp_env.rpc_url,
                "locked": locked,
            }
            ctx.add_init_script(PROVIDER_JS % {"config": json.dumps(config)})
        page = ctx.new_page()
        page.goto(f"{dapp_env.url}/{path}")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under build/screenshots (the README links them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def quote_pin(page: Any, env: DappEnv, cid: str, replicas: int, hours: int) -> None:
    """On the pin page: connect, fill in a pin of ``cid`` from the test origin and read its root."""
    from playwright.sync_api import expect

    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-account")).to_be_visible()
    page.get_by_test_id("pin-cid").fill(cid)
    page.get_by_test_id("pin-origin").fill(env.origin.url)
    page.get_by_test_id("pin-replicas").fill(str(replicas))
    page.get_by_test_id("pin-duration").fill(str(hours))
    page.get_by_test_id("pin-unit").select_option("hours")
    page.get_by_test_id("pin-check").click()
    expect(page.get_by_test_id("pin-root")).to_be_visible()


def quote_store(page: Any, source: Path) -> None:
    """On the store page: connect, encode ``source`` as 1/3 shards, wait for the quote (nothing
    signed yet)."""
    from playwright.sync_api import expect

    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-account")).to_be_visible()
    page.get_by_test_id("store-file").set_input_files(str(source))
    page.get_by_test_id("store-shards").select_option("1/3")
    page.get_by_test_id("store-encode").click()
    expect(page.get_by_test_id("store-total")).to_be_visible()


def store_file(page: Any, source: Path) -> None:
    """On the store page: connect, store ``source`` as 1/3 shards, wait until it is done."""
    from playwright.sync_api import expect

    quote_store(page, source)
    page.get_by_test_id("store-sign").click()
    expect(page.get_by_test_id("store-done")).to_be_visible()


class _EthAt:
    """``w3.eth`` as it was at ``block``: "latest" is that block (what price_bid reads)."""

    def __init__(self, w3: Web3, block: int) -> None:
        self._w3, self._block = w3, block

    def get_block(self, ident: int | Literal["latest"]) -> Any:
        return self._w3.eth.get_block(self._block if ident == "latest" else ident)

    @property
    def max_priority_fee(self) -> int:
        return self._w3.eth.max_priority_fee


def sdk_price_at(market: Market, block: int, *, size: int, epochs: int, per_gib: int | None) -> BidPrice:
    """The Python SDK's price of a bid (price_bid) as it would have been at ``block``."""
    at_block = cast(Web3, type("W3AtBlock", (), {"eth": _EthAt(market.w3, block)})())
    return price_bid(at_block, market.params(), size=size, duration=epochs, per_gib_epoch=per_gib)


def have_chromium() -> bool:
    return shutil.which(CHROMIUM) is not None
