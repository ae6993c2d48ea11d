"""The web node over the real SDK and chain: malformed requests get a JSON 4xx, bounded logs (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from scatter.client import Scatter
from scatter.ipfs.gateway.server import GatewayServer
from scatter.web.app import create_app
from tests.http_fuzz import (
    BIG,
    RawRequest,
    assert_logs_bounded,
    captured_logs,
    fuzz,
    requests,
    send_raw,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def node(sdk: Scatter) -> Iterator[str]:
    with GatewayServer(create_app(sdk)) as server:
        yield server.url


@pytest.mark.parametrize(
    "target",
    ["/api/bids/-1", f"/api/bids/{BIG}", f"/api/bids/{2**256}", "/api/bids/%C2%B2", "/api/bids/1e3",
     "/api/bids?limit=-5", "/api/bids?limit=x", f"/api/deals?limit={BIG}", "/api/nothing"],
)  # fmt: skip
def test_bad_ids_and_queries_are_a_json_4xx(node: str, target: str) -> None:
    with captured_logs() as lines:
        status, response = send_raw(node, RawRequest("GET", target.encode(), (), b""))
    assert 400 <= status < 500, response[:300]
    body = json.loads(response.partition(b"\r\n\r\n")[2])
    assert set(body) == {"error"} and "\n" not in body["error"]
    assert_logs_bounded(lines, max_lines=0)


def test_an_unknown_bid_is_a_json_404(node: str) -> None:
    status, response = send_raw(node, RawRequest("GET", b"/api/bids/99", (), b""))
    assert status == 404 and "no bid 99" in json.loads(response.partition(b"\r\n\r\n")[2])["error"]


def test_no_request_gets_a_5xx_or_floods_the_log(node: str) -> None:
    prefixes = ["/api/bids/", "/api/bids", "/api/deals", "/api/", "/healthz", "/", "/api/docs"]
    fuzz(node, requests(prefixes, methods=("GET", "GET", "HEAD", "POST")))
