"""The publishing API over HTTP on loopback: what hosters poll and ask for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scatter.chain import wallet
from scatter.daemon.state import StateDB
from scatter.ipfs.gateway.server import GatewayServer
from scatter.protocol.attestations import RANGES_PATH, attestations_path, from_json, range_path, range_request
from scatter.validator.guard import Refusal
from scatter.validator.ledger import SigningLedger, Verdict
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.publish import create_publish_app
from scatter.validator.signer import AttestationSigner

pytestmark = pytest.mark.integration

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN = 31337


def ev(n: int) -> bytes:
    return n.to_bytes(32, "big")


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[SigningLedger, str]]:
    ledger = SigningLedger(
        StateDB(tmp_path / "v.db"), AttestationSigner(wallet.dev_account(3), CHAIN, MARKET)
    )
    app = create_publish_app(ledger, metrics=ValidatorMetrics(), health=lambda: {"epoch": 7})
    with GatewayServer(app) as server:
        yield ledger, server.url


def test_range_endpoint_signs_only_recorded_ok_epochs(served: tuple[SigningLedger, str]) -> None:
    ledger, url = served
    for epoch in (4, 5, 6):
        ledger.record_and_sign(Verdict(8, epoch, epoch != 6, ev(epoch)))
    ok = httpx.post(url + range_path(8), json={"fromEpoch": 4, "toEpoch": 5})
    assert ok.status_code == 200
    signed = from_json(ok.json(), chain_id=CHAIN, market=MARKET)
    assert signed.signer == ledger.address
    assert (signed.attestation.from_epoch, signed.attestation.to_epoch, signed.attestation.ok) == (4, 5, True)
    refused = httpx.post(url + range_path(8), json={"fromEpoch": 4, "toEpoch": 6})
    assert refused.status_code == 409
    assert refused.text == "deal 8 epoch 6 was checked and failed\n"
    missing = httpx.post(url + range_path(8), json={"fromEpoch": 7, "toEpoch": 7})
    assert (missing.status_code, missing.text) == (409, "no verdict recorded for deal 8 epoch 7\n")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"fromEpoch": 1}', b'{"fromEpoch": true, "toEpoch": 2}',
     b'{"fromEpoch": 3, "toEpoch": 2}', b'{"fromEpoch": -1, "toEpoch": 2}'],
)  # fmt: skip
def test_range_endpoint_rejects_malformed_requests(served: tuple[SigningLedger, str], body: bytes) -> None:
    _, url = served
    resp = httpx.post(url + range_path(8), content=body)
    assert resp.status_code == 400
    assert resp.text.count("\n") == 1


def test_listing_returns_every_attestation_from_an_epoch(served: tuple[SigningLedger, str]) -> None:
    ledger, url = served
    for epoch in (1, 2, 3):
        ledger.record_and_sign(Verdict(8, epoch, epoch != 2, ev(epoch)))
    body = httpx.get(url + attestations_path(8), params={"from": 2}).json()
    assert body["version"] == 1 and body["validator"] == ledger.address
    parsed = [from_json(a, chain_id=CHAIN, market=MARKET) for a in body["attestations"]]
    assert [(a.attestation.to_epoch, a.attestation.ok) for a in parsed] == [(2, False), (3, True)]
    assert httpx.get(url + attestations_path(8), params={"from": "x"}).status_code == 400
    assert httpx.get(url + attestations_path(99)).json()["attestations"] == []


def test_healthz_and_metrics(served: tuple[SigningLedger, str]) -> None:
    ledger, url = served
    ledger.record(Verdict(8, 1, True, ev(1)))
    httpx.post(url + range_path(8), json={"fromEpoch": 1, "toEpoch": 1})
    health = httpx.get(url + "/healthz")
    assert health.status_code == 200 and health.json()["epoch"] == 7
    text = httpx.get(url + "/metrics").text
    assert 'scatter_validator_attestations_total{kind="epoch",ok="true"} 1.0' in text
    assert 'scatter_validator_attestation_requests_total{route="range",status="200"} 1.0' in text


def test_the_guard_refuses_with_its_status_on_both_routes(tmp_path: Path) -> None:
    ledger = SigningLedger(
        StateDB(tmp_path / "g.db"), AttestationSigner(wallet.dev_account(3), CHAIN, MARKET)
    )
    for epoch in (4, 5, 6):
        ledger.record(Verdict(8, epoch, True, ev(epoch)))
        ledger.record(Verdict(9, epoch, True, ev(epoch)))

    def guard(deal_id: int, a: int, b: int) -> Refusal | None:
        return Refusal(403, f"not in the committee of deal {deal_id}") if deal_id == 9 else None

    app = create_publish_app(ledger, metrics=ValidatorMetrics(), guard=guard)
    with GatewayServer(app) as server:
        refused = httpx.post(server.url + range_path(9), json={"fromEpoch": 4, "toEpoch": 5})
        assert (refused.status_code, refused.text) == (403, "not in the committee of deal 9\n")
        assert httpx.post(server.url + range_path(8), json={"fromEpoch": 4, "toEpoch": 5}).status_code == 200
        body = httpx.post(
            server.url + RANGES_PATH, json=range_request([(9, 4, 6), (8, 4, 6), (8, 6, 5)])
        ).json()
    results = body["results"]
    assert results[0]["error"] == "not in the committee of deal 9"
    assert "error" not in results[1] and results[1]["ok"] is True
    assert "invalid epoch range" in results[2]["error"]  # the ledger words invalid ranges itself
    assert ledger.attestations(9) == []  # nothing refused was signed or stored
