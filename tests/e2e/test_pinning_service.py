"""The Pinning Service API of a running `scatter dev`, checked by clients not written here.

- ``@ipfs-shipyard/pinning-service-compliance``, the ecosystem's compliance suite, passes (its
  schema checks use the spec's schemas served by tests/js/offline_spec.cjs: the machine is offline);
- ``@ipfs-shipyard/pinning-service-client`` (tests/js/pinning_client.mjs) drives a pin to
  ``pinned``: a bid of the node's wallet filled by the dev network's hosters;
- a token made with ``scatter pins token create`` in the directory is used by the running node,
  its spend cap stops a pin before any bid, and ``revoke`` locks it out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPLIANCE = ROOT / "node_modules" / "@ipfs-shipyard" / "pinning-service-compliance"
JS = ROOT / "tests" / "js"
PIN_ACCOUNT = 9  # scatter.dev.PIN_ACCOUNT: the wallet the dev node pays pins from
T = TypeVar("T")

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not COMPLIANCE.exists(), reason="needs node and `npm ci` (make install)"
)


@dataclass
class Dev:
    cwd: Path
    url: str
    token: str
    summary: dict[str, Any]
    env: dict[str, str]

    def pins(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token or self.token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)


def _wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:  # bounds a failure only
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    cwd = tmp_path_factory.mktemp("pins")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env |= {"SCATTER_PINS_REPLICAS": "2", "SCATTER_PINS_DURATION": "1h", "SCATTER_PINS_POLL_INTERVAL": "0.5"}
    log = (cwd / "dev.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scatter", "dev", "--hosters", "2", "--validators", "0",
         "--rpc-port", str(free_port()), "--port", "0"],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    summary_path = cwd / ".scatter" / "dev" / "dev.json"
    try:

        def ready() -> dict[str, Any] | None:
            summary: dict[str, Any] = json.loads(summary_path.read_text())
            url = summary["web"]["url"]
            hosters = httpx.get(f"{url}/api/hosters", timeout=10).json()
            active = [h for h in hosters if h["status"] == "active"]
            return summary if summary["pins"]["tokenFile"] and len(active) == 2 else None

        summary = _wait_for(ready, 300, f"scatter dev with two hosters (log: {cwd / 'dev.log'})")
        token = (cwd / summary["pins"]["tokenFile"]).read_text().strip()  # relative to the directory
        yield Dev(cwd, summary["pins"]["url"], token, summary, env)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def origin(tmp_path: Path) -> Iterator[tuple[GatewayServer, EmbeddedBlockStore]]:
    store = EmbeddedBlockStore(tmp_path / "origin", durable=False)
    with GatewayServer(create_gateway_app(store)) as server:
        yield server, store


def _publish(store: EmbeddedBlockStore, data: bytes) -> str:
    root, blocks = import_bytes(data, cid_version=1)
    for block in blocks:
        store.put(block)
    store.pin(root)
    return str(root)


def test_the_dev_token_file_is_private_and_unauthenticated_requests_are_refused(dev: Dev) -> None:
    assert (dev.cwd / dev.summary["pins"]["tokenFile"]).stat().st_mode & 0o777 == 0o600
    r = httpx.get(dev.url + "/pins", timeout=30)
    assert r.status_code == 401 and r.json()["error"]["reason"] == "UNAUTHORIZED"


@needs_node
def test_the_compliance_suite_passes_against_scatter_dev(dev: Dev) -> None:
    reports = COMPLIANCE / "dist" / "docs"
    for old in reports.glob("127.0.0.1*"):  # the suite appends to its report of a host
        if old.is_file():
            old.unlink()
    run = subprocess.run(
        ["node", "--require", str(JS / "offline_spec.cjs"), str(COMPLIANCE / "dist" / "src" / "index.js"),
         "-s", dev.url, dev.token],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = [line.strip() for line in run.stdout.splitlines() if line.strip()[:1] in ("🟢", "❌", "⚠")]
    results = json.loads((reports / "127.0.0.1.json").read_text())
    assert results == {"total": 9, "passed": 9, "failed": 0, "success": True}, "\n".join(summary) + run.stderr
    assert len(summary) >= 9 and all(line.startswith("🟢") for line in summary), "\n".join(summary)


@needs_node
def test_the_pinning_service_client_drives_a_pin_to_pinned(
    dev: Dev, origin: tuple[GatewayServer, EmbeddedBlockStore]
) -> None:
    server, store = origin
    cid = _publish(store, os.urandom(300_000))
    run = subprocess.run(
        ["node", str(JS / "pinning_client.mjs"), dev.url, dev.token, cid,
         f"/ip4/127.0.0.1/tcp/{server.port}/http", "240"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, run.stdout + run.stderr
    statuses = [line["status"] for line in lines if "status" in line]
    assert statuses[0] == "queued" and statuses[-1] == "pinned"
    end = lines[-1]
    assert end["final"]["pin"]["cid"] == cid and end["listed"] == 1
    hosters = {f"/ip4/127.0.0.1/tcp/{h['url'].rsplit(':', 1)[1]}/http" for h in dev.summary["hosters"]}
    assert set(end["delegates"]) == hosters  # the two hosters that hold it
    info = end["final"]["info"]
    assert info["replicas"] == "2/2" and int(info["dag_size"]) == 300_000
    bid = httpx.get(f"{dev.url}/api/bids/{info['bid_id']}", timeout=30).json()
    assert bid["bid"]["client"].lower() == str(wallet.dev_account(PIN_ACCOUNT).address).lower()
    assert len(bid["deals"]) == 2


def test_a_cli_token_is_capped_and_revocable_on_the_running_node(
    dev: Dev, origin: tuple[GatewayServer, EmbeddedBlockStore]
) -> None:
    server, store = origin
    cid = _publish(store, os.urandom(50_000))

    def scatter(*args: str) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(
            [sys.executable, "-m", "scatter", "pins", "token", *args],
            cwd=dev.cwd, env=dev.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run

    token = json.loads(scatter("create", "capped", "--spend-cap", "1wei", "--json").stdout)["token"]
    pin = {"cid": cid, "origins": [f"/ip4/127.0.0.1/tcp/{server.port}/http"]}
    added = dev.pins("POST", "/pins", token=token, json=pin)
    assert added.status_code == 202, added.text
    rid = added.json()["requestid"]

    def settled() -> dict[str, Any] | None:
        got: dict[str, Any] = dev.pins("GET", f"/pins/{rid}", token=token).json()
        return got if got["status"] == "failed" else None

    failed = _wait_for(settled, 120, "the capped pin to fail")
    assert failed["info"]["status_details"].startswith("INSUFFICIENT_FUNDS")
    assert "bid_id" not in failed["info"]
    assert dev.pins("GET", f"/pins/{rid}").status_code == 404  # the dev token cannot see it
    scatter("revoke", "capped")
    assert dev.pins("GET", "/pins", token=token).status_code == 401
