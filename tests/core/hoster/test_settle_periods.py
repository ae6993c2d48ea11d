"""A committee period over without a quorum is given up, so settlement moves on to the next one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scatter.chain.eip712 import SignedAttestation
from scatter.hoster.attest import Validator
from scatter.hoster.metrics import HosterMetrics
from scatter.hoster.settle import Due, Settler

A, C, CLIENT = (Validator(f"0x{c * 40}", f"http://{c}") for c in "acd")


class Silent:
    """Stands in for the collector of a committee that checked nothing: no signature, no verdict."""

    async def batch_range_signatures(self, v: Validator, ranges: Any) -> dict[int, SignedAttestation]:
        return {}

    async def verdicts(self, deal_id: int, from_epoch: int, validators: Any) -> dict[str, dict[int, bool]]:
        return {}


@pytest.mark.parametrize("over", [True, False])
def test_a_period_without_a_quorum_is_given_up_only_when_it_is_over(over: bool) -> None:
    later: list[int] = []
    given_up: list[tuple[int, int]] = []
    metrics = HosterMetrics()
    settler = Settler(w3=None, market="0x" + "0" * 40, journal=None, collector=Silent(), quorum=2,  # type: ignore[arg-type]
                      epoch_seconds=1.0, metrics=metrics, send_pool=None,  # type: ignore[arg-type]
                      retry_later=lambda d, s: later.append(d),
                      give_up=lambda d, e: given_up.append((d, e)))  # fmt: skip
    due = Due(7, CLIENT.address, 10, 14, True, frozenset({A.address, C.address}), period_over=over)
    ready = asyncio.run(settler._collect([due], [A, C]))
    assert ready == []
    if over:  # every verdict is out and none is ok: asking again can never pay
        assert given_up == [(7, 14)] and later == []
    else:  # the validators may still publish: ask again later, never give up early
        assert given_up == [] and later == [7]
