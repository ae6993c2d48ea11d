"""The hoster's name for :mod:`scatter.chain.economics`: the gas a slot costs against its pay,
and the break-even price the default bid filter refuses slots below.

The model is defined once, in ``scatter.chain.economics``, because the SDK's default price
(:mod:`scatter.sdk.pricing`) uses it too; the daemon and ``scatter hoster quote`` import it
from here.
"""

from __future__ import annotations

from scatter.chain.economics import (
    BLOCK_SECONDS,
    DEFAULT_BATCH,
    DEFAULT_SETTLE_EVERY,
    FILL,
    PROVE_ALONE,
    QUOTE_SIZES,
    RESERVE,
    SETTLE_FIXED,
    SETTLE_ITEM,
    TX_BASE,
    QuoteRow,
    SlotGas,
    block_seconds_of,
    break_even_price,
    current_gas_price,
    quote,
    settle_range_epochs,
    slot_gas,
)

__all__ = [
    "BLOCK_SECONDS",
    "DEFAULT_BATCH",
    "DEFAULT_SETTLE_EVERY",
    "FILL",
    "PROVE_ALONE",
    "QUOTE_SIZES",
    "RESERVE",
    "SETTLE_FIXED",
    "SETTLE_ITEM",
    "TX_BASE",
    "QuoteRow",
    "SlotGas",
    "block_seconds_of",
    "break_even_price",
    "current_gas_price",
    "quote",
    "settle_range_epochs",
    "slot_gas",
]
