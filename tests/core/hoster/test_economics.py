"""The break-even price of a slot, and the default bid filter refusing slots below it."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.chain import economics
from scatter.chain.params import preset
from scatter.hoster.config import GIB, BidFilter, load_config

SNAPSHOT = Path(__file__).parents[3] / "contracts" / "snapshots" / "GasTest.json"
TESTNET = preset("testnet")
GWEI = 10**9


def test_gas_figures_are_the_committed_gas_snapshot() -> None:
    gas = {k: int(v) for k, v in json.loads(SNAPSHOT.read_text()).items()}
    assert gas["reserve"] == economics.RESERVE - economics.TX_BASE - 1_000
    assert gas["fill_1GiB_first_proof"] + gas["fill_1GiB_first_proof_calldata"] + 21_000 == economics.FILL
    slope = (
        gas["settle_many_50_deals_10_epochs_quorum_2"] - gas["settle_many_10_deals_10_epochs_quorum_2"]
    ) // 40
    assert slope == economics.SETTLE_ITEM - 3_500
    assert (
        gas["prove_many_10_deals_1GiB"] // 10 + gas["prove_many_10_deals_1GiB_calldata_per_deal"]
    ) == economics.PROVE_ALONE - economics.TX_BASE


@settings(max_examples=80, deadline=None)
@given(
    size=st.integers(1 << 10, 4 * GIB),
    duration=st.integers(1, 24 * 365),
    gas_price=st.integers(1, 500 * GWEI),
    every=st.integers(1, 24),
    batch=st.integers(1, 100),
)
def test_the_break_even_price_is_the_lowest_that_covers_the_gas(
    size: int, duration: int, gas_price: int, every: int, batch: int
) -> None:
    price = economics.break_even_price(
        TESTNET, size=size, duration=duration, gas_price=gas_price, settle_every=every, batch=batch
    )
    gas = economics.slot_gas(TESTNET, duration=duration, settle_every=every, batch=batch)
    cost = gas.total * gas_price
    exact = price * size * duration * (10_000 - TESTNET.validator_fee_bps)  # x GiB x 10 000
    assert exact >= cost * GIB * 10_000  # at the break-even price the slot pays its gas
    below = (price - 1) * size * duration * (10_000 - TESTNET.validator_fee_bps)
    assert below < cost * GIB * 10_000  # one wei per GiB-epoch less, it does not


def test_settling_less_often_and_in_bigger_batches_lowers_the_break_even() -> None:
    def at(every: int, batch: int) -> int:
        return economics.break_even_price(
            TESTNET, size=GIB, duration=720, gas_price=GWEI, settle_every=every, batch=batch
        )

    assert at(2, 10) > at(10, 10) > at(10, 50)


def test_the_devnets_default_price_does_not_pay_a_hosters_gas() -> None:
    """Why the issue's operator lost money: 1 gwei per GiB-epoch does not cover the settlements."""
    dev = preset("devnet")
    month = 30 * 86_400 // dev.epoch_seconds
    floor = economics.break_even_price(dev, size=64 << 20, duration=month, gas_price=GWEI, settle_every=2)
    assert floor > 1_000 * GWEI  # the devnet's default bid price is 1 gwei


SLOT = {"size": GIB, "price_per_epoch": 0, "duration": 720, "client": "0xabc", "cid": "bafy"}


def test_the_default_filter_refuses_slots_below_the_break_even_price() -> None:
    floor = economics.break_even_price(TESTNET, size=GIB, duration=720, gas_price=GWEI, settle_every=2)
    default = load_config(environ={}).filter
    assert default.break_even
    below = default.rejects(**{**SLOT, "price_per_epoch": floor - 1, "break_even": floor})  # type: ignore[arg-type]
    assert below is not None and "break-even" in below
    assert default.rejects(**{**SLOT, "price_per_epoch": floor, "break_even": floor}) is None  # type: ignore[arg-type]


def test_the_break_even_check_can_be_turned_off() -> None:
    off = load_config(environ={"SCATTER_HOSTER_BREAK_EVEN": "false"}).filter
    assert off == BidFilter(break_even=False)
    assert off.rejects(**{**SLOT, "price_per_epoch": 1, "break_even": 10**15}) is None  # type: ignore[arg-type]
