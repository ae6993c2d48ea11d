"""Which chain, which contracts, which account: resolved once for the SDK and the CLI.

Order, first match wins:

- RPC URL: the argument, ``SCATTER_RPC_URL``, the dev network summary
  ``./.scatter/dev/dev.json`` (written by ``scatter dev`` in this directory),
  else ``http://127.0.0.1:8545``.
- Contracts: the dev summary when it describes the connected chain, else the
  deployment records (:func:`scatter.chain.deployments.find_deployment`).
  A share link needs neither: it names its chain and Market
  (:func:`scatter.sdk.download.download_link`).
- Account: an explicit key, keystore or dev-account index; ``SCATTER_PRIVATE_KEY``
  or ``SCATTER_KEYSTORE``; on the dev chain only, dev account 1.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.deployments import Deployment, find_deployment
from scatter.config import DEFAULT_RPC_URL
from scatter.errors import ScatterValueError

#: Where ``scatter dev`` writes its summary, relative to the working directory.
DEV_SUMMARY = Path(".scatter") / "dev" / "dev.json"
#: The client account used by default on the dev chain.
DEV_CLIENT_ACCOUNT = 1


def dev_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The dev network summary (``$SCATTER_DEV_SUMMARY`` or ./.scatter/dev/dev.json), if any."""
    explicit = os.environ.get("SCATTER_DEV_SUMMARY")
    path = path or (Path(explicit) if explicit else Path.cwd() / DEV_SUMMARY)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and "rpcUrl" in data else None


def dev_state_dir(role: str, index: int) -> Path:
    """The state directory of the dev network's ``role`` (``hoster``/``validator``) number ``index``
    in this directory: as ``dev.json`` names it, else ``./.scatter/dev/<role>s/<index>``."""
    summary = dev_summary() or {}
    for node in summary.get(f"{role}s", []):
        if isinstance(node, dict) and node.get("name") == f"{role}-{index}" and node.get("stateDir"):
            return Path(str(node["stateDir"]))
    path = Path.cwd() / DEV_SUMMARY.parent / f"{role}s" / str(index)
    if not path.is_dir():
        raise ScatterValueError(
            f"no {role} {index} in the dev network of this directory ({path} does not exist): "
            f"run it in the directory where `scatter dev` runs, or give --state-dir"
        )
    return path


def resolve_rpc_url(explicit: str | None = None) -> tuple[str, dict[str, Any] | None]:
    """The RPC URL to use, and the dev summary when the URL came from (or matches) it."""
    summary = dev_summary()
    url = explicit or os.environ.get("SCATTER_RPC_URL")
    if url is None:
        url = str(summary["rpcUrl"]) if summary else DEFAULT_RPC_URL
    if summary is not None and summary.get("rpcUrl") != url:
        summary = None
    return url, summary


def resolve_deployment(chain_id: int, summary: dict[str, Any] | None, w3: Web3 | None = None) -> Deployment:
    """The dev summary's contracts when it describes ``chain_id``, else the deployment records
    (``w3``, connected to ``chain_id``, reads the Market ``SCATTER_MARKET`` names)."""
    if summary is not None and int(summary.get("chainId", -1)) == chain_id and "contracts" in summary:
        return Deployment.from_json(chain_id, summary["contracts"])
    return find_deployment(chain_id, w3=w3)


def resolve_account(
    *,
    private_key: str | None = None,
    keystore: Path | None = None,
    password: str | None = None,
    dev_account: int | None = None,
    on_dev_chain: bool = False,
) -> LocalAccount:
    if dev_account is not None:
        return wallet.dev_account(dev_account)
    explicit_env = (
        private_key or keystore or os.environ.get("SCATTER_PRIVATE_KEY") or os.environ.get("SCATTER_KEYSTORE")
    )
    if explicit_env:
        return wallet.load_account(private_key=private_key, keystore=keystore, password=password)
    if on_dev_chain:
        return wallet.dev_account(DEV_CLIENT_ACCOUNT)
    raise ScatterValueError(
        "no signing key: set SCATTER_PRIVATE_KEY, or SCATTER_KEYSTORE and SCATTER_KEYSTORE_PASSWORD "
        "(environment or .env), or pass --dev-account N on a local chain"
    )


@dataclass(frozen=True)
class Network:
    """A connected chain and its Scatter deployment."""

    w3: Web3
    rpc_url: str
    deployment: Deployment
    is_dev: bool

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    @property
    def epoch_seconds(self) -> int:
        return int(self.deployment.params.get("epoch_seconds", 0)) or 1
