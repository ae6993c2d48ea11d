"""Where the contracts live, per chain id.

Two files are read, the first that names a chain id wins:

1. the local record: ``$SCATTER_DEPLOYMENTS`` or ``./.scatter/deployments.json``
   (written by ``scatter deploy`` and ``scatter dev``);
2. the package record ``scatter/chain/deployments.json``: the project's
   public deployments (Sepolia...), committed after each release deploy with
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
from typing import Any

from scatter.errors import ScatterNotFoundError, ScatterValueError

RECORD_VERSION = 1
PACKAGE_RECORD = Path(__file__).resolve().parent / "deployments.json"


def local_record_path() -> Path:
    explicit = os.environ.get("SCATTER_DEPLOYMENTS")
    return Path(explicit) if explicit else Path.cwd() / ".scatter" / "deployments.json"


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


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": RECORD_VERSION, "chains": {}}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ScatterValueError(f"deployment record {path} is not valid JSON: {exc}") from exc
    if data.get("version") != RECORD_VERSION:
        raise ScatterValueError(f"deployment record {path} has unknown version {data.get('version')!r}")
    return dict(data)


def find_deployment(chain_id: int, paths: list[Path] | None = None) -> Deployment:
    """The deployment on ``chain_id`` from the local record, else the package record."""
    for path in paths or [local_record_path(), PACKAGE_RECORD]:
        entry = _read(path)["chains"].get(str(chain_id))
        if entry:
            return Deployment.from_json(chain_id, entry)
    raise ScatterNotFoundError(
        f"no Scatter deployment known on chain {chain_id}: deploy with `scatter deploy` "
        "or set SCATTER_DEPLOYMENTS to a record that has one"
    )


def record_deployment(deployment: Deployment, path: Path | None = None) -> Path:
    """Add or replace the chain's entry in a record file (atomically: write temp, rename)."""
    path = path or local_record_path()
    data = _read(path)
    data["chains"][str(deployment.chain_id)] = deployment.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        json.dump(data, tmp, indent=2, sort_keys=True)
        tmp.write("\n")
    Path(tmp.name).replace(path)
    return path
