"""Locate the external tools Scatter drives: anvil (local node) and solc.

Lookup order for each tool: an explicit environment variable, the tool on
PATH, then the pinned copy in a source checkout's ``node_modules`` (installed
by ``make install``). Nothing is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from scatter.errors import ToolchainError

SOLC_VERSION = "0.8.30"
"""The compiler version the shipped artifacts were built with."""

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The source checkout this package lives in (meaningful only in a checkout)."""


def repo_root() -> Path:
    """The checkout root, or an error when Scatter is installed without its sources."""
    if not (REPO_ROOT / "contracts").is_dir():
        raise ToolchainError(
            "contract sources not found: run this from a Scatter source checkout (git clone; make install)"
        )
    return REPO_ROOT


def _find(env_var: str, name: str, checkout_relative: str) -> Path | None:
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit)
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    pinned = REPO_ROOT / checkout_relative
    return pinned if pinned.exists() else None


def anvil_path() -> Path:
    """Path of the anvil binary (``SCATTER_ANVIL``, PATH, or the checkout's npm copy)."""
    found = _find("SCATTER_ANVIL", "anvil", "node_modules/.bin/anvil")
    if found is None:
        raise ToolchainError(
            "anvil not found: install Foundry (foundryup) or run `make install` in a checkout, "
            "or set SCATTER_ANVIL=/path/to/anvil"
        )
    return found


def solc_path() -> Path:
    """Path of a solc for :data:`SOLC_VERSION`.

    ``SCATTER_SOLC`` wins; then the checkout's shim over the pinned solcjs
    (``tools/solc``); then a native solc on PATH or one installed by py-solc-x,
    provided its version matches.
    """
    explicit = os.environ.get("SCATTER_SOLC")
    if explicit:
        return Path(explicit)
    shim = REPO_ROOT / "tools" / "solc"
    if shim.exists() and (REPO_ROOT / "node_modules" / "solc").is_dir():
        return shim
    candidates: list[Path] = []
    on_path = shutil.which("solc")
    if on_path:
        candidates.append(Path(on_path))
    try:
        from solcx.install import get_executable

        candidates.append(Path(get_executable(SOLC_VERSION)))
    except Exception:  # solcx raises its own SolcNotInstalled; any failure means "not there"
        pass
    for candidate in candidates:
        if solc_version(candidate) == SOLC_VERSION:
            return candidate
    raise ToolchainError(
        f"solc {SOLC_VERSION} not found: run `make install` in a checkout, "
        f"`python -m solcx.install v{SOLC_VERSION}` online, or set SCATTER_SOLC"
    )


def solc_version(binary: Path) -> str | None:
    """The x.y.z version a solc binary reports, or None if it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split()[1].split("+")[0]
    return None
