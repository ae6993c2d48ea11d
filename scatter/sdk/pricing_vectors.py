"""Golden vectors of the default price, shared with the dapp's TypeScript (dapp/src/chain/pricing.ts).

The dapp computes the same break-even and default price as :mod:`scatter.sdk.pricing`, in its own
code; these vectors keep the two from drifting. Regenerate them after any change of the model or of
its gas constants (:mod:`scatter.chain.economics`)::

    python -m scatter.sdk.pricing_vectors tests/testdata/pricing_vectors.json

``tests/core/sdk/test_pricing_vectors.py`` fails until the committed file is regenerated, and the
dapp's ``test/pricing.test.ts`` then fails until the TypeScript constants follow.

Integers that may pass 2^53 (sizes, wei) are written as decimal strings: JavaScript parses JSON
numbers as doubles.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scatter.chain import economics
from scatter.chain.params import PRESETS, MarketParams
from scatter.sdk.pricing import MARGIN, BidPrice, break_even_slot_price, default_slot_price
from scatter.sdk.units import DEFAULT_PRICE_PER_GIB_EPOCH, GIB, GWEI

VERSION = 1

SIZES = (1, 300_000, 1 << 20, GIB, 1 << 40)
DURATIONS = (1, 2, 30, 43_200, 1_000_000)
BLOCK_SECONDS = (1.0, 2.5, 12.0)
GAS_PRICES = (0, 1, GWEI, 300 * GWEI)

#: Gas prices (wei) whose "gwei gas" in the warning test the formatting: exact ties (1.125 -> 1.12,
#: 999.5 -> 1e+03), near ties that are not (1.015 is 1.01499...), and both exponent forms.
GAS_TEXTS = (0, 1, 999, 12_345, GWEI, 1_125_000_000, 1_135_000_000, 1_015_000_000, 1_004_900_000,
             999_500_000_000, 10**12, 123_456_789_012_345_678, 25 * 10**4)  # fmt: skip

#: Parameters whose audit term lands exactly on a half (x.5) with power-of-two block times, so the
#: vectors pin Python's round-half-to-even (see :func:`_tie_cases`).
TIE_PARAMS = PRESETS["devnet"].with_overrides(epoch_seconds=1, audit_every_blocks=1, audit_bps=10_000)


def constants() -> dict[str, Any]:
    """The model's constants, as both implementations name them."""
    return {
        "TX_BASE": economics.TX_BASE,
        "RESERVE": economics.RESERVE,
        "FILL": economics.FILL,
        "SETTLE_ITEM": economics.SETTLE_ITEM,
        "SETTLE_FIXED": economics.SETTLE_FIXED,
        "PROVE_ALONE": economics.PROVE_ALONE,
        "BLOCK_SECONDS": economics.BLOCK_SECONDS,
        "DEFAULT_BATCH": economics.DEFAULT_BATCH,
        "DEFAULT_SETTLE_EVERY": economics.DEFAULT_SETTLE_EVERY,
        "MARGIN": MARGIN,
        "DEFAULT_PRICE_PER_GIB_EPOCH": str(DEFAULT_PRICE_PER_GIB_EPOCH),
    }


def case(
    name: str, params: MarketParams, *, size: int, duration: int, gas_price: int, block_seconds: float
) -> dict[str, Any]:
    """One case: the inputs, the gas by operation, and what both sides must compute."""
    gas = economics.slot_gas(
        params,
        duration=duration,
        settle_every=economics.DEFAULT_SETTLE_EVERY,
        batch=economics.DEFAULT_BATCH,
        block_seconds=block_seconds,
    )
    per_gib = economics.break_even_price(
        params,
        size=size,
        duration=duration,
        gas_price=gas_price,
        settle_every=economics.DEFAULT_SETTLE_EVERY,
        batch=economics.DEFAULT_BATCH,
        block_seconds=block_seconds,
    )
    floor = break_even_slot_price(
        params, size=size, duration=duration, gas_price=gas_price, block_seconds=block_seconds
    )
    below = floor - 1
    warning = (
        BidPrice(per_slot_epoch=below, break_even=floor, gas_price=gas_price, default=False)
        if below >= 1
        else None
    )
    return {
        "params": name,
        "size": str(size),
        "duration": duration,
        "gas_price": str(gas_price),
        "block_seconds": block_seconds,
        "gas": {"settlements": str(gas.settlements), "proofs": str(gas.proofs), "total": str(gas.total)},
        "break_even_wei_per_gib_epoch": str(per_gib),
        "break_even_slot": str(floor),
        "default_slot": str(
            default_slot_price(
                params, size=size, duration=duration, gas_price=gas_price, block_seconds=block_seconds
            )
        ),
        # a price 1 wei below the break-even, and what the SDK's PriceWarning says about it
        "warning": None
        if warning is None
        else {"price": str(below), "message": warning.below_break_even_message()},
    }


def _tie_cases() -> list[dict[str, Any]]:
    """With one-second epochs, one audit per block and a block time of 2^k, the audit gas of
    ``duration`` epochs is ``duration x PROVE_ALONE / 2^k``, exact in binary; k one above the
    power of two in PROVE_ALONE makes it x.5 for odd durations, with floors of both parities."""
    prove = economics.PROVE_ALONE
    k = (prove & -prove).bit_length()  # trailing zeros + 1
    block_seconds = float(1 << k)
    return [
        case("tie", TIE_PARAMS, size=GIB, duration=d, gas_price=GWEI, block_seconds=block_seconds)
        for d in (1, 3)
    ]


def generate() -> dict[str, Any]:
    """The vectors file's content."""
    cases = [
        case(name, params, size=size, duration=duration, gas_price=gas_price, block_seconds=seconds)
        for name, params in PRESETS.items()
        for size in SIZES
        for duration in DURATIONS
        for seconds in BLOCK_SECONDS
        for gas_price in GAS_PRICES
    ]
    cases += _tie_cases()
    params = {name: p.to_json() for name, p in PRESETS.items()} | {"tie": TIE_PARAMS.to_json()}
    return {
        "version": VERSION,
        "regenerate": "python -m scatter.sdk.pricing_vectors tests/testdata/pricing_vectors.json",
        "constants": constants(),
        "params": {name: {k: str(v) for k, v in p.items()} for name, p in params.items()},
        "gas_texts": [{"gas_price": str(g), "text": f"{g / GWEI:.3g}"} for g in GAS_TEXTS],
        "cases": cases,
    }


def dumps(vectors: dict[str, Any]) -> str:
    """The file's exact text (one case a line: diffs stay readable)."""
    head = {k: v for k, v in vectors.items() if k != "cases"}
    lines = ",\n".join("    " + json.dumps(c, sort_keys=True) for c in vectors["cases"])
    text = json.dumps(head, indent=2, sort_keys=True)
    return text[: text.rindex("}")].rstrip() + ',\n  "cases": [\n' + lines + "\n  ]\n}\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scatter.sdk.pricing_vectors FILE", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(dumps(generate()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
