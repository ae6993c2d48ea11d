"""Human units on the command line and in the SDK: durations, ETH amounts, prices.

Durations are written ``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (or a bare number of
seconds) and become epochs with the deployment's epoch length, rounded up: a bid
always covers at least what was asked. Amounts are ``0.5eth``, ``10gwei``,
``1000wei`` or a bare number of wei. A price is per GiB of slot per epoch; the SDK
turns it into the contract's price per slot per epoch for the slot's size. The
default price, which pays the hosters' gas, is :mod:`scatter.sdk.pricing`'s.
"""

from __future__ import annotations

import re
from decimal import Decimal

from scatter.errors import ScatterValueError

GIB = 1 << 30
ETHER = 10**18
GWEI = 10**9

#: The floor of the default price: wei per GiB of slot per epoch (1 gwei). The default itself
#: is the larger of this and twice the hosters' break-even (scatter.sdk.pricing, docs/sdk.md).
DEFAULT_PRICE_PER_GIB_EPOCH = GWEI
#: Default duration of a bid.
DEFAULT_DURATION = "30d"

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|epochs?)?\s*$")


def parse_duration(text: str | int, epoch_seconds: int) -> int:
    """A duration (``"30d"``, ``"90s"``, ``"100epochs"``, seconds) as a number of epochs (>= 1)."""
    if epoch_seconds <= 0:
        raise ScatterValueError("epoch length must be positive")
    if isinstance(text, int):
        seconds = Decimal(text)
        epochs_given = None
    else:
        match = _DURATION_RE.match(text)
        if match is None:
            raise ScatterValueError(
                f"invalid duration {text!r}: write a number and a unit, e.g. 90s, 12h, 30d, 2w or 100epochs"
            )
        number, unit = Decimal(match.group(1)), match.group(2) or "s"
        if unit.startswith("epoch"):
            epochs_given = number
            seconds = Decimal(0)
        else:
            epochs_given = None
            seconds = number * _DURATION_UNITS[unit]
    if epochs_given is not None:
        if epochs_given != epochs_given.to_integral_value():
            raise ScatterValueError(f"invalid duration {text!r}: a number of epochs is whole")
        epochs = int(epochs_given)
    else:
        epochs = -(-int(seconds.to_integral_value(rounding="ROUND_CEILING")) // epoch_seconds)
    if epochs < 1:
        raise ScatterValueError(f"duration {text!r} is shorter than one epoch ({epoch_seconds}s)")
    if epochs >= 2**32:
        raise ScatterValueError(f"duration {text!r} is more than 2^32 epochs; choose a shorter one")
    return epochs


def format_duration(seconds: int) -> str:
    """``seconds`` in the largest unit that divides it, e.g. ``30d``, ``90s``."""
    for unit, size in sorted(_DURATION_UNITS.items(), key=lambda kv: -kv[1]):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_eth(wei: int) -> str:
    """``wei`` as ETH with up to 18 decimals, trailing zeros dropped (``"0.0012 ETH"``)."""
    sign = "-" if wei < 0 else ""
    whole, frac = divmod(abs(wei), ETHER)
    text = f"{whole}.{frac:018d}".rstrip("0").rstrip(".")
    return f"{sign}{text} ETH"


def slot_price(price_per_gib_epoch: int, slot_size: int) -> int:
    """The contract's price per slot per epoch for a slot of ``slot_size`` bytes (at least 1 wei)."""
    if price_per_gib_epoch <= 0:
        raise ScatterValueError("price must be positive")
    if slot_size <= 0:
        raise ScatterValueError("slot size must be positive")
    return max(1, -(-price_per_gib_epoch * slot_size // GIB))
