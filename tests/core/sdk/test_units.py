"""Human units: durations to epochs (rounded up), amounts to wei, price per slot."""

from __future__ import annotations

import pytest

from scatter.errors import ScatterValueError
from scatter.sdk.units import (
    GIB,
    format_duration,
    format_eth,
    parse_duration,
    slot_price,
)
from scatter.units import parse_amount


@pytest.mark.parametrize(
    ("text", "epoch_seconds", "epochs"),
    [
        ("90s", 2, 45),
        ("91s", 2, 46),  # rounded up: the bid covers at least what was asked
        ("12h", 3600, 12),
        ("30d", 3600, 720),
        ("30d", 2, 1_296_000),
        ("2w", 86_400, 14),
        ("1.5h", 60, 90),
        ("100epochs", 2, 100),
        ("1epoch", 3600, 1),
        ("7", 2, 4),
        (3600, 3600, 1),
    ],
)
def test_parse_duration_converts_to_epochs_rounding_up(
    text: str | int, epoch_seconds: int, epochs: int
) -> None:
    assert parse_duration(text, epoch_seconds) == epochs


@pytest.mark.parametrize("text", ["", "abc", "10 years", "-5s", "1.5epochs", "0s"])
def test_parse_duration_rejects_nonsense_with_an_example(text: str) -> None:
    with pytest.raises(ScatterValueError):
        parse_duration(text, 2)


def test_parse_duration_rejects_more_than_uint32_epochs() -> None:
    with pytest.raises(ScatterValueError, match="2\\^32"):
        parse_duration(f"{2**32}epochs", 1)


def test_format_duration_uses_the_largest_whole_unit() -> None:
    assert [format_duration(s) for s in (90, 3600, 86_400 * 30, 7 * 86_400, 61)] == [
        "90s",
        "1h",
        "30d",
        "1w",
        "61s",
    ]


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("1000", 1000),
        ("10gwei", 10 * 10**9),
        ("0.5eth", 5 * 10**17),
        ("1ETH", 10**18),
        ("2 wei", 2),
        ("1.5gwei", 1_500_000_000),
    ],
)
def test_parse_amount(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text", ["1.5wei", "ten", "-1eth", "1btc"])
def test_parse_amount_rejects_fractions_of_wei_and_unknown_units(text: str) -> None:
    with pytest.raises(ScatterValueError):
        parse_amount(text)


def test_format_eth_drops_trailing_zeros() -> None:
    assert format_eth(10**18) == "1 ETH"
    assert format_eth(1_200_000_000_000_000) == "0.0012 ETH"
    assert format_eth(0) == "0 ETH"


def test_slot_price_scales_per_gib_and_never_rounds_to_zero() -> None:
    assert slot_price(10**9, GIB) == 10**9
    assert slot_price(10**9, GIB // 2) == 5 * 10**8
    assert slot_price(10**9, GIB // 3) == 333_333_334  # rounded up
    assert slot_price(1, 1) == 1
    with pytest.raises(ScatterValueError):
        slot_price(0, GIB)
