"""``scatter deploy``: deploy Market and FileRegistry to any EVM chain with web3.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scatter.cli._output import console, emit_json, err_console


def deploy_command(
    rpc_url: str = typer.Option(None, "--rpc-url", envvar="SCATTER_RPC_URL", help="JSON-RPC endpoint."),
    network: str = typer.Option(
        None, help="sepolia, holesky or local: refuse any other chain id, and use its preset."
    ),
    preset: str = typer.Option(
        None, help="Parameter preset: devnet (seconds) or testnet (hours; default, and the networks')."
    ),
    epoch_seconds: int = typer.Option(None, help="Override the preset's epoch length."),
    quorum: int = typer.Option(None, help="Override the validator quorum."),
    committee_size: int = typer.Option(None, help="Override the expected committee size."),
    proof_window_epochs: int = typer.Option(None, help="Override the proof window in epochs."),
    keystore: Path = typer.Option(
        None, envvar="SCATTER_KEYSTORE", help="Encrypted keystore of the deployer."
    ),
    dev_account: int = typer.Option(None, help="Use anvil's dev account N (local chains only)."),
    record: str = typer.Option(
        None,
        help="Where to record the addresses: a path (default SCATTER_DEPLOYMENTS or "
        "./.scatter/deployments.json), or 'package' for the shipped record.",
    ),
    verify_dir: Path = typer.Option(
        None,
        help="Where to save the Etherscan verification input (default: verify/<chain id> beside the "
        "record; ./.scatter/verify/<chain id> for the package record).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Deploy the contracts, record their addresses for this chain id, and save the standard-JSON
    compiler input (verify/<chain id>/standard-input.json, verify.json) for Etherscan verification.

    Examples:

      scatter deploy --rpc-url http://127.0.0.1:8545 --preset devnet --dev-account 0

      scatter deploy --network sepolia          # SCATTER_RPC_URL and the key from .env

    Rehearse on a local chain with Sepolia's chain id first (docs/operations.md):

      anvil --chain-id 11155111 &  SCATTER_RPC_URL=http://127.0.0.1:8545 scatter deploy --network sepolia
    """
    from scatter import config
    from scatter.chain import deployments, wallet
    from scatter.chain.deploy import check_network, connect, deploy, network_spec
    from scatter.chain.params import preset as get_preset
    from scatter.errors import ScatterValueError

    w3 = connect(config.rpc_url(rpc_url))
    spec = network_spec(network) if network else None
    if spec is not None:
        check_network(w3, spec)
    if dev_account is not None:
        if w3.eth.chain_id != 31337:
            raise ScatterValueError("--dev-account is for local chains (chain id 31337) only")
        account = wallet.dev_account(dev_account)
    else:
        account = wallet.load_account(keystore=keystore)
    params = get_preset(preset or (spec.preset if spec else "testnet")).with_overrides(
        epoch_seconds=epoch_seconds,
        quorum=quorum,
        committee_size=committee_size,
        proof_window_epochs=proof_window_epochs,
    )
    target = deployments.PACKAGE_RECORD if record == "package" else (Path(record) if record else None)
    target = deployments.deploy_record_path(target)  # refused before anything is spent
    deployment = deploy(w3, account, params)
    path = deployments.record_deployment(deployment, target)
    beside = Path.cwd() / ".scatter" if record == "package" else path.parent  # never into the package
    verify_path = _save_verification(deployment, verify_dir or beside / "verify" / str(deployment.chain_id))
    if json_out:
        out = {"chainId": deployment.chain_id, **deployment.to_json(), "record": str(path)}
        emit_json({**out, "verify": str(verify_path) if verify_path else None})
        return
    console.print(f"chain {deployment.chain_id}: Market {deployment.market}")
    console.print(f"chain {deployment.chain_id}: FileRegistry {deployment.file_registry}")
    console.print(f"recorded in {path}")
    if verify_path is not None:
        console.print(f"Etherscan verification input in {verify_path.parent} (docs/operations.md)")


def _save_verification(deployment: Any, directory: Path) -> Path | None:
    """Save the verification input; without a checkout's compiler, say so and go on (the deploy is done)."""
    from scatter.chain.verify import write_verification
    from scatter.errors import ToolchainError

    try:
        return write_verification(deployment, directory)
    except (ToolchainError, OSError) as exc:
        err_console.print(f"verification input not saved ({exc}); run `scatter deploy` from a checkout")
        return None


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_command)
