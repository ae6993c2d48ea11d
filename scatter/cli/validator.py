"""``scatter validator``: run the validator daemon, show its status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scatter.cli._output import console, emit_json

validator_app = typer.Typer(
    help="The validator daemon: check its committees' deals every epoch, sign attestations, report.",
    no_args_is_help=True,
)

STATE_DIR_HELP = "State directory (SQLite state, validator.json). Env SCATTER_VALIDATOR_STATE_DIR."


def run_command(
    config: Path | None = typer.Option(
        None, "--config", help="TOML file ([validator] table). Env SCATTER_VALIDATOR_CONFIG."
    ),
    rpc_url: str | None = typer.Option(None, help="JSON-RPC URL. Env SCATTER_RPC_URL."),
    state_dir: Path | None = typer.Option(None, help=STATE_DIR_HELP + " Default .scatter/validator."),
    host: str | None = typer.Option(None, help="Listen address of the publishing API (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Listen port (0: a free port, written to validator.json)."),
    endpoint: str | None = typer.Option(
        None, help="Public URL registered on chain (default http://HOST:PORT)."
    ),
    stake: str | None = typer.Option(None, help="ETH staked at join, topped up to if below (default 1)."),
    dev_account: int | None = typer.Option(None, help="Use anvil dev account N (local chains only)."),
    deployments: Path | None = typer.Option(
        None, help="Deployment record (default SCATTER_DEPLOYMENTS or ./.scatter)."
    ),
    confirmations: int | None = typer.Option(
        None, help="Blocks on top before events and randomness count (default 2)."
    ),
    poll_interval: float | None = typer.Option(None, help="Seconds between chain polls (default 1)."),
    samples: int | None = typer.Option(None, help="c: leaves fetched per deal per epoch (default 8)."),
    deadline: float | None = typer.Option(None, help="Seconds for the c leaves (default min(10, epoch/5))."),
    attempts: int | None = typer.Option(
        None, help="Most attempts per deal per epoch; slowness is retried, never fail (default 6)."
    ),
    concurrency: int | None = typer.Option(None, help="Checks in flight (default 64)."),
    max_cpu: str | None = typer.Option(
        None, help="Share of one core to use, e.g. 0.5, or 'none' (default 0.5)."
    ),
    max_bandwidth: str | None = typer.Option(
        None, help="Bytes/s fetched from hosters, e.g. 20MiB (default: no cap)."
    ),
    warmup_epochs: int | None = typer.Option(
        None, help="First epochs of a deal that never get fail (default 1)."
    ),
    probe_every: int | None = typer.Option(
        None, help="Probe each deal about once in N epochs; attest to those between ok probes (default 1)."
    ),
    report_faults: bool | None = typer.Option(
        None, "--report-faults/--no-report-faults", help="Send proof requests and reports (default on)."
    ),
    exclude: str | None = typer.Option(
        None, help="Comma-separated addresses of this operator's hosters/clients: never checked."
    ),
    log_level: str | None = typer.Option(None, help="debug, info, warning, error."),
    plain_logs: bool = typer.Option(False, "--plain-logs", help="Human log lines instead of JSON."),
) -> None:
    """Run the validator daemon until interrupted (SIGINT/SIGTERM).

    Keys: SCATTER_PRIVATE_KEY, or SCATTER_KEYSTORE + SCATTER_KEYSTORE_PASSWORD (env or .env), or
    --dev-account N on anvil. Every option also reads SCATTER_VALIDATOR_<OPTION> and the TOML file.

    Example:

      scatter validator run --rpc-url http://127.0.0.1:8545 --dev-account 5 --state-dir .scatter/v5 \
        --port 9105 --stake 1
    """
    from scatter.daemon.logs import configure_logging
    from scatter.validator.config import load_config
    from scatter.validator.daemon import run_validator

    overrides: dict[str, Any] = {
        "rpc_url": rpc_url, "state_dir": state_dir, "host": host, "port": port, "endpoint": endpoint,
        "stake": stake, "dev_account": dev_account, "deployments": deployments,
        "confirmations": confirmations, "poll_interval": poll_interval, "samples": samples,
        "deadline": deadline, "attempts": attempts, "concurrency": concurrency, "max_cpu": max_cpu,
        "max_bandwidth": max_bandwidth, "warmup_epochs": warmup_epochs, "probe_every": probe_every,
        "report_faults": report_faults,
        "exclude": exclude, "log_level": log_level,
    }  # fmt: skip
    cfg = load_config(config_file=config, overrides=overrides)
    configure_logging(cfg.log_level, json_lines=not plain_logs)
    run_validator(cfg)


def status_command(
    state_dir: Path = typer.Option(
        Path(".scatter/validator"), envvar="SCATTER_VALIDATOR_STATE_DIR", help=STATE_DIR_HELP
    ),
    dev: int | None = typer.Option(
        None, "--dev", help="Validator N of the dev network of this directory (.scatter/dev/validators/N)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the validator's identity, verdicts, signatures, fault reports and live health.

    Examples:
      scatter validator status --state-dir /var/lib/scatter/validator
      scatter validator status --dev 0 --json    # in a directory where `scatter dev` runs
    """
    from scatter.sdk.network import dev_state_dir
    from scatter.validator.status import read_status

    report = read_status(dev_state_dir("validator", dev) if dev is not None else state_dir)
    if json_out:
        emit_json(report)
        return
    running = "running" if report["running"] else "stopped"
    console.print(f"[bold]Validator[/] {report.get('address', '?')}  ({running})")
    console.print(f"  chain / market  {report.get('chain_id')} / {report.get('market')}")
    console.print(f"  API             {report.get('api')}   registered {report.get('endpoint')}")
    console.print(
        f"  checkpoint      block {report.get('checkpoint_block')}   active deals {report['active_deals']}"
    )
    v = report["verdicts"]
    last = report.get("last_epoch_checked")
    console.print(f"  verdicts        ok {v.get('ok', 0)}  fail {v.get('fail', 0)}  last epoch {last}")
    s = report["signatures"]
    console.print(f"  signatures      {s.get('total', 0)} ({s.get('ranges', 0)} ranges)")
    faults = report["fault_reports"]
    console.print("  fault reports   " + (", ".join(f"{k} {n}" for k, n in sorted(faults.items())) or "none"))
    if "health" in report:
        console.print(f"  health          {report['health']}")


validator_app.command("run")(run_command)
validator_app.command("status")(status_command)


def register(app: typer.Typer) -> None:
    app.add_typer(validator_app, name="validator")
