"""A local anvil with Sepolia's chain id, and `scatter deploy --network sepolia` run on it as an
operator runs it (RPC URL and key from a `.env` in an otherwise empty directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scatter.chain import wallet
from scatter.chain.anvil import Anvil

SEPOLIA_CHAIN_ID = 11155111
DEPLOYER = 0


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no SCATTER_* variable of the test run leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    return {**env, **extra}


def scatter(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scatter", *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@dataclass(frozen=True)
class SepoliaDeploy:
    node: Anvil
    workdir: Path
    out: dict[str, Any]  # the --json output

    @property
    def record(self) -> Path:
        return Path(self.out["record"])


@pytest.fixture(scope="session")
def sepolia() -> Iterator[Anvil]:
    with Anvil(chain_id=SEPOLIA_CHAIN_ID) as node:
        yield node


@pytest.fixture(scope="session")
def sepolia_deploy(sepolia: Anvil, tmp_path_factory: pytest.TempPathFactory) -> SepoliaDeploy:
    workdir = tmp_path_factory.mktemp("operator")
    key = wallet.dev_account(DEPLOYER).key.hex()
    (workdir / ".env").write_text(
        f"SCATTER_RPC_URL={sepolia.url}\nSCATTER_PRIVATE_KEY=0x{key.removeprefix('0x')}\n"
    )
    done = scatter("deploy", "--network", "sepolia", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    return SepoliaDeploy(sepolia, workdir, json.loads(done.stdout))
