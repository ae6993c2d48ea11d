"""Challenges on a real-time anvil: audits by lottery, fail votes that request a proof with a
bond, overdue challenges reported, and no ``ok`` signature while a challenge is open."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scatter.chain.market import audit_draws
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.memory import MemoryBlockStore
from scatter.protocol.attestations import RANGES_PATH, attestations_path, range_path, range_request
from tests.integration.validator.conftest import LiveMarket, wait_until
from tests.integration.validator.helpers import LyingStore, Shard, make_shard

pytestmark = pytest.mark.integration

CLIENT, HOSTER, OTHER = 1, 2, 9
V1, V2 = 5, 6


def proof_requests(live: LiveMarket, reason: int | None = None) -> list[Any]:
    events = live.market().contract.events.ProofRequested().get_logs(from_block=0)
    return [e for e in events if reason is None or e["args"]["reason"] == reason]


def sender(live: LiveMarket, event: Any) -> str:
    return str(live.w3.eth.get_transaction(event["transactionHash"])["from"])


def signed_epochs(url: str, deal_id: int) -> dict[int, bool]:
    body = httpx.get(url + attestations_path(deal_id)).json()
    return {a["fromEpoch"]: a["ok"] for a in body["attestations"] if a["fromEpoch"] == a["toEpoch"]}


def serve(shards: list[Shard]) -> GatewayServer:
    store = MemoryBlockStore()
    for shard in shards:
        store.put_many(shard.blocks)
    return GatewayServer(create_gateway_app(store))


@pytest.mark.parametrize("live", [{"epoch_seconds": 3, "audit_bps": 5_000, "audit_every_blocks": 4}],
                         indirect=True)  # fmt: skip
def test_audits_are_sent_for_the_lottery_winners_only(live: LiveMarket) -> None:
    shards = [make_shard(8 * 1024, seed=i) for i in range(8)]
    with serve(shards) as gw:
        deals = [live.deal(HOSTER, CLIENT, shard, gw.url) for shard in shards]
        v = live.start_validator(V1)
        reporter = v.daemon.reporter
        wait_until(lambda: len(reporter.audit_rounds) >= 3, timeout=60, what="three audit seed blocks")
        v.stop()  # no more rounds while we read them (the last may be half done)
        rounds = list(reporter.audit_rounds)
        for block, winners in rounds:
            block_hash = bytes(live.w3.eth.get_block(block)["hash"] or b"")
            assert winners == [d for d in deals if audit_draws(block_hash, d, 5_000)], block
        assert any(winners for _, winners in rounds) and any(len(w) < len(deals) for _, w in rounds)
        # only winners were ever simulated (an eth_call each), let alone sent
        # (the last round may have been stopped half done, hence <=; the lottery drew winners, hence > 0)
        assert 0 < reporter.simulated["audit"] <= sum(len(w) for _, w in rounds)
        audited = {e["args"]["dealId"] for e in proof_requests(live, reason=2)}
        assert audited and audited <= {d for _, w in rounds for d in w}
        assert all(sender(live, e) == live.address(V1) for e in proof_requests(live, reason=2))


@pytest.mark.parametrize("live", [{"epoch_seconds": 3, "audit_bps": 10_000, "audit_every_blocks": 4}],
                         indirect=True)  # fmt: skip
def test_no_ok_signature_while_a_challenge_is_open_and_the_held_epochs_signed_after_the_proof(
    live: LiveMarket,
) -> None:
    shard = make_shard(16 * 1024)
    with serve([shard]) as gw:
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url)
        v = live.start_validator(V1, report_faults=False)  # the test opens the challenge itself
        wait_until(lambda: any(signed_epochs(v.url, deal_id).values()), timeout=90, what="a first ok")
        head = live.w3.eth.block_number
        live.market(OTHER).audit(deal_id, head - head % 4 if head % 4 else head - 4)
        opened = live.epoch()
        assert live.market().challenge_of(deal_id).open

        def held() -> list[int]:
            return [
                e
                for e in range(opened + 1, live.epoch())
                if (x := v.daemon.ledger.verdict(deal_id, e)) and x.ok
            ]

        wait_until(lambda: len(held()) >= 2, timeout=90, what="verdicts while open")
        epochs = held()
        signed = signed_epochs(v.url, deal_id)
        assert not any(signed.get(e) for e in epochs)  # recorded ok, but not signed
        refused = httpx.post(v.url + range_path(deal_id), json={"fromEpoch": epochs[0], "toEpoch": epochs[0]})
        assert refused.status_code == 409 and "open proof challenge" in refused.text
        batch = httpx.post(v.url + RANGES_PATH, json=range_request([(deal_id, epochs[1], epochs[1])])).json()
        assert "open proof challenge" in batch["results"][0]["error"]

        live.prove(HOSTER, deal_id, shard.data)  # the honest hoster answers
        assert not live.market().challenge_of(deal_id).open

        def signable() -> httpx.Response | None:
            resp = httpx.post(
                v.url + range_path(deal_id), json={"fromEpoch": epochs[0], "toEpoch": epochs[0]}
            )
            return resp if resp.status_code == 200 else None

        ok = wait_until(signable, timeout=90, what="the held epoch to be signable")
        assert ok is not None and ok.json()["ok"] is True


@pytest.mark.parametrize(
    "live",
    [{"epoch_seconds": 3, "audit_bps": 10_000, "audit_every_blocks": 4, "proof_window_epochs": 1}],
    indirect=True,
)
def test_an_overdue_challenge_of_any_deal_is_reported_and_the_reporter_paid(live: LiveMarket) -> None:
    shard = make_shard(16 * 1024)
    with serve([shard]) as gw:
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url)
        collateral = live.market().get_deal(deal_id).collateral
        # this validator does not even check the deal (its operator's hoster): reporting is objective
        v = live.start_validator(V1, exclude=(live.address(HOSTER),))
        wait_until(lambda: live.market().contract.events.ProofMissed().get_logs(from_block=0), timeout=60,
                   what="a missed proof reported")  # fmt: skip
        (missed,) = live.market().contract.events.ProofMissed().get_logs(from_block=0)[:1]
        assert missed["args"]["dealId"] == deal_id and sender(live, missed) == live.address(V1)
        reward = missed["args"]["toReporter"]
        assert reward > 0 and live.market().get_deal(deal_id).collateral < collateral
        block = missed["blockNumber"]
        credited = live.market().contract.events.Credited().get_logs(from_block=block, to_block=block)
        assert (
            sum(e["args"]["amount"] for e in credited if e["args"]["account"] == live.address(V1)) >= reward
        )
        assert signed_epochs(v.url, deal_id) == {}  # never checked it, never signed for it
        rows = [r for r in v.daemon.reporter.reports() if r["kind"] == "missed_proof"]
        assert rows and rows[0]["state"] == "mined"


@pytest.mark.parametrize("live", [{"epoch_seconds": 3}], indirect=True)
def test_fail_votes_of_the_committee_request_a_proof_with_the_bond(live: LiveMarket) -> None:
    shard = make_shard(16 * 1024)
    store = LyingStore(shard.store())
    store.falsify(shard.leaves)  # every leaf served with a flipped byte: evidence
    with GatewayServer(create_gateway_app(store)) as gw:
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url)
        v1 = live.start_validator(V1, warmup_epochs=0)
        v2 = live.start_validator(V2, warmup_epochs=0)
        wait_until(lambda: proof_requests(live, reason=0), timeout=60, what="a proof request by fail quorum")
        (event,) = proof_requests(live, reason=0)[:1]
        assert event["args"]["dealId"] == deal_id
        tx = live.w3.eth.get_transaction(event["transactionHash"])
        assert tx["from"] in (live.address(V1), live.address(V2))
        assert tx["value"] == live.market().params().proof_bond  # the voters post the bond
        epoch = event["args"]["challengeEpoch"]
        for v in (v1, v2):
            verdict = v.daemon.ledger.verdict(deal_id, epoch)
            assert verdict is not None and not verdict.ok and verdict.detail["result"] == "wrong"
        assert live.market().get_deal(deal_id).collateral > 0  # a vote never slashes
        before = live.market().balance_of(live.address(HOSTER))
        live.prove(HOSTER, deal_id, shard.data)  # it does hold the data: the bond pays its gas
        assert live.market().balance_of(live.address(HOSTER)) - before == tx["value"]
