"""The SDK's default price against a hoster's default filter: a default-priced bid is taken, a bid
at the old default (1 gwei per GiB-epoch) is not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scatter.chain.market import Market
from scatter.hoster.config import BidFilter
from scatter.hoster.daemon import HosterThread
from scatter.sdk.pricing import bid_price
from scatter.sdk.units import DEFAULT_PRICE_PER_GIB_EPOCH, slot_price
from tests.conftest import Chain
from tests.integration.hoster.conftest import make_content, post_bid, wait_until

pytestmark = pytest.mark.integration

H = 2


def test_a_default_priced_bid_passes_a_default_hosters_break_even_filter(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    default, old = make_content(b"d" * 1500), make_content(b"o" * 1500)
    params = Market(chain.w3, chain.deployment.market).params()
    priced = bid_price(chain.w3, params, size=default.size, duration=6, per_gib_epoch=None)
    assert priced.default and not priced.below_break_even
    taken = post_bid(chain, [default], price=priced.per_slot_epoch)
    refused = post_bid(chain, [old], price=slot_price(DEFAULT_PRICE_PER_GIB_EPOCH, old.size))
    h = start_hoster(H, filter=BidFilter())  # the default: break_even on
    jobs = h.hoster.state.jobs
    wait_until(lambda: taken in {j.bid_id for j in jobs()}, timeout=90, what="the default-priced bid taken")
    wait_until(lambda: h.hoster._tick_count > 20, timeout=90, what="more full passes")
    assert refused not in {j.bid_id for j in jobs()}
