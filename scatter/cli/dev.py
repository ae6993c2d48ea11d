"""``scatter dev``: the whole marketplace on one machine."""

from __future__ import annotations

from pathlib import Path

import typer

from scatter.cli._output import console, emit_json


def dev_command(
    state_dir: Path = typer.Option(Path(".scatter/dev"), help="Where chain state and dev.json live."),
    epoch_seconds: int = typer.Option(2, help="Epoch length of the local market."),
    rpc_port: int = typer.Option(8545, help="Loopback port of the local anvil node."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    once: bool = typer.Option(False, help="Start, print the summary, and stop (for scripts)."),
) -> None:
    """Start anvil on 127.0.0.1, deploy the contracts, print the addresses; Ctrl-C stops.

    Example: scatter dev --epoch-seconds 5
    """
    from scatter.dev import DevNetwork

    network = DevNetwork(state_dir=state_dir, epoch_seconds=epoch_seconds, rpc_port=rpc_port)
    try:
        network.start()
        summary = network.summary()
        if json_out:
            emit_json(summary)
        else:
            console.print(f"[bold]Scatter dev network[/] (chain {summary['chainId']})")
            console.print(f"  RPC           {summary['rpcUrl']}")
            console.print(f"  Market        {summary['contracts']['market']}")
            console.print(f"  FileRegistry  {summary['contracts']['fileRegistry']}")
            console.print(f"  summary       {network.summary_path}")
            for acct in summary["accounts"][:3]:
                console.print(f"  account {acct['index']}     {acct['address']} ({acct['balanceEth']} ETH)")
            console.print("Ctrl-C stops everything." if not once else "")
        if not once:
            network.wait()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        network.stop()


def register(app: typer.Typer) -> None:
    app.command("dev")(dev_command)
