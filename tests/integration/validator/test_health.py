"""/healthz reports a frozen chain view: a node that answers but mines nothing is unhealthy."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.validator.conftest import LiveMarket, wait_until

pytestmark = pytest.mark.integration

V1 = 5


def test_healthz_is_503_while_the_node_mines_nothing_and_200_once_it_does(live: LiveMarket) -> None:
    v = live.start_validator(V1, max_head_age=2.0)
    wait_until(lambda: httpx.get(v.url + "/healthz").status_code == 200, what="a healthy validator")
    live.w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]  # frozen
    try:
        wait_until(lambda: httpx.get(v.url + "/healthz").status_code == 503, what="a stale chain view")
        body = httpx.get(v.url + "/healthz").json()
        assert body["status"] == "degraded" and "no new block" in body["error"]
    finally:
        live.w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
    wait_until(lambda: httpx.get(v.url + "/healthz").status_code == 200, what="healthy again")
