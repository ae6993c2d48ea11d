"""The SDK reads ``.env`` as the CLI does: ``Scatter.connect()`` in a directory holding only a ``.env``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scatter.chain.anvil import Anvil
from scatter.chain.deployments import record_deployment
from tests.conftest import Chain

pytestmark = pytest.mark.integration

PROBE = (
    "import json; from scatter import Scatter; sc = Scatter.connect(); "
    "print(json.dumps({'rpc': sc.network.rpc_url, 'address': sc.address, 'market': sc.deployment.market}))"
)


def test_connect_in_a_directory_holding_only_a_dotenv_uses_its_rpc_key_and_record(
    chain: Chain, anvil: Anvil, tmp_path: Path
) -> None:
    record = record_deployment(chain.deployment, tmp_path / "elsewhere" / "deployments.json")
    project = tmp_path / "project"
    project.mkdir()
    account = chain.account(7)
    (project / ".env").write_text(
        f"SCATTER_RPC_URL={anvil.url}\nSCATTER_PRIVATE_KEY={account.key.hex()}\nSCATTER_DEPLOYMENTS={record}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got == {"rpc": anvil.url, "address": account.address, "market": chain.deployment.market}


def test_the_environment_wins_over_dotenv(chain: Chain, anvil: Anvil, tmp_path: Path) -> None:
    record = record_deployment(chain.deployment, tmp_path / "deployments.json")
    (tmp_path / ".env").write_text(
        f"SCATTER_RPC_URL=http://127.0.0.1:1\nSCATTER_PRIVATE_KEY={chain.account(7).key.hex()}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env.update(HOME=str(tmp_path), SCATTER_RPC_URL=anvil.url, SCATTER_DEPLOYMENTS=str(record))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rpc"] == anvil.url
