"""Ape script: ``ape run deploy --network <ecosystem:network:provider>``.

It reuses :func:`scatter.chain.deploy.deploy` (web3.py + eth-account) over ape's
connection, so both routes deploy the same bytecode with the same checks.
Environment: ``SCATTER_PRIVATE_KEY`` or ``SCATTER_KEYSTORE`` (+ ``_PASSWORD``);
``SCATTER_PRESET`` (devnet|testnet, default testnet on public chains, devnet
on chain 31337); ``SCATTER_EPOCH_SECONDS`` to override the epoch length;
``SCATTER_DEV_ACCOUNT=N`` for anvil's dev accounts on a local chain.
"""

from __future__ import annotations

import os

from ape import networks

from scatter import config
from scatter.chain import deployments, wallet
from scatter.chain.deploy import deploy
from scatter.chain.params import preset


def main() -> None:
    config.load_env()
    w3 = networks.provider.web3
    chain_id = int(w3.eth.chain_id)
    local = chain_id == 31337
    if local and os.environ.get("SCATTER_DEV_ACCOUNT"):
        account = wallet.dev_account(int(os.environ["SCATTER_DEV_ACCOUNT"]))
    else:
        account = wallet.load_account()
    epoch = os.environ.get("SCATTER_EPOCH_SECONDS")
    params = preset(os.environ.get("SCATTER_PRESET", "devnet" if local else "testnet")).with_overrides(
        epoch_seconds=int(epoch) if epoch else None
    )
    deployment = deploy(w3, account, params)
    path = deployments.record_deployment(deployment)
    print(f"chain {chain_id}: Market {deployment.market} FileRegistry {deployment.file_registry} ({path})")
