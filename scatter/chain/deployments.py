"""Where the contracts live, per chain id.

The first source that names the chain id wins:

1. the records given by the caller (a daemon's ``deployments`` setting), if any;
2. ``SCATTER_MARKET=0x...``: the Market's address alone; the rest (parameters, the
   deployment block) is read from the Market on chain, and the FileRegistry from
   ``SCATTER_FILE_REGISTRY`` (needed by clients only, not by hosters or validators);
3. the local record: ``$SCATTER_DEPLOYMENTS`` (a path, or an ``http(s)://`` URL a
   record is fetched from) or ``./.scatter/deployments.json`` (written by
   ``scatter deploy`` and ``ape run deploy``);
4. the record of ``scatter dev`` run in this directory, ``./.scatter/dev/deployments.json``
   (only ``scatter dev`` writes it: :func:`deploy_record_path` refuses it to the others);
5. the package record ``scatter/chain/deployments.json``: the project's public
   deployments (Sepolia...), committed after each release deploy with
   ``scatter deploy --record package``.

Format (version 1)::

    {"version": 1, "chains": {"11155111": {"market": "0x..", "fileRegistry": "0x..", ...}}}
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scatter.errors import ScatterConnectionError, ScatterNotFoundError, ScatterValueError

if TYPE_CHECKING:
    from web3 import Web3

RECORD_VERSION = 1
PACKAGE_RECORD = Path(__file__).resolve().parent / "deployments.json"
#: Where ``scatter dev`` keeps its record, relative to its directory; nothing else writes there.
DEV_RECORD = Path(".scatter") / "dev" / "deployments.json"
#: A record to read: a file, or an ``http(s)://`` URL.
Source = Path | str


def _is_url(source: Source) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def local_record_path() -> Path:
    """The local record file: ``$SCATTER_DEPLOYMENTS`` or ./.scatter/deployments.json (never a URL)."""
    explicit = os.environ.get("SCATTER_DEPLOYMENTS")
    if explicit and _is_url(explicit):
        raise ScatterValueError(f"SCATTER_DEPLOYMENTS is a URL ({explicit}): give a file to record into")
    return Path(explicit) if explicit else Path.cwd() / ".scatter" / "deployments.json"


def local_record_source() -> Source:
    """The local record to read: ``$SCATTER_DEPLOYMENTS`` (a path or a URL) or ./.scatter/deployments.json."""
    explicit = os.environ.get("SCATTER_DEPLOYMENTS")
    if explicit and _is_url(explicit):
        return explicit
    return local_record_path()


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    market: str
    file_registry: str
    block: int
    deployer: str
    params: dict[str, int] = field(default_factory=dict)
    contracts_version: int = 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            "market": data["market"],
            "fileRegistry": data["file_registry"],
            "block": data["block"],
            "deployer": data["deployer"],
            "params": data["params"],
            "contractsVersion": data["contracts_version"],
        }

    @classmethod
    def from_json(cls, chain_id: int, data: dict[str, Any]) -> Deployment:
        try:
            return cls(
                chain_id=chain_id,
                market=data["market"],
                file_registry=data["fileRegistry"],
                block=int(data["block"]),
                deployer=data["deployer"],
                params={k: int(v) for k, v in data.get("params", {}).items()},
                contracts_version=int(data.get("contractsVersion", 1)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ScatterValueError(f"malformed deployment record for chain {chain_id}: {exc}") from exc


def _read(source: Source) -> dict[str, Any]:
    if _is_url(source):
        text = _fetch(str(source))
    else:
        path = Path(source)
        if not path.exists():
            return {"version": RECORD_VERSION, "chains": {}}
        text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScatterValueError(f"deployment record {source} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise ScatterValueError(f"deployment record {source} has unknown version {version!r}")
    if not isinstance(data.get("chains"), dict):
        raise ScatterValueError(f"deployment record {source} has no 'chains' table")
    return dict(data)


def _fetch(url: str) -> str:
    import httpx

    try:
        response = httpx.get(url, timeout=30.0, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise ScatterConnectionError(f"cannot fetch the deployment record {url}: {exc}") from None
    if response.status_code != 200:
        raise ScatterConnectionError(f"cannot fetch the deployment record {url}: HTTP {response.status_code}")
    return response.text


def find_deployment(
    chain_id: int, paths: list[Source] | None = None, *, w3: Web3 | None = None
) -> Deployment:
    """The deployment on ``chain_id``: from ``paths``, else as the module's docstring orders the sources.

    ``w3`` (connected to ``chain_id``) is needed only when ``SCATTER_MARKET`` names the Market.
    """
    if not paths and os.environ.get("SCATTER_MARKET"):
        if w3 is None:
            raise ScatterValueError(
                "SCATTER_MARKET is set, but nothing connected to the chain to read it from"
            )
        return from_chain(w3, os.environ["SCATTER_MARKET"], os.environ.get("SCATTER_FILE_REGISTRY") or None)
    for source in paths or [local_record_source(), Path.cwd() / DEV_RECORD, PACKAGE_RECORD]:
        entry = _read(source)["chains"].get(str(chain_id))
        if entry:
            return Deployment.from_json(chain_id, entry)
    raise ScatterNotFoundError(
        f"no Scatter deployment known on chain {chain_id}: deploy with `scatter deploy`, or set "
        "SCATTER_DEPLOYMENTS to a record (a file or an https:// URL) that has one, or SCATTER_MARKET=0x..."
    )


def from_chain(w3: Web3, market: str, file_registry: str | None = None) -> Deployment:
    """The deployment of the Market at ``market``, read from the chain ``w3`` is connected to.

    The parameters come from ``Market.params()``; the deployment block is the first block at
    the Market's genesis time (found by bisection over block timestamps, no archive node
    needed); the deployer is not known (empty), nor the FileRegistry unless given.
    """
    from web3 import Web3 as _Web3
    from web3.exceptions import Web3Exception

    from scatter.chain.market import VERSION, Market
    from scatter.chain.tx import rpc_guard
    from scatter.errors import ContractError

    if not _Web3.is_address(market) or (file_registry is not None and not _Web3.is_address(file_registry)):
        raise ScatterValueError(
            f"not an address: {market if not _Web3.is_address(market) else file_registry}"
        )
    chain_id = int(rpc_guard("reading chain id", lambda: w3.eth.chain_id))
    address = _Web3.to_checksum_address(market)
    if not rpc_guard("reading the Market's code", lambda: w3.eth.get_code(address)):
        raise ScatterNotFoundError(f"no contract at {address} on chain {chain_id}")
    bound = Market(w3, address)
    try:
        version = int(rpc_guard("reading Market.VERSION", bound.version))
        params = rpc_guard("reading Market.params", bound.params)
    except (ContractError, Web3Exception):
        raise ScatterValueError(f"{address} on chain {chain_id} is not a Scatter Market") from None
    if version != VERSION:
        raise ContractError(f"the Market at {address} is version {version}, these bindings speak {VERSION}")
    return Deployment(
        chain_id=chain_id,
        market=address,
        file_registry=_Web3.to_checksum_address(file_registry) if file_registry else "",
        block=_first_block_at(w3, params.genesis),
        deployer="",
        params=params.to_json(),
        contracts_version=version,
    )


def _first_block_at(w3: Web3, timestamp: int) -> int:
    """The first block whose timestamp is at least ``timestamp`` (the latest block if none is)."""
    from scatter.chain.tx import rpc_guard

    def stamp(number: int) -> int:
        return int(rpc_guard(f"reading block {number}", lambda: w3.eth.get_block(number))["timestamp"])

    lo, hi = 0, int(rpc_guard("reading the head", lambda: w3.eth.block_number))
    while lo < hi:
        mid = (lo + hi) // 2
        if stamp(mid) < timestamp:
            lo = mid + 1
        else:
            hi = mid
    return lo


def deploy_record_path(explicit: Path | None = None) -> Path:
    """Where a deploy (``scatter deploy``, ``ape run deploy``) records: ``explicit``, else the local
    record; never the record of a ``scatter dev`` network (a directory holding its ``dev.json``)."""
    path = explicit or local_record_path()
    if (path.parent / "dev.json").exists() or path.resolve() == (Path.cwd() / DEV_RECORD).resolve():
        raise ScatterValueError(
            f"{path} is the record of a `scatter dev` network, which keeps it: record elsewhere "
            "(--record or SCATTER_DEPLOYMENTS; default ./.scatter/deployments.json)"
        )
    return path


def record_deployment(deployment: Deployment, path: Path | None = None) -> Path:
    """Add or replace the chain's entry in a record file (atomically: write temp, rename)."""
    path = path or local_record_path()
    data = _read(path)
    data["chains"][str(deployment.chain_id)] = deployment.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        json.dump(data, tmp, indent=2, sort_keys=True)
        tmp.write("\n")
    Path(tmp.name).chmod(0o644)  # public facts, read by a container's own user through a mount
    Path(tmp.name).replace(path)
    return path
