"""``scatter hoster``: run the hoster daemon, show its status, ask it to withdraw."""

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
        "min_price": min_price, "min_duration": min_duration, "max_duration": max_duration,
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


def _open_state(state_dir: Path) -> Any:
    from scatter.daemon.state import StateDB
    from scatter.errors import ScatterValueError

    path = state_dir / "hoster.db"
    if not path.exists():
        raise ScatterValueError(f"no hoster state in {state_dir}; give --state-dir of a hoster that has run")
    return StateDB(path)


def status_command(
    state_dir: Path = typer.Option(
        Path(".scatter/hoster"), envvar="SCATTER_HOSTER_STATE_DIR", help=STATE_DIR_HELP
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the hoster's deals, capacity, earnings, settlement lag, pending transactions, and its
    block store's size on disk beside what its pins reach."""
    from scatter.hoster.status import read_status

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
    console.print(
        f"  earned          {report.get('earned_wei', '0')} wei   "
        f"balance {report.get('balance_wei', '0')} wei"
    )
    console.print(f"  settlement lag  {report.get('settlement_lag', 0)} epochs")
    console.print(f"  pending txs     {report['pending_transactions']}")


def withdraw_command(
    state_dir: Path = typer.Option(
        Path(".scatter/hoster"), envvar="SCATTER_HOSTER_STATE_DIR", help=STATE_DIR_HELP
    ),
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

    state = HosterState(_open_state(state_dir))
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
hoster_app.command("withdraw")(withdraw_command)


def register(app: typer.Typer) -> None:
    app.add_typer(hoster_app, name="hoster")
