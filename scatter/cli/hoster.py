"""``scatter hoster``: run the hoster daemon, show its status, quote the break-even price, withdraw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from scatter.cli._output import console, emit_json

hoster_app = typer.Typer(
    help="The hoster daemon: take slots, pin and serve shards, get paid.", no_args_is_help=True
)

STATE_DIR_HELP = (
    "State directory (SQLite state, embedded block store, hoster.json). Env SCATTER_HOSTER_STATE_DIR."
)


def run_command(
    config: Path | None = typer.Option(
        None, "--config", help="TOML file (a hoster table). Env SCATTER_HOSTER_CONFIG."
    ),
    rpc_url: str | None = typer.Option(None, help="JSON-RPC URL. Env SCATTER_RPC_URL."),
    state_dir: Path | None = typer.Option(None, help=STATE_DIR_HELP),
    host: str | None = typer.Option(None, help="Listen address of the HTTP endpoint (default 127.0.0.1)."),
    port: int | None = typer.Option(
        None, help="Listen port (0: a free port, written to STATE_DIR/hoster.json)."
    ),
    endpoint: str | None = typer.Option(
        None, help="Public URL registered on chain (default http://HOST:PORT)."
    ),
    ipfs_api: str | None = typer.Option(
        None, help="Kubo RPC URL (private network only); default: embedded store."
    ),
    stake: str | None = typer.Option(None, help="ETH staked when joining (default 1)."),
    capacity: str | None = typer.Option(None, help="Total bytes offered, e.g. 100GiB (default 10GiB)."),
    max_size: str | None = typer.Option(None, help="Largest slot taken, e.g. 1GiB."),
    min_price: str | None = typer.Option(None, help="Minimum price in wei per GiB per epoch (or 2gwei)."),
    break_even: bool | None = typer.Option(
        None,
        "--break-even/--no-break-even",
        help="Refuse slots paying less than their gas at the current gas price (default on; "
        "see `scatter hoster quote`).",
    ),
    min_duration: int | None = typer.Option(None, help="Minimum bid duration in epochs."),
    max_duration: int | None = typer.Option(None, help="Maximum bid duration in epochs."),
    allow_cids: str | None = typer.Option(None, help="Comma-separated CIDs: take only these."),
    deny_cids: str | None = typer.Option(None, help="Comma-separated CIDs never taken."),
    allow_clients: str | None = typer.Option(
        None, help="Comma-separated client addresses: take only theirs."
    ),
    deny_clients: str | None = typer.Option(None, help="Comma-separated client addresses never served."),
    fetch_gateways: str | None = typer.Option(
        None, help="Comma-separated Trustless Gateways for public pins."
    ),
    dev_account: int | None = typer.Option(None, help="Use anvil dev account N (local chains only)."),
    deployments: Path | None = typer.Option(
        None, help="Deployment record (default SCATTER_DEPLOYMENTS or ./.scatter)."
    ),
    confirmations: int | None = typer.Option(None, help="Blocks before an event counts (default 2)."),
    poll_interval: float | None = typer.Option(None, help="Seconds between chain polls (default 1)."),
    settle_every: int | None = typer.Option(
        None, help="Epochs per settlement range (default 2; capped by grace)."
    ),
    withdraw_threshold: str | None = typer.Option(
        None, help="Withdraw when the balance reaches this many ETH."
    ),
    payout_address: str | None = typer.Option(
        None, help="Where withdrawals go (default the hoster's address)."
    ),
    max_fee_gwei: float | None = typer.Option(
        None, help="Most any transaction (a fee-bumped one too) offers per gas, in gwei (default: no cap)."
    ),
    heal: bool | None = typer.Option(
        None, "--heal/--no-heal", help="Take reopened shard slots and rebuild them."
    ),
    log_level: str | None = typer.Option(None, help="debug, info, warning, error."),
    plain_logs: bool = typer.Option(False, "--plain-logs", help="Human log lines instead of JSON."),
) -> None:
    """Run the hoster daemon until interrupted.

    Keys: SCATTER_PRIVATE_KEY, or SCATTER_KEYSTORE + SCATTER_KEYSTORE_PASSWORD (env or .env), or
    --dev-account N on anvil. Every option also reads SCATTER_HOSTER_<OPTION> and the TOML file.

    Example:

        scatter hoster run --rpc-url http://127.0.0.1:8545 --dev-account 3 --state-dir .scatter/h3 --port 9003
    """
    import asyncio

    from scatter.daemon.logs import configure_logging
    from scatter.hoster.config import load_config
    from scatter.hoster.daemon import Hoster

    overrides: dict[str, Any] = {
        "rpc_url": rpc_url, "state_dir": state_dir, "host": host, "port": port, "endpoint": endpoint,
        "ipfs_api": ipfs_api, "stake": stake, "capacity": capacity, "max_size": max_size,
        "min_price": min_price, "break_even": break_even, "min_duration": min_duration,
        "max_duration": max_duration,
        "allow_cids": allow_cids, "deny_cids": deny_cids, "allow_clients": allow_clients,
        "deny_clients": deny_clients, "fetch_gateways": fetch_gateways, "dev_account": dev_account,
        "deployments": deployments, "confirmations": confirmations, "poll_interval": poll_interval,
        "settle_every": settle_every, "withdraw_threshold": withdraw_threshold,
        "payout_address": payout_address, "max_fee_gwei": max_fee_gwei, "heal": heal,
        "log_level": log_level,
    }  # fmt: skip
    cfg = load_config(config_file=config, overrides=overrides)
    configure_logging(cfg.log_level, json_lines=not plain_logs)
    hoster = Hoster(cfg)

    async def main() -> None:
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, hoster.stop)
        await hoster.run()

    asyncio.run(main())


DEV_HELP = "Hoster N of the dev network of this directory (.scatter/dev/hosters/N) instead of --state-dir."


def _state_dir(state_dir: Path, dev: int | None) -> Path:
    from scatter.sdk.network import dev_state_dir

    return dev_state_dir("hoster", dev) if dev is not None else state_dir


def _open_state(state_dir: Path) -> Any:
    from scatter.daemon.state import StateDB
    from scatter.errors import ScatterValueError

    path = state_dir / "hoster.db"
    if not path.exists():
        raise ScatterValueError(
            f"no hoster state in {state_dir}; give --state-dir of a hoster that has run "
            "(or --dev N in a directory where `scatter dev` runs)"
        )
    return StateDB(path)


def status_command(
    state_dir: Path = typer.Option(
        Path(".scatter/hoster"), envvar="SCATTER_HOSTER_STATE_DIR", help=STATE_DIR_HELP
    ),
    dev: int | None = typer.Option(None, "--dev", help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (amounts as integers of wei)."),
) -> None:
    """Show the hoster's deals, capacity, earnings, settlement lag, pending transactions, and its
    block store's size on disk beside what its pins reach.

    Examples:
      scatter hoster status --state-dir /var/lib/scatter/hoster
      scatter hoster status --dev 0 --json       # in a directory where `scatter dev` runs
    """
    from scatter.hoster.status import read_status

    state_dir = _state_dir(state_dir, dev)
    report = read_status(_open_state(state_dir), state_dir)
    if json_out:
        emit_json(report)
        return
    console.print(
        f"[bold]Hoster[/] {report.get('address', '?')}  ({'running' if report['running'] else 'stopped'})"
    )
    console.print(f"  endpoint        {report.get('endpoint', '?')}")
    console.print(
        f"  epoch           {report.get('epoch', '?')}   checkpoint block {report.get('checkpoint', '?')}"
    )
    deals = report["deals"]
    console.print("  deals           " + (", ".join(f"{k} {v}" for k, v in sorted(deals.items())) or "none"))
    console.print(f"  capacity        {report.get('used', 0)} / {report.get('capacity', 0)} bytes used")
    console.print(f"  pinned          {report.get('pinned_bytes', 0)} bytes of deal content")
    store = report["store"]
    if store is None:
        console.print("  store           Kubo (see `ipfs repo stat`)")
    else:
        console.print(
            f"  store           {store['bytes']} bytes on disk in {store['blocks']} blocks, "
            f"{store['temp_bytes']} temp"
        )
        console.print(
            f"                  {store['pinned_bytes']} reached from {store['pins']} pins, "
            f"{store['unreferenced_bytes']} unreferenced (next GC)"
        )
        if store["missing_blocks"] or store["stray_pins"]:
            console.print(
                f"  [yellow]attention[/]       {store['missing_blocks']} pinned blocks missing, "
                f"{store['stray_pins']} pins of no live deal (the daemon unpins those each epoch)"
            )
    earned, balance = _eth(report.get("earned_wei", 0)), _eth(report.get("balance_wei", 0))
    console.print(f"  earned          {earned}   balance {balance}")
    console.print(f"  settlement lag  {report.get('settlement_lag', 0)} epochs")
    console.print(f"  pending txs     {report['pending_transactions']}")


def quote_command(
    rpc_url: str | None = typer.Option(
        None, help="JSON-RPC URL. Env SCATTER_RPC_URL (or the dev network here)."
    ),
    size: list[str] | None = typer.Option(
        None, help="Slot size, e.g. 64MiB (repeat; default 1MiB, 64MiB, 1GiB)."
    ),
    duration: str = typer.Option("30d", help="How long the slot is held: 12h, 30d, or N epochs."),
    batch: int = typer.Option(10, min=1, help="Deals settled together in one settleMany."),
    settle_every: int = typer.Option(2, min=1, help="Epochs per settlement (the daemon's settle_every)."),
    gas_price: str | None = typer.Option(
        None, help="Gas price to assume, e.g. 20gwei (default: the chain's now)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (wei as integers)."),
) -> None:
    """The lowest price per GiB-epoch at which taking a slot pays for its gas, at today's gas price.

    Gas per slot: reserve, fill with its first proof, one settleMany item every
    --settle-every epochs (the batch's fixed cost shared by --batch deals) and the
    proofs audits ask for (docs/gas.md figures). Earnings: price x size x epochs,
    less the validators' fee. The hoster's default bid filter refuses slots below
    this price (--no-break-even turns it off; --min-price adds a floor of your own).

    Examples:
      scatter hoster quote
      scatter hoster quote --size 256MiB --duration 90d --batch 50 --json
      scatter hoster quote --gas-price 30gwei --settle-every 24
    """
    from scatter.chain.deploy import connect
    from scatter.chain.economics import QUOTE_SIZES, block_seconds_of, current_gas_price, quote
    from scatter.chain.market import Market
    from scatter.sdk.network import resolve_deployment, resolve_rpc_url
    from scatter.sdk.units import parse_duration
    from scatter.units import parse_amount, parse_size

    url, summary = resolve_rpc_url(rpc_url)
    w3 = connect(url)
    deployment = resolve_deployment(int(w3.eth.chain_id), summary, w3)
    params = Market(w3, deployment.market).params()
    price = parse_amount(gas_price, "wei") if gas_price is not None else current_gas_price(w3)
    epochs = parse_duration(duration, params.epoch_seconds)
    block_s = round(block_seconds_of(w3), 3)  # the figure printed is the figure priced
    sizes = tuple(parse_size(s) for s in size) if size else QUOTE_SIZES
    rows = quote(params, gas_price=price, sizes=sizes, duration=epochs, settle_every=settle_every,
                 batch=batch, block_seconds=block_s)  # fmt: skip
    if json_out:
        emit_json({
            "chain_id": deployment.chain_id, "market": deployment.market, "gas_price_wei": price,
            "epoch_seconds": params.epoch_seconds, "block_seconds": block_s, "batch": batch,
            "settle_every": settle_every, "validator_fee_bps": params.validator_fee_bps,
            "slots": [r.to_json() for r in rows],
        })  # fmt: skip
        return
    console.print(
        f"gas price {price / 1e9:.3g} gwei; {params.epoch_seconds} s epochs, {block_s:.3g} s blocks; "
        f"settled every {settle_every} epochs in batches of {batch}; validators keep "
        f"{params.validator_fee_bps / 100:g}%",
        soft_wrap=True,
    )
    for r in rows:
        console.print(
            f"  {_size(r.size):>8} for {r.duration_epochs} epochs: {r.gas.total:,} gas per slot -> "
            f"break-even [bold]{r.break_even_wei_per_gib_epoch:,} wei[/] "
            f"({r.break_even_wei_per_gib_epoch / 1e9:.4g} gwei) per GiB-epoch",
            soft_wrap=True,
        )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _eth(wei: int) -> str:
    from scatter.sdk.units import format_eth

    return format_eth(wei)


def withdraw_command(
    state_dir: Path = typer.Option(
        Path(".scatter/hoster"), envvar="SCATTER_HOSTER_STATE_DIR", help=STATE_DIR_HELP
    ),
    dev: int | None = typer.Option(None, "--dev", help=DEV_HELP),
    to: str | None = typer.Option(None, help="Payout address (default: the configured payout address)."),
    wait: float = typer.Option(
        30.0, help="Seconds to wait for the running daemon to send it (0: don't wait)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ask the running hoster daemon to withdraw its balance (it sends the transaction)."""
    import time

    from scatter.errors import ScatterTimeoutError
    from scatter.hoster.state import HosterState

    state = HosterState(_open_state(_state_dir(state_dir, dev)))
    request_id = state.request("withdraw", to=to)
    deadline = time.monotonic() + wait
    result: tuple[str, str] | None = None
    while wait > 0 and time.monotonic() < deadline:
        result = state.request_status(request_id)
        if result is not None and result[0] != "new":
            break
        time.sleep(0.2)
    if wait > 0 and (result is None or result[0] == "new"):
        raise ScatterTimeoutError("the hoster daemon did not pick up the request; is it running?")
    out = {
        "request": request_id,
        "status": result[0] if result else "new",
        "result": result[1] if result else "",
    }
    if json_out:
        emit_json(out)
    else:
        console.print(json.dumps(out))


hoster_app.command("run")(run_command)
hoster_app.command("status")(status_command)
hoster_app.command("quote")(quote_command)
hoster_app.command("withdraw")(withdraw_command)


def register(app: typer.Typer) -> None:
    app.add_typer(hoster_app, name="hoster")
