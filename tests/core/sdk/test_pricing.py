"""The SDK's default price: the larger of 1 gwei per GiB-epoch and twice the hosters' break-even."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.chain.economics import DEFAULT_BATCH, DEFAULT_SETTLE_EVERY, break_even_price
from scatter.chain.params import preset
from scatter.errors import ScatterConnectionError, ScatterValueError
from scatter.hoster.config import HosterConfig
from scatter.sdk.pricing import (
    MARGIN,
    PriceWarning,
    bid_price,
    break_even_slot_price,
    default_slot_price,
    positive_price,
)
from scatter.sdk.units import DEFAULT_PRICE_PER_GIB_EPOCH, GIB, slot_price

DEVNET = preset("devnet")
TESTNET = preset("testnet")
GWEI = 10**9


def _daemon_break_even(size: int, duration: int, gas_price: int) -> int:
    """The floor a hoster with the default settings computes (scatter.hoster.daemon._choose_slot:
    its default settle_every, the default batch and block time)."""
    return break_even_price(
        DEVNET, size=size, duration=duration, gas_price=gas_price, settle_every=HosterConfig().settle_every
    )


def test_the_model_prices_with_the_hoster_daemons_defaults() -> None:
    defaults = HosterConfig()
    assert defaults.settle_every == DEFAULT_SETTLE_EVERY
    assert defaults.filter.break_even  # the filter a default bid must pass is on by default
    assert DEFAULT_BATCH == 10


def test_on_the_devnet_the_default_is_twice_the_break_even_not_1_gwei() -> None:
    size, hour = 16 << 20, 1800  # 16 MiB shards for an hour of 2-second epochs
    gas = break_even_slot_price(DEVNET, size=size, duration=hour, gas_price=GWEI, block_seconds=1.0)
    price = default_slot_price(DEVNET, size=size, duration=hour, gas_price=GWEI, block_seconds=1.0)
    assert price == MARGIN * gas == 2 * gas
    assert price > 1_000_000 * slot_price(DEFAULT_PRICE_PER_GIB_EPOCH, size)  # the old default


def test_when_gas_is_nearly_free_the_default_is_1_gwei_per_gib_epoch() -> None:
    price = default_slot_price(TESTNET, size=GIB, duration=24 * 30, gas_price=1, block_seconds=12.0)
    assert price == DEFAULT_PRICE_PER_GIB_EPOCH


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(1, 4 * GIB),
    duration=st.integers(1, 30 * 86_400 // 2),
    gas_price=st.integers(0, 500 * GWEI),
    block_seconds=st.sampled_from([1.0, 2.0, 12.0]),
)
def test_a_default_bid_passes_the_default_filter_even_after_the_gas_price_doubles(
    size: int, duration: int, gas_price: int, block_seconds: float
) -> None:
    price = default_slot_price(
        DEVNET, size=size, duration=duration, gas_price=gas_price, block_seconds=block_seconds
    )
    assert price >= slot_price(DEFAULT_PRICE_PER_GIB_EPOCH, size)
    floor = _daemon_break_even(size, duration, 2 * gas_price)
    why = HosterConfig().filter.rejects(
        size=size, price_per_epoch=price, duration=duration, client="0xc", cid="bafy", break_even=floor
    )
    assert why is None


class FakeEth:
    """What current_gas_price and block_seconds_of read: blocks, the tip; or a dead node."""

    def __init__(self, *, base_fee: int = 7, tip: int = GWEI, dead: bool = False) -> None:
        self.base_fee, self.tip, self.dead = base_fee, tip, dead

    def get_block(self, ref: Any) -> dict[str, int]:
        if self.dead:
            raise requests.ConnectionError("Connection refused")
        number = 1_000 if ref == "latest" else int(ref)
        return {"number": number, "timestamp": number, "baseFeePerGas": self.base_fee}

    @property
    def max_priority_fee(self) -> int:
        return self.tip


class FakeW3:
    def __init__(self, eth: FakeEth) -> None:
        self.eth = eth


def test_the_default_price_is_read_at_the_chains_gas_price() -> None:
    w3: Any = FakeW3(FakeEth(base_fee=GWEI, tip=GWEI))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)
        priced = bid_price(w3, DEVNET, size=1 << 20, duration=100, per_gib_epoch=None)
    assert priced.default and priced.gas_price == 2 * GWEI
    expected = default_slot_price(DEVNET, size=1 << 20, duration=100, gas_price=2 * GWEI, block_seconds=1.0)
    assert priced.per_slot_epoch == expected and not priced.below_break_even
    assert "default: 2x the hosters' break-even at 2 gwei gas" in priced.describe()


def test_a_given_price_is_used_as_given_and_warns_below_break_even() -> None:
    w3: Any = FakeW3(FakeEth())
    with pytest.warns(PriceWarning, match="below the hosters' break-even"):
        cheap = bid_price(w3, DEVNET, size=GIB, duration=100, per_gib_epoch=GWEI)
    assert cheap.per_slot_epoch == GWEI and cheap.below_break_even and not cheap.default
    high = 10 * cheap.break_even
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)
        paying = bid_price(w3, DEVNET, size=GIB, duration=100, per_gib_epoch=high)
    assert paying.per_slot_epoch == high and not paying.below_break_even


def test_a_dead_rpc_is_a_one_line_error_never_a_cheap_default() -> None:
    w3: Any = FakeW3(FakeEth(dead=True))
    with pytest.raises(ScatterConnectionError, match="unreachable during reading the gas price") as err:
        bid_price(w3, DEVNET, size=GIB, duration=100, per_gib_epoch=None)
    assert "\n" not in str(err.value)


def test_a_price_of_zero_is_refused_before_any_work() -> None:
    with pytest.raises(ScatterValueError, match="price must be positive"):
        positive_price(0)
    assert positive_price(5) == 5
