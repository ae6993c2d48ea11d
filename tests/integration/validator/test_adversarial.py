"""Hosters honest and not, checked by two real validator daemons (Market VERSION 3).

One market, seven hosters, each with its own gateway on loopback and its own deal: honest;
honest but slow (within the deadline); missing 10% of its leaf blocks; serving wrong bytes;
holding another deal's data instead of its own; answering after the deadline; down.

What v2 promises about each: evidence (wrong bytes, a confirmed 404) makes the committee vote
``fail``, and a fail quorum only *requests* a possession proof, with the bond; the hoster that
cannot prove is slashed by the objective ``reportMissedProof``. Slowness and outages are never a
fail vote (the epochs are recorded unknown). The honest hosters are paid and never voted fail.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scatter.chain.anvil import free_port
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.attestations import attestations_path, from_json, range_path
from tests.integration.validator.conftest import EPOCH_SECONDS, LiveMarket, wait_until
from tests.integration.validator.helpers import DelayProxy, LyingStore, make_shard

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live", [{"proof_window_epochs": 2, "period_epochs": 1000}], indirect=True),
]

CLIENT = 1
V1, V2 = 5, 6
KINDS = ("honest", "slow", "missing", "wrong", "other", "late", "down")
HOSTERS = dict(zip(KINDS, range(10, 17), strict=True))
DEADLINE = EPOCH_SECONDS / 5  # the daemon's default: 1 s
EVIDENCE = ("missing", "wrong", "other")


def single_verdicts(live: LiveMarket, url: str, deal_id: int) -> dict[int, bool]:
    body = httpx.get(url + attestations_path(deal_id)).json()
    out = {}
    for item in body["attestations"]:
        att = from_json(item, chain_id=live.deployment.chain_id, market=live.deployment.market).attestation
        if att.from_epoch == att.to_epoch:
            out[att.from_epoch] = att.ok
    return out


@pytest.fixture()
def things() -> Iterator[list[Any]]:
    started: list[Any] = []
    try:
        yield started
    finally:
        for thing in reversed(started):
            thing.close() if isinstance(thing, socket.socket) else thing.stop()


def test_evidence_requests_proofs_that_slash_the_cheaters_and_slowness_is_never_a_fail_vote(
    live: LiveMarket, things: list[Any]
) -> None:
    shards = {k: make_shard(100 * 1024, seed=i) for i, k in enumerate(KINDS)}
    foreign = make_shard(100 * 1024, seed=99)
    honest = shards["honest"].store()
    missing = LyingStore(shards["missing"].store())
    missing.lose(random.Random(3).sample(shards["missing"].leaves, len(shards["missing"].leaves) // 10))
    wrong = LyingStore(shards["wrong"].store())
    wrong.falsify(shards["wrong"].leaves)
    stores = {"honest": honest, "slow": shards["slow"].store(), "missing": missing, "wrong": wrong,
              "other": foreign.store(), "late": shards["late"].store()}  # fmt: skip
    urls: dict[str, str] = {}
    for kind, store in stores.items():
        gw = GatewayServer(create_gateway_app(store)).start()
        things.append(gw)
        urls[kind] = gw.url
        if kind in ("slow", "late"):  # behind a proxy that holds each request
            proxy = DelayProxy(
                int(gw.url.rsplit(":", 1)[1]), 0.2 if kind == "slow" else 2.5 * DEADLINE
            ).start()
            things.append(proxy)
            urls[kind] = proxy.url
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # bound, never listening: refused
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", free_port()))
    things.append(holder)
    urls["down"] = f"http://127.0.0.1:{holder.getsockname()[1]}"

    deal = {k: live.deal(HOSTERS[k], CLIENT, shards[k], urls[k]) for k in KINDS}
    market = live.market()
    collateral = {k: market.get_deal(deal[k]).collateral for k in KINDS}
    v1, v2 = live.start_validator(V1), live.start_validator(V2)

    def requested() -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for e in market.contract.events.ProofRequested().get_logs(from_block=0):
            out.setdefault(e["args"]["dealId"], []).append(e["args"]["reason"])
        return out

    def missed() -> set[int]:
        return {e["args"]["dealId"] for e in market.contract.events.ProofMissed().get_logs(from_block=0)}

    wait_until(lambda: {deal[k] for k in EVIDENCE} <= missed(), timeout=150,
               what="every hoster with evidence against it to miss its proof")  # fmt: skip

    # --- the cheaters: a fail quorum requested a proof (reason 0), nobody answered, slashed
    reasons = requested()
    for kind in EVIDENCE:
        assert 0 in reasons[deal[kind]], kind
        assert market.get_deal(deal[kind]).collateral < collateral[kind], kind
        results = {
            verdict.detail["result"]
            for v in (v1, v2)
            for e, ok in single_verdicts(live, v.url, deal[kind]).items()
            if not ok and (verdict := v.daemon.ledger.verdict(deal[kind], e)) is not None
        }
        assert results == ({"wrong"} if kind == "wrong" else {"missing"}), (kind, results)

    # --- slow answers and outages: never a fail vote, never a proof request by vote, unknown epochs
    for kind in ("late", "down"):
        for v in (v1, v2):
            assert all(single_verdicts(live, v.url, deal[kind]).values()), kind
        assert 0 not in reasons.get(deal[kind], []), kind
    labels = {v1.daemon.ledger.unknown(deal[k], e) for k in ("late", "down") for e in range(live.epoch())}
    assert {"late", "unreachable"} <= labels

    # --- the honest ones, slow or not: ok every time, paid, never challenged, never slashed
    for kind in ("honest", "slow"):
        votes = [single_verdicts(live, v.url, deal[kind]) for v in (v1, v2)]
        assert all(all(x.values()) for x in votes), kind
        common = sorted(e for e in votes[0].keys() & votes[1].keys() if e < live.epoch())
        assert common, kind
        sigs = []
        for v in (v1, v2):
            resp = httpx.post(
                v.url + range_path(deal[kind]), json={"fromEpoch": common[-1], "toEpoch": common[-1]}
            )
            assert resp.status_code == 200, resp.text
            sigs.append(
                from_json(resp.json(), chain_id=live.deployment.chain_id, market=live.deployment.market)
            )
        live.market(HOSTERS[kind]).settle(deal[kind], common[-1], common[-1], sigs)
        d = market.get_deal(deal[kind])
        assert d.paid_through == common[-1] and d.collateral == collateral[kind]
        assert deal[kind] not in reasons
    metrics = httpx.get(v1.url + "/metrics").text + httpx.get(v2.url + "/metrics").text
    assert 'scatter_validator_reports_total{kind="request_proof",outcome="mined"}' in metrics
    assert 'scatter_validator_reports_total{kind="missed_proof",outcome="mined"}' in metrics
