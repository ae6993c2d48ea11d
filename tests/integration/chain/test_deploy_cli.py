"""`scatter deploy`, `scatter dev` and `ape run deploy` as a user runs them: real
processes against a real anvil on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scatter.chain.anvil import Anvil, free_port
from scatter.chain.deploy import connect
from scatter.chain.market import Market

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def scatter(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scatter", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_deploy_records_addresses_that_hold_the_contracts(anvil: Anvil, tmp_path: Path) -> None:
    record = tmp_path / "deployments.json"
    done = scatter(
        "deploy", "--rpc-url", anvil.url, "--preset", "devnet", "--epoch-seconds", "7",
        "--dev-account", "9", "--record", str(record), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    entry = json.loads(record.read_text())["chains"]["31337"]
    assert entry["market"] == out["market"]
    market = Market(connect(anvil.url), out["market"])
    assert market.params().epoch_seconds == 7
    assert market.current_epoch() >= 0


def test_deploy_to_a_dead_endpoint_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    done = scatter("deploy", "--rpc-url", f"http://127.0.0.1:{port}", "--dev-account", "0", cwd=tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "unreachable" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_deploy_without_a_key_says_what_to_set(anvil: Anvil, tmp_path: Path) -> None:
    env = {"SCATTER_PRIVATE_KEY": "", "SCATTER_KEYSTORE": ""}
    done = scatter("deploy", "--rpc-url", anvil.url, cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "SCATTER_PRIVATE_KEY" in done.stderr


def test_deploy_with_an_encrypted_keystore(anvil: Anvil, tmp_path: Path) -> None:
    from scatter.chain import wallet

    keystore = tmp_path / "deployer.json"
    wallet.write_keystore(wallet.dev_account(8), keystore, "pw")
    env = {"SCATTER_KEYSTORE": str(keystore), "SCATTER_KEYSTORE_PASSWORD": "pw", "SCATTER_PRIVATE_KEY": ""}
    done = scatter("deploy", "--rpc-url", anvil.url, "--record", str(tmp_path / "d.json"), "--json",
                   cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deployer"] == wallet.dev_account(8).address


def test_dev_network_starts_and_keeps_its_deployment_across_restarts(tmp_path: Path) -> None:
    # ``--port 0``: every daemon and the web node on a free port (none of the fixed 8700 + i)
    args = ("dev", "--once", "--json", "--state-dir", str(tmp_path / ".scatter" / "dev"),
            "--rpc-port", str(free_port()), "--port", "0", "--hosters", "1", "--validators", "1",
            "--epoch-seconds", "3")  # fmt: skip
    first = scatter(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["contracts"]["params"]["epoch_seconds"] == 3
    assert (tmp_path / ".scatter" / "dev" / "dev.json").exists()
    assert (tmp_path / ".scatter" / "dev" / "anvil-state.json").exists()
    second = scatter(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["contracts"]["market"] == summary["contracts"]["market"]
    # the endpoints the daemons registered on chain keep answering: same ports after a restart
    urls = [n["url"] for n in summary["hosters"] + summary["validators"]]
    assert len(urls) == 2 and [n["url"] for n in again["hosters"] + again["validators"]] == urls
    record = json.loads((tmp_path / ".scatter" / "dev" / "deployments.json").read_text())
    assert record["chains"]["31337"]["market"] == summary["contracts"]["market"]


@pytest.mark.skipif(
    shutil.which("ape", path=str(Path(sys.executable).parent)) is None, reason="eth-ape not installed"
)
def test_ape_script_deploys_with_the_same_function(tmp_path: Path) -> None:
    with Anvil() as node:
        record = tmp_path / "ape-deployments.json"
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "ape"),
                "run",
                "deploy",
                "--network",
                f"ethereum:local:{node.url}",
            ],
            cwd=REPO,
            env={
                **os.environ,
                "SCATTER_DEV_ACCOUNT": "0",
                "SCATTER_DEPLOYMENTS": str(record),
                "SCATTER_EPOCH_SECONDS": "11",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        entry = json.loads(record.read_text())["chains"]["31337"]
        assert Market(connect(node.url), entry["market"]).params().epoch_seconds == 11
