"""Ape script: ``ape run deploy --network <ecosystem:network:provider>``.

It reuses :func:`scatter.chain.deploy.deploy` (web3.py + eth-account) over ape's
connection, so both routes deploy the same bytecode with the same checks.
Environment: ``SCATTER_PRIVATE_KEY`` or ``SCATTER_KEYSTORE`` (+ ``_PASSWORD``);
``SCATTER_PRESET`` (devnet|testnet, default testnet on public chains, devnet
on chain 31337); ``SCATTER_EPOCH_SECONDS`` to override the epoch length;
``SCATTER_DEV_ACCOUNT=N`` for anvil's dev accounts on a local chain;
``SCATTER_APE_ACCOUNT=ALIAS`` to sign with an ape account instead (``ape accounts list``:
a keyfile account, or a Ledger/Trezor through the ape-ledger/ape-trezor plugins, which
asks for a confirmation on the device per transaction; ``TEST::N`` is ape's test account N).

The record goes where ``scatter deploy`` writes it: ``SCATTER_DEPLOYMENTS``, else
``./.scatter/deployments.json`` of the directory ape runs in; never the record of a
``scatter dev`` network (``.scatter/dev/deployments.json``), which is refused before
anything is sent.
"""

from __future__ import annotations

import os

from ape import networks

from scatter import config
from scatter.chain import deployments, wallet
from scatter.chain.artifacts import load_artifact
from scatter.chain.deploy import deploy, deployed
from scatter.chain.deployments import Deployment
from scatter.chain.params import MarketParams, preset


def deploy_with_ape(alias: str, params: MarketParams) -> Deployment:
    """Both contracts deployed from an ape account (the shipped bytecode, as :func:`deploy` sends it)."""
    from ape import accounts
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    account = accounts.test_accounts[int(alias[6:])] if alias.startswith("TEST::") else accounts.load(alias)

    def container(name: str) -> ContractContainer:
        art = load_artifact(name)
        return ContractContainer(ContractType.model_validate(
            {"contractName": name, "abi": art.abi, "deploymentBytecode": {"bytecode": art.bytecode}}
        ))  # fmt: skip

    params.validate()
    market = account.deploy(container("Market"), params.as_struct())
    files = account.deploy(container("FileRegistry"))
    w3 = networks.provider.web3
    block = int(w3.eth.get_transaction_receipt(market.txn_hash)["blockNumber"])
    return deployed(w3, str(market.address), str(files.address), block, str(account.address))


def main() -> None:
    config.load_env()
    path = deployments.deploy_record_path()
    w3 = networks.provider.web3
    chain_id = int(w3.eth.chain_id)
    local = chain_id == 31337
    epoch = os.environ.get("SCATTER_EPOCH_SECONDS")
    params = preset(os.environ.get("SCATTER_PRESET", "devnet" if local else "testnet")).with_overrides(
        epoch_seconds=int(epoch) if epoch else None
    )
    if os.environ.get("SCATTER_APE_ACCOUNT"):
        deployment = deploy_with_ape(os.environ["SCATTER_APE_ACCOUNT"], params)
    else:
        if local and os.environ.get("SCATTER_DEV_ACCOUNT"):
            account = wallet.dev_account(int(os.environ["SCATTER_DEV_ACCOUNT"]))
        else:
            account = wallet.load_account()
        deployment = deploy(w3, account, params)
    deployments.record_deployment(deployment, path)
    print(f"chain {chain_id}: Market {deployment.market} FileRegistry {deployment.file_registry} ({path})")
