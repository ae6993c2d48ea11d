"""``scatter deploy``: deploy Market and FileRegistry to any EVM chain with web3.py."""

from __future__ import annotations

from pathlib import Path

import typer

from scatter.cli._output import console, emit_json


def deploy_command(
    rpc_url: str = typer.Option(None, "--rpc-url", envvar="SCATTER_RPC_URL", help="JSON-RPC endpoint."),
    preset: str = typer.Option("testnet", help="Parameter preset: devnet (seconds) or testnet (hours)."),
    epoch_seconds: int = typer.Option(None, help="Override the preset's epoch length."),
    quorum: int = typer.Option(None, help="Override the validator quorum."),
    committee_size: int = typer.Option(None, help="Override the expected committee size."),
    proof_window_epochs: int = typer.Option(None, help="Override the proof window in epochs."),
    keystore: Path = typer.Option(
        None, envvar="SCATTER_KEYSTORE", help="Encrypted keystore of the deployer."
    ),
    dev_account: int = typer.Option(None, help="Use anvil's dev account N (local chains only)."),
    record: str = typer.Option(
        None, help="Where to record the addresses: a path, or 'package' for the shipped record."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Deploy the contracts and record their addresses for this chain id.

    Examples:

      scatter deploy --rpc-url http://127.0.0.1:8545 --preset devnet --dev-account 0

      SCATTER_KEYSTORE=deployer.json scatter deploy --rpc-url $SEPOLIA_RPC_URL
    """
    from scatter import config
    from scatter.chain import deployments, wallet
    from scatter.chain.deploy import connect, deploy
    from scatter.chain.params import preset as get_preset
    from scatter.errors import ScatterValueError

    w3 = connect(config.rpc_url(rpc_url))
    if dev_account is not None:
        if w3.eth.chain_id != 31337:
            raise ScatterValueError("--dev-account is for local chains (chain id 31337) only")
        account = wallet.dev_account(dev_account)
    else:
        account = wallet.load_account(keystore=keystore)
    params = get_preset(preset).with_overrides(
        epoch_seconds=epoch_seconds,
        quorum=quorum,
        committee_size=committee_size,
        proof_window_epochs=proof_window_epochs,
    )
    deployment = deploy(w3, account, params)
    target = deployments.PACKAGE_RECORD if record == "package" else (Path(record) if record else None)
    path = deployments.record_deployment(deployment, target)
    if json_out:
        emit_json({"chainId": deployment.chain_id, **deployment.to_json(), "record": str(path)})
        return
    console.print(f"chain {deployment.chain_id}: Market {deployment.market}")
    console.print(f"chain {deployment.chain_id}: FileRegistry {deployment.file_registry}")
    console.print(f"recorded in {path}")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_command)
