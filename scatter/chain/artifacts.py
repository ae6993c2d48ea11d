"""The compiled contracts shipped inside the package (ABI and bytecode)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from scatter.errors import ToolchainError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
DEPLOYABLE = ("Market", "FileRegistry")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler_version: str


@cache
def load_artifact(name: str) -> Artifact:
    """Load a shipped artifact by contract name (``Market`` or ``FileRegistry``)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ToolchainError(
            f"artifact {name} missing from the package; rebuild with `make artifacts`"
        ) from exc
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        compiler_version=data["compiler"]["version"],
    )
