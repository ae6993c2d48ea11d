"""Settlement asks only the deal's committee for the range's period, never its client."""

from __future__ import annotations

import asyncio
from typing import Any

from scatter.hoster.attest import BatchAnswer, Validator
from scatter.hoster.settle import Due, Settler

A, B, C, CLIENT = (Validator(f"0x{c * 40}", f"http://{c}") for c in "abcd")


class Recorder:
    """Stands in for the collector: records who was asked, signs nothing."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def batch_range_signatures(self, v: Validator, ranges: Any) -> BatchAnswer:
        self.asked.append(v.address)
        return BatchAnswer({}, {})

    async def verdicts(self, deal_id: int, from_epoch: int, validators: Any) -> dict[str, dict[int, bool]]:
        return {}


def test_only_committee_members_are_asked_to_sign() -> None:
    recorder = Recorder()
    settler = Settler(w3=None, market="0x" + "0" * 40, journal=None, collector=recorder, quorum=2,  # type: ignore[arg-type]
                      epoch_seconds=1.0, metrics=None, send_pool=None, retry_later=lambda d, s: None)  # type: ignore[arg-type]  # fmt: skip
    due = Due(7, CLIENT.address, 10, 12, False, frozenset({A.address, C.address, CLIENT.address}))
    asyncio.run(settler._collect([due], [A, B, C, CLIENT]))
    assert sorted(recorder.asked) == sorted([A.address, C.address])  # not B (not drawn), not the client
    assert settler._eligible(due, [A, B, C, CLIENT]) == [A, C]
