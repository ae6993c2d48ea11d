"""The web node API over the SDK, against the real contracts, served by uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from scatter.client import Scatter
from scatter.ipfs.gateway.server import GatewayServer
from scatter.web.app import create_app
from tests.integration.sdk.conftest import StoredFile

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(sdk: Scatter) -> Iterator[httpx.Client]:
    with GatewayServer(create_app(sdk)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def test_web_api_lists_the_market(client: httpx.Client, sdk: Scatter, stored_file: StoredFile) -> None:
    assert client.get("/healthz").json()["ok"] is True
    status = client.get("/api/status").json()
    assert status["market"] == sdk.deployment.market
    assert (status["bids"], status["deals"], status["hosters"]) == (1, 6, 6)
    assert status["contract_balance_wei"] > 0
    [bid] = client.get("/api/bids").json()
    assert bid["bid_id"] == stored_file.bid_id and bid["cids"] == stored_file.cids and bid["open_slots"] == []
    assert len(bid["roots"]) == 6 and bid["reserved_slots"] == []
    one = client.get(f"/api/bids/{stored_file.bid_id}").json()
    assert sorted(d["slot"] for d in one["deals"]) == list(range(6))
    deals = client.get("/api/deals?limit=4").json()
    assert [d["deal_id"] for d in deals] == [6, 5, 4, 3]
    hosters = client.get("/api/hosters").json()
    assert {h["endpoint"] for h in hosters} == {s.url for s in stored_file.servers}
    assert all(h["locked_wei"] > 0 for h in hosters)
    assert client.get("/api/validators").json() == []


def test_web_api_errors_are_json_with_a_status(client: httpx.Client) -> None:
    missing = client.get("/api/bids/99")
    assert missing.status_code == 404 and "no bid 99" in missing.json()["error"]
    assert client.get("/api/bids?limit=0").status_code == 422
