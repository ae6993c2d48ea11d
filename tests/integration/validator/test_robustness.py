"""The validator across crashes (SIGKILL of `scatter validator run`), an RPC outage and a reorg."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scatter.chain.anvil import free_port
from scatter.chain.market import Role
from scatter.chain.params import ETHER
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.attestations import attestations_path, from_json, range_path
from tests.integration.validator.conftest import LiveMarket, wait_until
from tests.integration.validator.helpers import CutProxy, make_shard

# three-second epochs (nothing here is load-heavy); these hosters never settle, and the market's
# long missed-quorum period keeps them unchallenged. No assertion depends on how fast this machine is:
# each waits for an event (with a generous timeout), never for a deadline measured in epochs, and
# the verdicts asserted are outcomes (none lost or contradicted, no fail), not a count per epoch.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live", [{"epoch_seconds": 3, "period_epochs": 1000}], indirect=True),
]

CLIENT, HOSTER, V = 1, 2, 5
PATIENCE = 120.0  # seconds: only an upper bound for a failure; a loaded machine restarts slowly
Seen = dict[tuple[int, int], tuple[bool, str]]  # (from, to) -> (ok, signature)


@pytest.fixture()
def honest_deal(live: LiveMarket) -> Iterator[int]:
    shard = make_shard(32 * 1024)
    with GatewayServer(create_gateway_app(shard.store())) as gw:
        yield live.deal(HOSTER, CLIENT, shard, gw.url)


def poll(live: LiveMarket, url: str, deal_id: int, seen: Seen) -> None:
    """Record every attestation the API hands out (and ask for one range), as a hoster would."""
    try:
        body = httpx.get(url + attestations_path(deal_id), timeout=2).json()
    except httpx.HTTPError:
        return
    for item in body["attestations"]:
        signed = from_json(item, chain_id=live.deployment.chain_id, market=live.deployment.market)
        att = signed.attestation
        key = (att.from_epoch, att.to_epoch)
        value = (att.ok, item["signature"])
        assert seen.setdefault(key, value) == value, f"two different attestations for {key}"
    singles = sorted(a for a, b in seen if a == b and seen[(a, b)][0])
    if len(singles) >= 2:
        a, b = singles[0], singles[-1]
        if all((e, e) in seen for e in range(a, b + 1)):
            resp = httpx.post(url + range_path(deal_id), json={"fromEpoch": a, "toEpoch": b}, timeout=2)
            if resp.status_code == 200:
                item = resp.json()
                assert seen.setdefault((a, b), (True, item["signature"])) == (True, item["signature"])


def test_sigkilled_validator_restarts_without_forgetting_or_contradicting_a_signature(
    live: LiveMarket, honest_deal: int, tmp_path: Path
) -> None:
    port = free_port()
    state = tmp_path / "validator-cli"
    cmd = [sys.executable, "-m", "scatter", "validator", "run", "--rpc-url", live.anvil.url,
           "--dev-account", str(V), "--state-dir", str(state), "--port", str(port), "--stake", "2",
           "--deployments", str(live.record), "--confirmations", "1", "--poll-interval", "0.2",
           "--max-cpu", "none"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    seen: Seen = {}
    log = (tmp_path / "validator.log").open("wb")
    for life in range(3):
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            target = len([k for k in seen if k[0] == k[1]]) + 2

            def enough(target: int = target) -> bool:
                poll(live, url, honest_deal, seen)
                return len([k for k in seen if k[0] == k[1]]) >= target

            wait_until(enough, timeout=PATIENCE, what=f"two more verdicts in life {life}")
        finally:
            proc.send_signal(signal.SIGKILL)  # no cleanup, like a power cut
            proc.wait(30)
    # a fourth life: everything handed out before any crash is still there, identical
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        wait_until(lambda: _up(url), timeout=PATIENCE, what="the restart")
        after: Seen = {}
        poll(live, url, honest_deal, after)
        for key, value in seen.items():
            assert after.get(key) == value, f"attestation {key} changed or vanished after SIGKILL"
        assert all(ok for ok, _ in seen.values())
        # (an epoch may pass unchecked while a slow machine restarts the process: not asserted)
    finally:
        proc.terminate()
        assert proc.wait(60) == 0  # SIGTERM: a clean stop


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)  # a loaded machine may answer slowly; the answer is what counts


def test_rpc_outage_degrades_health_never_signs_fail_and_recovers(live: LiveMarket, honest_deal: int) -> None:
    proxy = CutProxy(live.anvil.port)
    proxy.start()
    try:
        v = live.start_validator(V, rpc_url=proxy.url)

        def verdicts() -> dict[int, bool]:
            body = _get(v.url + attestations_path(honest_deal)).json()
            return {a["fromEpoch"]: a["ok"] for a in body["attestations"] if a["fromEpoch"] == a["toEpoch"]}

        wait_until(lambda: len(verdicts()) >= 1, timeout=PATIENCE, what="a first verdict")
        proxy.cut()
        wait_until(lambda: _get(v.url + "/healthz").status_code == 503, timeout=PATIENCE,
                   what="degraded health")  # fmt: skip
        health = _get(v.url + "/healthz").json()
        assert health["status"] == "degraded" and "unreachable" in health["error"]
        assert _get(v.url + attestations_path(honest_deal)).status_code == 200  # still publishing
        outage_epoch = live.epoch()
        wait_until(lambda: live.epoch() >= outage_epoch + 2, timeout=PATIENCE, what="two epochs of outage")
        proxy.restore()
        wait_until(lambda: _get(v.url + "/healthz").status_code == 200, timeout=PATIENCE, what="recovery")
        back = live.epoch()
        wait_until(lambda: max(verdicts()) > back, timeout=PATIENCE, what="verdicts after the outage")
        assert all(verdicts().values())  # the outage never turned into a fail verdict
        assert "scatter_validator_rpc_errors_total" in _get(v.url + "/metrics").text
    finally:
        for x in live.validators:
            x.stop()
        live.validators.clear()
        proxy.stop()


def test_a_deal_reorganised_away_is_no_longer_checked(live: LiveMarket) -> None:
    shard = make_shard(32 * 1024)
    with GatewayServer(create_gateway_app(shard.store())) as gw:
        live.market(HOSTER).join(Role.HOSTER, gw.url, 1 << 30, 20 * ETHER)
        v = live.start_validator(V)
        fork = live.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url, join=False)

        def verdicts() -> dict[int, bool]:
            body = _get(v.url + attestations_path(deal_id)).json()
            return {a["fromEpoch"]: a["ok"] for a in body["attestations"]}

        wait_until(lambda: len(verdicts()) >= 1, timeout=PATIENCE, what="the deal to be checked")
        last_seen = live.epoch() + 1  # a round of this epoch (or the next, just begun) may be in flight
        live.w3.provider.make_request("evm_revert", [fork])  # type: ignore[arg-type]
        live.w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
        assert live.market().deal_count() == 0
        wait_until(lambda: v.daemon.index.deal(deal_id) is None, timeout=PATIENCE, what="the index to rewind")
        # anvil's revert also turns the clock back: wait by chain time, past every epoch the deal saw
        wait_until(lambda: live.epoch() >= last_seen + 3, timeout=PATIENCE, what="three epochs past the deal")
        checked = verdicts()
        assert checked and max(checked) <= last_seen, checked  # the vanished deal is not checked any more
