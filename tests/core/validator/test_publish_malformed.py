"""The publishing API over a real ledger (SQLite) and uvicorn: malformed input gets a 4xx (issue 12)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from scatter.chain import wallet
from scatter.daemon.state import StateDB
from scatter.ipfs.gateway.server import GatewayServer
from scatter.protocol.attestations import RANGES_PATH, range_path
from scatter.validator.ledger import SigningLedger, Verdict
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.publish import create_publish_app
from scatter.validator.signer import AttestationSigner
from tests.http_fuzz import (
    BIG,
    RawRequest,
    assert_logs_bounded,
    captured_logs,
    fuzz,
    requests,
    send_raw,
)

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _guard(deal_id: int, from_epoch: int, to_epoch: int) -> None:
    """Like the daemon's guard, which asks the chain with uint64 ids and uint32 epochs: fails beyond them."""
    deal_id.to_bytes(8, "big")
    from_epoch.to_bytes(4, "big")
    to_epoch.to_bytes(4, "big")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = StateDB(tmp_path_factory.mktemp("validator") / "v.db")
    ledger = SigningLedger(db, AttestationSigner(wallet.dev_account(3), 31337, MARKET))
    for epoch in range(4):
        ledger.record(Verdict(8, epoch, True, epoch.to_bytes(32, "big")))
    with GatewayServer(create_publish_app(ledger, metrics=ValidatorMetrics(), guard=_guard)) as server:
        yield server.url
    db.close()


def _post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    status, response = send_raw(
        url, RawRequest("POST", path.encode(), (("content-type", "application/json"),), body)
    )
    return status, response.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (range_path(8), b"[" * 2000 + b"]" * 2000),  # RecursionError in the JSON parser
        (range_path(8), json.dumps({"fromEpoch": 2**70, "toEpoch": 2**70}).encode()),
        (range_path(8), json.dumps({"fromEpoch": 2**32, "toEpoch": 2**32}).encode()),
        (RANGES_PATH, b'{"ranges": [' + b"[" * 30_000 + b"]" * 30_000 + b"]}"),
        (RANGES_PATH, json.dumps({"ranges": [{"dealId": 2**70, "fromEpoch": 0, "toEpoch": 1}]}).encode()),
        (f"/scatter/v1/attestations/{BIG}/range", b'{"fromEpoch": 0, "toEpoch": 1}'),
    ],
    ids=[
        "deep",
        "epochs-beyond-uint64",
        "epochs-beyond-uint32",
        "batch-deep",
        "batch-deal-beyond-sqlite",
        "big-id",
    ],
)
def test_bodies_of_any_shape_or_size_are_refused_or_answered(api: str, path: str, body: bytes) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default (py_ecc raises it at import): deep JSON hits it
    try:
        with captured_logs() as lines:
            status, text = _post(api, path, body)
    finally:
        sys.setrecursionlimit(limit)
    assert 400 <= status < 500 or (status == 200 and path == RANGES_PATH), text
    assert text.count(b"\n") <= 1 or status == 200
    assert_logs_bounded(lines, max_lines=0)


def test_no_request_gets_a_5xx_or_floods_the_log(api: str) -> None:
    prefixes = [
        "/scatter/v1/attestations/",
        "/scatter/v1/attestations/8/",
        RANGES_PATH,
        range_path(8),
        "/healthz",
    ]
    fuzz(api, requests(prefixes, methods=("GET", "POST", "POST")))
