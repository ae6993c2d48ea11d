"""`scatter dev` as a user runs it: a real process tree (anvil, hosters, validators, web node).

Checks the summary, that other commands in the directory use the dev network by
default, that a crashed hoster is reported and restarted, and that Ctrl-C
stops every child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from scatter.chain.anvil import free_port

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_dev_runs_the_marketplace_restarts_crashed_children_and_stops_cleanly(tmp_path: Path) -> None:
    summary_path = tmp_path / ".scatter" / "dev" / "dev.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scatter", "dev", "--hosters", "2", "--validators", "1",
         "--rpc-port", str(free_port()), "--port", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    pids: list[int] = []
    try:
        _wait_for(
            lambda: (
                summary_path.exists() and len(json.loads(summary_path.read_text()).get("hosters", [])) == 2
            ),
            300,  # bounds a failure only: a loaded machine starts the daemons slowly
            "dev.json with two hosters",
        )
        summary = json.loads(summary_path.read_text())
        assert summary["epochSeconds"] == 2
        assert [h["account"] for h in summary["hosters"]] == [10, 11]
        assert [v["account"] for v in summary["validators"]] == [50]
        assert summary["defaultClient"] == 1 and summary["clients"][0]["index"] == 1
        pids = [c["pid"] for c in summary["hosters"] + summary["validators"]]
        assert all(_alive(p) for p in pids)

        api = summary["web"]["api"]
        hosters = httpx.get(f"{api}/hosters", timeout=10).json()
        assert sorted(h["address"] for h in hosters) == sorted(h["address"] for h in summary["hosters"])
        assert all(h["status"] == "active" for h in hosters)
        assert httpx.get(f"{api}/status", timeout=10).json()["market"] == summary["contracts"]["market"]

        # Other commands in this directory find the dev chain and use dev account 1.
        bal = subprocess.run(
            [sys.executable, "-m", "scatter", "balance", "--json"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert bal.returncode == 0, bal.stderr
        assert json.loads(bal.stdout)["address"] == summary["clients"][0]["address"]

        # Operators' view of the dev daemons: --dev N finds .scatter/dev/<role>s/N; one JSON style.
        def scatter_json(*args: str) -> dict[str, object]:
            done = subprocess.run(
                [sys.executable, "-m", "scatter", *args, "--json"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, (args, done.stderr)
            out: dict[str, object] = json.loads(done.stdout)
            return out

        _wait_for(
            lambda: "balance_wei" in scatter_json("hoster", "status", "--dev", "1"), 120, "hoster status"
        )
        hoster = scatter_json("hoster", "status", "--dev", "1")
        assert hoster["address"] == summary["hosters"][1]["address"]
        assert isinstance(hoster["balance_wei"], int) and isinstance(hoster["earned_wei"], int)
        validator = scatter_json("validator", "status", "--dev", "0")
        assert validator["address"] == summary["validators"][0]["address"]
        assert validator["chain_id"] == 31337 and "active_deals" in validator
        for role in ("hoster", "validator"):  # the human views read the same keys
            human = subprocess.run(
                [sys.executable, "-m", "scatter", role, "status", "--dev", "0"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert human.returncode == 0 and "running" in human.stdout, human.stderr
        quote = scatter_json("hoster", "quote", "--size", "1MiB", "--duration", "1h")
        rows: list[dict[str, int]] = quote["slots"]  # type: ignore[assignment]
        assert quote["gas_price_wei"] != 0 and rows[0]["break_even_wei_per_gib_epoch"] > 0

        # A crashed hoster is reported and restarted.
        victim = summary["hosters"][1]
        os.kill(victim["pid"], signal.SIGKILL)
        _wait_for(
            lambda: json.loads(summary_path.read_text())["hosters"][1]["restarts"] == 1,
            120,
            "the hoster to be restarted",
        )
        restarted = json.loads(summary_path.read_text())["hosters"][1]
        assert restarted["pid"] != victim["pid"] and _alive(restarted["pid"])
        pids.append(restarted["pid"])
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "hoster-1 exited" in err and "restarting" in err
    assert not [p for p in pids if _alive(p)]
    assert (tmp_path / ".scatter" / "dev" / "anvil-state.json").exists()
