"""Compile ``contracts/`` into the artifacts shipped in ``scatter/chain/artifacts``.

Run time never needs a compiler: the SDK and the daemons load the shipped
JSON. ``scatter contracts build`` regenerates them and ``scatter contracts
check`` (run by the test suite) fails when they no longer match the sources.
Settings mirror ``foundry.toml`` so forge and the shipped bytecode agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scatter.chain.artifacts import ARTIFACTS_DIR, DEPLOYABLE
from scatter.chain.toolchain import SOLC_VERSION, repo_root, solc_path
from scatter.errors import ToolchainError

REMAPPINGS = [
    "forge-std/=node_modules/@layerzerolabs/toolbox-foundry/lib/forge-std/",
    "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/",
]
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 1000},
    "viaIR": True,
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "ipfs"},
    "remappings": REMAPPINGS,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


@dataclass(frozen=True)
class CompiledContract:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str

    def to_artifact(self) -> dict[str, Any]:
        return {
            "contractName": self.name,
            "sourceName": self.source,
            "compiler": {"version": SOLC_VERSION, "settings": _artifact_settings()},
            "abi": self.abi,
            "bytecode": "0x" + self.bytecode,
            "deployedBytecode": "0x" + self.deployed_bytecode,
        }


def _artifact_settings() -> dict[str, Any]:
    return {k: v for k, v in SETTINGS.items() if k != "outputSelection"}


def contract_sources(root: Path) -> list[Path]:
    """The production sources: every .sol under contracts/ except tests and scripts."""
    skip = {"test", "script", "snapshots"}
    return sorted(
        p
        for p in (root / "contracts").rglob("*.sol")
        if not skip.intersection(p.relative_to(root / "contracts").parts)
    )


def compile_contracts() -> dict[str, CompiledContract]:
    """Compile the production sources; returns the deployable contracts by name."""
    import solcx
    from solcx.exceptions import SolcError

    root = repo_root()
    sources = {str(p.relative_to(root)): {"content": p.read_text()} for p in contract_sources(root)}
    request = {"language": "Solidity", "sources": sources, "settings": SETTINGS}
    try:
        output = solcx.compile_standard(
            request, base_path=str(root), allow_paths=[str(root)], solc_binary=str(solc_path())
        )
    except SolcError as exc:
        raise ToolchainError(f"solc failed: {str(exc).splitlines()[0]}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ToolchainError("solc: " + errors[0].get("formattedMessage", errors[0]["message"]).strip())
    compiled: dict[str, CompiledContract] = {}
    for source, contracts in output["contracts"].items():
        for name, data in contracts.items():
            if name in DEPLOYABLE:
                compiled[name] = CompiledContract(
                    name=name,
                    source=source,
                    abi=data["abi"],
                    bytecode=data["evm"]["bytecode"]["object"],
                    deployed_bytecode=data["evm"]["deployedBytecode"]["object"],
                )
    missing = set(DEPLOYABLE) - set(compiled)
    if missing:
        raise ToolchainError(f"contracts not found in sources: {', '.join(sorted(missing))}")
    return compiled


def render(contract: CompiledContract) -> str:
    """The exact text of a shipped artifact file."""
    return json.dumps(contract.to_artifact(), indent=1, sort_keys=True) + "\n"


def write_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Compile and (re)write the shipped artifacts; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, contract in sorted(compile_contracts().items()):
        path = out_dir / f"{name}.json"
        path.write_text(render(contract))
        written.append(path)
    return written


def stale_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Names of shipped artifacts that differ from a fresh compile (empty when current)."""
    stale = []
    for name, contract in sorted(compile_contracts().items()):
        path = out_dir / f"{name}.json"
        if not path.exists() or path.read_text() != render(contract):
            stale.append(name)
    return stale
