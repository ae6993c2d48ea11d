"""``scatter dev``: the whole marketplace on one machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scatter.cli._output import console, emit_json, err_console


def dev_command(
    state_dir: Path = typer.Option(
        Path(".scatter/dev"), help="Where chain and daemon state and dev.json live."
    ),
    hosters: int = typer.Option(8, help="Hoster daemons to run (each its own process and dev account)."),
    validators: int = typer.Option(3, help="Validator daemons to run."),
    epoch_seconds: int = typer.Option(2, help="Epoch length of the local market (new deployments only)."),
    port: int = typer.Option(8700, help="Web node API port; hosters use PORT+10+i, validators PORT+60+j."),
    rpc_port: int = typer.Option(8545, help="Loopback port of the local anvil node."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    once: bool = typer.Option(False, help="Start everything, print the summary, and stop (for scripts)."),
) -> None:
    """Run anvil, the contracts, hosters, validators and the web node API on 127.0.0.1; Ctrl-C stops.

    The summary (URLs, contract addresses, funded client accounts) is printed and
    written to STATE_DIR/dev.json; other scatter commands run in this directory use
    this network and dev account 1 by default. State survives a restart, and the
    chain's clock resumes where it stopped: a restart faults nothing.

    Examples:
      scatter dev
      scatter dev --hosters 9 --validators 3 --epoch-seconds 2
      scatter dev --once --json --hosters 0 --validators 0
    """
    import signal

    from scatter.dev import DevNetwork

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM both stop everything cleanly (even when started in the background,
    # where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    def report(message: str) -> None:
        err_console.print(f"[yellow]{message}[/]")

    network = DevNetwork(
        state_dir=state_dir,
        epoch_seconds=epoch_seconds,
        rpc_port=rpc_port,
        hosters=hosters,
        validators=validators,
        port=port,
        on_event=report,
    )
    try:
        if not json_out:
            err_console.print(f"starting anvil, {hosters} hosters and {validators} validators ...")
        network.start()
        summary = network.summary()
        if json_out:
            emit_json(summary)
        else:
            _print_summary(summary, network.summary_path)
            if not once:
                console.print("Ctrl-C stops everything.")
        if not once:
            network.wait()
    except KeyboardInterrupt:
        err_console.print("stopping")
    finally:
        network.stop()


def _print_summary(summary: dict[str, Any], path: Path) -> None:
    console.print(
        f"[bold]Scatter dev network[/] (chain {summary['chainId']}, {summary['epochSeconds']}s epochs)"
    )
    console.print(f"  RPC           {summary['rpcUrl']}")
    console.print(f"  Market        {summary['contracts']['market']}")
    console.print(f"  FileRegistry  {summary['contracts']['fileRegistry']}")
    if summary["web"]["url"]:
        console.print(f"  web node API  {summary['web']['api']}")
    if summary.get("pins", {}).get("tokenFile"):
        console.print(f"  pinning API   {summary['pins']['url']}  token in {summary['pins']['tokenFile']}")
    for role in ("hosters", "validators"):
        for node in summary[role]:
            console.print(
                f"  {node['name']:<13} {node['url']}  {node['address']}  log {node['log']}", soft_wrap=True
            )
    for acct in summary["clients"][:3]:
        default = "  (default client)" if acct["index"] == summary["defaultClient"] else ""
        console.print(f"  client {acct['index']}      {acct['address']} ({acct['balanceEth']} ETH){default}")
    console.print(f"  summary       {path}")


def register(app: typer.Typer) -> None:
    app.command("dev")(dev_command)
