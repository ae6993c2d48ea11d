"""The validator daemon on a real-time anvil: join, follow, check, sign, publish, settle, request."""

from __future__ import annotations

import httpx
import pytest

from scatter.chain.eip712 import SignedAttestation
from scatter.chain.market import NodeStatus, Role
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.attestations import attestations_path, from_json, range_path
from scatter.validator.status import read_status
from tests.integration.validator.conftest import LiveMarket, wait_until
from tests.integration.validator.helpers import make_shard

pytestmark = pytest.mark.integration

CLIENT, HOSTER = 1, 2
V1, V2, V3 = 5, 6, 7


def verdicts(live: LiveMarket, url: str, deal_id: int) -> dict[int, bool]:
    body = httpx.get(url + attestations_path(deal_id)).json()
    out: dict[int, bool] = {}
    for item in body["attestations"]:
        att = from_json(item, chain_id=live.deployment.chain_id, market=live.deployment.market).attestation
        if att.from_epoch == att.to_epoch:
            out[att.from_epoch] = att.ok
    return out


def range_sig(live: LiveMarket, url: str, deal_id: int, a: int, b: int) -> SignedAttestation:
    resp = httpx.post(url + range_path(deal_id), json={"fromEpoch": a, "toEpoch": b})
    assert resp.status_code == 200, resp.text
    return from_json(resp.json(), chain_id=live.deployment.chain_id, market=live.deployment.market)


@pytest.mark.parametrize("live", [{"epoch_seconds": 3, "period_epochs": 100}], indirect=True)
def test_two_validators_check_an_honest_deal_every_epoch_and_it_settles(live: LiveMarket) -> None:
    shard = make_shard(64 * 1024)
    with GatewayServer(create_gateway_app(shard.store())) as gw:
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url, duration=30)
        start = live.market().get_deal(deal_id).start_epoch
        v1, v2 = live.start_validator(V1), live.start_validator(V2)
        mine = live.start_validator(V3, exclude=(live.address(HOSTER),))  # the hoster's own operator
        for v, account in ((v1, V1), (v2, V2)):
            node = live.market().node(Role.VALIDATOR, live.address(account))
            assert node.status == NodeStatus.ACTIVE and node.endpoint == v.url

        def both_ok(epochs: int) -> list[int] | None:
            a, b = verdicts(live, v1.url, deal_id), verdicts(live, v2.url, deal_id)
            common = sorted(e for e in a.keys() & b.keys() if a[e] and b[e])
            return common if len(common) >= epochs else None

        ok_epochs = wait_until(lambda: both_ok(3), timeout=90, what="three epochs checked ok by both")
        assert ok_epochs is not None
        first, last = ok_epochs[0], ok_epochs[-1]
        assert first >= start and ok_epochs == list(range(first, last + 1))  # every epoch, no gap
        wait_until(lambda: live.epoch() > last, what="the epochs to end")
        sigs = [range_sig(live, v.url, deal_id, first, last) for v in (v1, v2)]
        live.market(HOSTER).settle(deal_id, first, last, sigs)  # skipping earlier epochs: the hoster may
        assert live.market().get_deal(deal_id).paid_through == last

        assert verdicts(live, mine.url, deal_id) == {}  # never attests its operator's own deals
        # nothing ever failed; metrics, health and status say what happened
        assert all(verdicts(live, v1.url, deal_id).values())
        metrics = httpx.get(v1.url + "/metrics").text
        assert 'scatter_validator_checks_total{result="ok"}' in metrics
        assert httpx.get(v1.url + "/healthz").json()["status"] == "ok"
        status = read_status(live.tmp / f"validator-{V1}")
        assert status["running"] and status["verdicts"]["fail"] == 0 and status["verdicts"]["ok"] >= 3


@pytest.mark.parametrize("live", [{"epoch_seconds": 3, "missed_quorum_epochs": 2}], indirect=True)
def test_a_deal_never_settled_gets_a_proof_request_for_its_missed_quorum(live: LiveMarket) -> None:
    shard = make_shard(16 * 1024)
    with GatewayServer(create_gateway_app(shard.store())) as gw:  # serves, but its hoster never settles
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url, duration=30)
        v = live.start_validator(V1)
        wait_until(lambda: live.market().challenge_of(deal_id).open, timeout=90, what="a proof request")
        (event,) = live.market().contract.events.ProofRequested().get_logs(from_block=0)
        assert event["args"]["dealId"] == deal_id and event["args"]["reason"] == 1  # missed quorum
        sender = live.w3.eth.get_transaction(event["transactionHash"])["from"]
        assert sender == live.address(V1)
        assert live.market().get_deal(deal_id).collateral > 0  # a request, not a slash
        assert all(verdicts(live, v.url, deal_id).values())  # checked ok all along: only unpaid
        mined = 'scatter_validator_reports_total{kind="missed_quorum",outcome="mined"} 1.0'
        # the request is on chain before the daemon has read its receipt: wait for the count, not a time
        wait_until(lambda: mined in httpx.get(v.url + "/metrics").text, timeout=90, what="the mined report")
