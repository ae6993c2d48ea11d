"""``scatter web``: the web node's read-only API and the dapp, on one port."""

from __future__ import annotations

import typer

from scatter.cli._output import console, err_console


def web_command(
    rpc_url: str | None = typer.Option(
        None, help="Chain RPC (default SCATTER_RPC_URL, the dev network of this directory, localhost)."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (behind a proxy: keep loopback)."),
    port: int = typer.Option(8700, help="Port to listen on (0: a free one)."),
    public_rpc_url: str | None = typer.Option(
        None,
        help="RPC URL the page's visitors read the chain through (default: the node's own RPC only "
        "when it is on loopback; otherwise visitors read through their wallet).",
    ),
    allowed_host: list[str] = typer.Option(
        [], help="Host header to answer (repeat; default the loopback names); also SCATTER_WEB_ALLOWED_HOSTS."
    ),
    allowed_origin: list[str] = typer.Option(
        [], help="Origin sent CORS headers for /api (repeat); also SCATTER_WEB_ALLOWED_ORIGINS."
    ),
    pins: bool = typer.Option(
        False,
        "--pins",
        help="Also serve the IPFS Pinning Service API at /pins, paid from the wallet of "
        "SCATTER_PRIVATE_KEY or SCATTER_KEYSTORE; tokens: `scatter pins token create` (docs/pinning.md).",
    ),
) -> None:
    """Serve the dapp at / (its deployment.json names this chain) and the web node API at /api.

    The dapp is static: wallets sign in the browser, which talks to the chain and to hosters
    directly; this node only serves files and read-only views. No signing key is needed.

    Examples:
      scatter web
      scatter web --rpc-url https://sepolia.example/KEY --public-rpc-url https://rpc.sepolia.org \\
          --allowed-host dapp.example.org
    """
    import signal
    import threading

    from eth_account import Account

    from scatter import config
    from scatter.chain.deploy import connect
    from scatter.chain.tx import rpc_guard
    from scatter.client import Scatter
    from scatter.ipfs.gateway.server import GatewayServer
    from scatter.sdk.network import Network, resolve_deployment, resolve_rpc_url
    from scatter.web.app import create_app, settings_from_env
    from scatter.web.dapp import dapp_built
    from scatter.web.pinning import start_from_env

    config.load_env()
    url, summary = resolve_rpc_url(rpc_url)
    w3 = connect(url)
    chain_id = rpc_guard("reading chain id", lambda: w3.eth.chain_id)
    deployment = resolve_deployment(chain_id, summary, w3)
    network = Network(w3, url, deployment, summary is not None)
    # Read-only: the views never sign, so a throwaway account stands in for a key.
    sdk = Scatter(network, Account.create())
    env = settings_from_env()
    pinning = start_from_env(Scatter.connect(url)) if pins else None
    app = create_app(
        sdk,
        allowed_hosts=allowed_host or env["allowed_hosts"],
        allowed_origins=allowed_origin or env["allowed_origins"],
        public_rpc_url=public_rpc_url,
        pinning=pinning,
    )
    server = GatewayServer(app, host, port).start()
    if not dapp_built():
        err_console.print("[yellow]the dapp is not built here (make dapp): serving the API only[/]")
    console.print(f"dapp     {server.url}/   (chain {chain_id}, Market {deployment.market})")
    console.print(f"web API  {server.url}/api")
    if pinning is not None:
        console.print(f"pins     {server.url}/pins  (store {pinning.settings.db})")
    console.print("Ctrl-C stops.")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if pinning is not None:
            pinning.stop()


def register(app: typer.Typer) -> None:
    app.command("web")(web_command)
