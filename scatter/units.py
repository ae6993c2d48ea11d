"""Sizes and ETH amounts written by people: ``10GiB``, ``1.5 KiB``, ``2gwei``, ``0.5eth``.

One parser for the CLI, the SDK and the daemons' configuration. Decimal
arithmetic, so ``0.1eth`` is exactly 10^17 wei; results must be whole and
non-negative.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from scatter.errors import ScatterValueError

SIZE_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}  # fmt: skip
AMOUNT_UNITS = {"wei": 1, "gwei": 10**9, "eth": 10**18, "ether": 10**18}

_SPLIT = re.compile(r"^\s*([-+]?\d*\.?\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def _split(value: str, what: str, example: str) -> tuple[Decimal, str]:
    match = _SPLIT.match(value)
    if match is None:
        raise ScatterValueError(f"invalid {what} {value!r}: write e.g. {example}")
    try:
        return Decimal(match.group(1)), match.group(2).lower()
    except InvalidOperation:
        raise ScatterValueError(f"invalid {what} {value!r}") from None


def _whole(amount: Decimal, original: object, what: str) -> int:
    if amount < 0:
        raise ScatterValueError(f"{what} {original!r} cannot be negative")
    if amount != amount.to_integral_value():
        raise ScatterValueError(f"{what} {original!r} is not a whole number of its smallest unit")
    return int(amount)


def parse_size(value: str | int) -> int:
    """Bytes from ``"10GiB"``, ``"2mb"``, ``"1.5 KiB"`` or a bare number of bytes."""
    if isinstance(value, int):
        return _whole(Decimal(value), value, "size")
    number, unit = _split(value, "size", "512MiB, 10GiB or 1TB")
    if unit not in SIZE_UNITS:
        raise ScatterValueError(
            f"unknown size unit in {value!r}; use B, KiB, MiB, GiB, TiB (or kB, MB, GB, TB)"
        )
    return _whole(number * SIZE_UNITS[unit], value, "size")


def parse_amount(value: str | int | float, default_unit: str = "wei") -> int:
    """Wei from ``"10gwei"``, ``"0.5eth"``, ``"1000wei"``; a bare number is in ``default_unit``."""
    if default_unit not in AMOUNT_UNITS:
        raise ScatterValueError(f"unknown default unit {default_unit!r}")
    if isinstance(value, int | float):
        number, unit = Decimal(str(value)), default_unit
    else:
        number, unit = _split(value, "amount", "10gwei, 0.01eth or 1000wei")
        unit = unit or default_unit
    if unit not in AMOUNT_UNITS:
        raise ScatterValueError(f"unknown unit in {value!r}; use wei, gwei or eth")
    return _whole(number * AMOUNT_UNITS[unit], value, "amount")
