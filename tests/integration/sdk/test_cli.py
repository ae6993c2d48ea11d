"""The client commands as a user runs them: `python -m scatter ...` against anvil and real gateways.

Checks the shell only (the SDK is tested beside it): JSON output, one-line errors
with a non-zero exit, --help with examples, and that the commands find the chain
and contracts from the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scatter.chain.anvil import Anvil
from scatter.chain.deployments import record_deployment
from scatter.client import Scatter
from tests.conftest import Chain
from tests.integration.sdk.conftest import StoredFile, fault_deals

pytestmark = pytest.mark.integration


@pytest.fixture()
def run(chain: Chain, anvil: Anvil, tmp_path: Path):  # type: ignore[no-untyped-def]
    record = record_deployment(chain.deployment, tmp_path / "deployments.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env.update(SCATTER_RPC_URL=anvil.url, SCATTER_DEPLOYMENTS=str(record))

    def scatter(*args: str, account: int = 1) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scatter", *args, "--dev-account", str(account)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return scatter


def test_ls_status_share_download_through_the_cli(run, stored_file: StoredFile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ls = run("ls", "--json")
    assert ls.returncode == 0, ls.stderr
    [entry] = json.loads(ls.stdout)
    assert entry["file_id"] == stored_file.file_id and entry["name"] == "report.bin"
    assert entry["sha256"].startswith("0x")
    assert entry["health"]["label"] == "6/6 live" and entry["health"]["state"] == "healthy"
    human_ls = run("ls")
    assert human_ls.returncode == 0 and "6/6 live" in human_ls.stdout and "warning" not in human_ls.stderr
    st = run("status", str(stored_file.file_id), "--json")
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    assert status["bid"]["bid_id"] == stored_file.bid_id and len(status["deals"]) == 6
    assert status["health"]["live"] == 6 and all(d["live"] for d in status["deals"])
    link = run("share", "report.bin", "--json")
    assert link.returncode == 0, link.stderr
    url = json.loads(link.stdout)["link"]
    got = run("download", url, "-o", str(tmp_path / "copy.bin"), "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["size"] == len(stored_file.data)
    assert (tmp_path / "copy.bin").read_bytes() == stored_file.data
    shown = run("status", "report.bin")
    assert shown.returncode == 0 and all(s.url in shown.stdout for s in stored_file.servers)  # endpoints
    human = run("download", str(stored_file.file_id), "-o", str(tmp_path / "copy2.bin"))
    assert human.returncode == 0 and "sha256 verified" in human.stdout


def test_ls_and_status_warn_when_a_file_is_at_risk(  # type: ignore[no-untyped-def]
    run, sdk: Scatter, chain: Chain, stored_file: StoredFile
) -> None:
    deals = {d.slot: d.deal_id for d in sdk.deals_of_bid(stored_file.bid_id)}
    fault_deals(chain, sdk, [deals[1], deals[3], deals[5]])
    ls = run("ls")
    assert ls.returncode == 0, ls.stderr
    assert "3/6 AT RISK" in ls.stdout
    assert "warning:" in ls.stderr and "only 3 of 6 shards" in ls.stderr
    st = run("status", "report.bin")
    assert st.returncode == 0 and "3/6 AT RISK" in st.stdout and "only 3 of 6 shards" in st.stderr
    as_json = json.loads(run("ls", "--json").stdout)
    assert as_json[0]["health"]["state"] == "at-risk"


def test_errors_are_one_line_with_a_nonzero_exit(run, stored_file: StoredFile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (("cancel", str(stored_file.bid_id), "--slot", "0"), "not open"),
        (("download", "no-such-name"), "no file named 'no-such-name'"),
        (("upload", str(tmp_path / "missing.bin")), "is not a file"),
        (("upload", str(stored_file.path), "--duration", "forever"), "invalid duration"),
        (("withdraw",), "nothing to withdraw"),
        (("status",), "give a file id or name"),
    ]
    for args, message in cases:
        done = run(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, done.stderr)
    # A refused upload left nothing behind to resume or clean up.
    assert json.loads(run("ls", "--pending", "--json").stdout) == []
    # Another account holds none of these files.
    assert json.loads(run("ls", "--json", account=4).stdout) == []


def test_upload_without_hosters_says_how_to_resume_or_abort_and_abort_refunds(  # type: ignore[no-untyped-def]
    run, sdk: Scatter, tmp_path: Path
) -> None:
    src = tmp_path / "lonely.bin"
    src.write_bytes(os.urandom(50_000))
    done = run("upload", str(src), "--timeout", "1s", "--duration", "10m")
    assert done.returncode == 1
    assert "run the same upload again" in done.stderr and "scatter cancel 1" in done.stderr
    pending = run("ls", "--pending", "--json")
    assert [p["bid_id"] for p in json.loads(pending.stdout)] == [1]
    abort = run("upload", str(src), "--abort", "--json")
    assert abort.returncode == 0, abort.stderr
    refund = json.loads(abort.stdout)["cancel"]["refund_wei"]
    assert refund > 0
    bal = json.loads(run("balance", "--json").stdout)
    assert bal["withdrawable_wei"] == refund and bal["escrow_wei"] == 0


@pytest.mark.parametrize(
    "command",
    [
        "upload",
        "download",
        "pin",
        "ls",
        "status",
        "rm",
        "cancel",
        "extend",
        "share",
        "watch",
        "balance",
        "withdraw",
    ],
)
def test_every_client_command_has_help_with_examples(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scatter", command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "Example" in done.stdout and f"scatter {command}" in done.stdout and "--json" in done.stdout


def test_a_dev_network_that_is_not_running_is_named_with_what_to_do(tmp_path: Path) -> None:
    from scatter.chain.anvil import free_port

    (tmp_path / ".scatter" / "dev").mkdir(parents=True)
    url = f"http://127.0.0.1:{free_port()}"
    (tmp_path / ".scatter" / "dev" / "dev.json").write_text(json.dumps({"rpcUrl": url, "chainId": 31337}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    done = subprocess.run(
        [sys.executable, "-m", "scatter", "balance"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        f"the dev network of this directory ({url}) does not answer: start it with `scatter dev`"
        in done.stderr
    )
