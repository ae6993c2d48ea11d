"""/healthz reports a frozen chain view: a node that answers but mines nothing is unhealthy."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scatter.hoster.daemon import HosterThread
from tests.conftest import Chain
from tests.integration.hoster.conftest import wait_until

pytestmark = pytest.mark.integration


def _health(h: HosterThread) -> httpx.Response:
    return httpx.get(h.url + "/healthz", timeout=10)


def test_healthz_is_503_while_no_block_comes_and_200_again_after_one(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(2, max_head_age=1.5)  # the test chain mines only when a transaction comes
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    wait_until(lambda: _health(h).status_code == 503, timeout=90, what="a stale chain view")
    body = _health(h).json()
    assert body["ok"] is False and body["rpc"] == "stale" and body["headAgeSeconds"] >= 1.5  # 0.1 s
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    wait_until(lambda: _health(h).status_code == 200, timeout=90, what="healthy after a new block")


def test_a_zero_max_head_age_never_reports_a_quiet_chain(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(2, max_head_age=0)
    wait_until(lambda: h.hoster._tick_count > 5, what="some passes")
    assert _health(h).status_code == 200
