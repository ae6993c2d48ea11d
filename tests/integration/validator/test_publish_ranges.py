"""The batched range route over HTTP on loopback: one request, one answer per range, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scatter.chain import wallet
from scatter.daemon.state import StateDB
from scatter.errors import ScatterValueError
from scatter.ipfs.gateway.server import GatewayServer
from scatter.protocol.attestations import (
    MAX_BATCH_RANGES,
    RANGES_PATH,
    attestations_path,
    from_json,
    range_path,
    range_request,
)
from scatter.validator.ledger import SigningLedger, Verdict
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.publish import MAX_BATCH_BODY, create_publish_app
from scatter.validator.signer import AttestationSigner

pytestmark = pytest.mark.integration

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN = 31337

BATCH = [(8, 4, 5), (8, 4, 6), (8, 7, 7), (3, 1, 1), (8, 5, 5), (8, 6, 4), (8, 0, 10**6)]
"""Signable, a failed epoch, no verdict, unknown deal, one ok epoch, inverted, too long."""


def ev(n: int) -> bytes:
    return n.to_bytes(32, "big")


def serve(path: Path) -> tuple[SigningLedger, GatewayServer]:
    ledger = SigningLedger(StateDB(path), AttestationSigner(wallet.dev_account(3), CHAIN, MARKET))
    for epoch in (4, 5, 6):
        ledger.record(Verdict(8, epoch, epoch != 6, ev(epoch)))
    return ledger, GatewayServer(create_publish_app(ledger, metrics=ValidatorMetrics()))


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[SigningLedger, str]]:
    ledger, server = serve(tmp_path / "v.db")
    with server:
        yield ledger, server.url


def test_batch_answers_every_range_in_order_as_the_single_route_does(
    served: tuple[SigningLedger, str], tmp_path: Path
) -> None:
    ledger, url = served
    resp = httpx.post(url + RANGES_PATH, json=range_request(BATCH))
    assert resp.status_code == 200
    body = resp.json()
    assert body["version"] == 1 and body["validator"] == ledger.address
    results = body["results"]
    assert [(r["dealId"], r["fromEpoch"], r["toEpoch"]) for r in results] == BATCH
    assert [("error" in r) for r in results] == [False, True, True, True, False, True, True]
    assert results[1]["error"] == "deal 8 epoch 6 was checked and failed"
    assert results[2]["error"] == "no verdict recorded for deal 8 epoch 7"
    # how far each refused range is ok: 4..5 of 4..6; nothing of 7..7, of deal 3, of an invalid range
    assert [r.get("okThrough") for r in results] == [None, 5, None, None, None, None, None]
    for r in results:
        if "error" not in r:
            signed = from_json(r, chain_id=CHAIN, market=MARKET)
            assert signed.signer == ledger.address and signed.attestation.ok
    # A second validator process with the same verdicts, asked one range at a time.
    _, other = serve(tmp_path / "other.db")
    with other:
        for (deal_id, a, b), r in zip(BATCH, results, strict=True):
            single = httpx.post(other.url + range_path(deal_id), json={"fromEpoch": a, "toEpoch": b})
            if "error" in r:
                assert single.status_code in (400, 409)
                if single.status_code == 409:
                    assert single.text == r["error"] + "\n"
            else:
                assert single.status_code == 200 and single.json() == r


def test_batch_signatures_are_listed_and_survive_a_restart(tmp_path: Path) -> None:
    ledger, server = serve(tmp_path / "v.db")
    with server:
        results = httpx.post(server.url + RANGES_PATH, json=range_request(BATCH)).json()["results"]
    ledger.db.close()
    _, again = serve(tmp_path / "v.db")
    with again:
        listed = httpx.get(again.url + attestations_path(8)).json()["attestations"]
    assert [r for r in results if "error" not in r] == [a for a in listed if a in results]
    assert len([a for a in listed if a in results]) == 2


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b"{}", b'{"ranges": {}}', b'{"ranges": []}', b'{"ranges": [1]}',
     b'{"ranges": [{"dealId": 8, "fromEpoch": 4}]}',
     b'{"ranges": [{"dealId": 8, "fromEpoch": true, "toEpoch": 5}]}',
     b'{"ranges": [{"dealId": "8", "fromEpoch": 4, "toEpoch": 5}]}',
     b'{"ranges": [{"dealId": 8, "fromEpoch": 4.0, "toEpoch": 5}]}'],
)  # fmt: skip
def test_malformed_batches_are_refused(served: tuple[SigningLedger, str], body: bytes) -> None:
    ledger, url = served
    resp = httpx.post(url + RANGES_PATH, content=body)
    assert resp.status_code == 400
    assert resp.text.count("\n") == 1
    assert ledger.attestations(8) == []


def test_batches_over_the_limits_are_refused(served: tuple[SigningLedger, str]) -> None:
    _, url = served
    too_many = {"ranges": [{"dealId": 8, "fromEpoch": 4, "toEpoch": 4}] * (MAX_BATCH_RANGES + 1)}
    resp = httpx.post(url + RANGES_PATH, json=too_many)
    assert (resp.status_code, resp.text) == (400, "ranges must hold 1 to 256 items, not 257\n")
    padded = json.dumps(range_request([(8, 4, 4)])).encode() + b" " * MAX_BATCH_BODY
    resp = httpx.post(url + RANGES_PATH, content=padded)
    assert resp.status_code == 400 and "too large" in resp.text
    full = httpx.post(url + RANGES_PATH, json=range_request([(8, 4, 4)] * MAX_BATCH_RANGES))
    assert full.status_code == 200 and len(full.json()["results"]) == MAX_BATCH_RANGES
    with pytest.raises(ScatterValueError, match="split it"):
        range_request([(8, 4, 4)] * (MAX_BATCH_RANGES + 1))


def test_the_batch_route_does_not_collide_with_per_deal_routes(served: tuple[SigningLedger, str]) -> None:
    _, url = served
    got = httpx.get(url + RANGES_PATH)
    assert got.status_code == 405 and got.headers["allow"] == "POST" and "use POST" in got.text
    assert httpx.get(url + attestations_path(8)).status_code == 200
    assert httpx.post(url + range_path(8), json={"fromEpoch": 4, "toEpoch": 5}).status_code == 200


def test_batch_metrics_count_requests_and_each_signature(served: tuple[SigningLedger, str]) -> None:
    _, url = served
    httpx.post(url + RANGES_PATH, json=range_request(BATCH))
    httpx.post(url + RANGES_PATH, content=b"[]")
    text = httpx.get(url + "/metrics").text
    assert 'scatter_validator_attestation_requests_total{route="ranges",status="200"} 1.0' in text
    assert 'scatter_validator_attestation_requests_total{route="ranges",status="400"} 1.0' in text
    assert 'scatter_validator_attestations_total{kind="range",ok="true"} 1.0' in text
    assert 'scatter_validator_attestations_total{kind="epoch",ok="true"} 1.0' in text
