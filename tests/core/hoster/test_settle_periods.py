"""A committee period over without a quorum is given up, so settlement moves on to the next one;
a range a quorum covers only in part is settled as its ok prefix (``okThrough``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scatter.chain import wallet
from scatter.chain.eip712 import Attestation, SignedAttestation, sign_attestation
from scatter.hoster.attest import BatchAnswer, Validator
from scatter.hoster.metrics import HosterMetrics
from scatter.hoster.settle import Due, Settler

A, C, CLIENT = (Validator(f"0x{c * 40}", f"http://{c}") for c in "acd")


class Silent:
    """Stands in for the collector of a committee that checked nothing: no signature, no verdict."""

    async def batch_range_signatures(self, v: Validator, ranges: Any) -> BatchAnswer:
        return BatchAnswer({}, {})

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


class Sampled:
    """Validators that probed up to different epochs: each signs a range only as far as its
    ``covered`` epoch and reports ``okThrough`` beyond it (what a sampled-probe ledger does)."""

    def __init__(self, covered: dict[str, int]) -> None:
        self.covered = covered
        self.asked: list[tuple[str, int, int]] = []
        self.verdicts_read = 0

    async def batch_range_signatures(self, v: Validator, ranges: Any) -> BatchAnswer:
        signed: dict[int, SignedAttestation] = {}
        reach: dict[int, int] = {}
        for deal_id, a, b in ranges:
            self.asked.append((v.address, a, b))
            end = self.covered[v.address]
            if end >= b:
                key = wallet.dev_account(KEYS[v.address]).key
                signed[deal_id] = sign_attestation(
                    key, 31337, MARKET, Attestation(deal_id, a, b, True, bytes(32))
                )
            elif end >= a:
                reach[deal_id] = end
        return BatchAnswer(signed, reach)

    async def verdicts(self, deal_id: int, from_epoch: int, validators: Any) -> dict[str, dict[int, bool]]:
        self.verdicts_read += 1
        return {}


MARKET = "0x" + "5" * 40
V1, V2, V3 = (Validator(wallet.dev_account(i).address, f"http://v{i}") for i in (4, 5, 6))
KEYS = {V1.address: 4, V2.address: 5, V3.address: 6}


def settler_for(collector: Any, later: list[int], min_range: int = 1) -> Settler:
    return Settler(w3=None, market=MARKET, journal=None, collector=collector, quorum=2,  # type: ignore[arg-type]
                   epoch_seconds=1.0, metrics=HosterMetrics(), send_pool=None,  # type: ignore[arg-type]
                   retry_later=lambda d, s: later.append(d), min_range=min_range)  # fmt: skip


def test_a_range_covered_in_part_is_settled_as_the_prefix_a_quorum_reported() -> None:
    collector = Sampled({V1.address: 13, V2.address: 12, V3.address: 11})
    committee = frozenset(v.address.lower() for v in (V1, V2, V3))
    due = Due(7, CLIENT.address, 10, 16, False, committee)
    ready = asyncio.run(settler_for(collector, [])._collect([due], [V1, V2, V3]))
    # the second-longest prefix (a quorum of 2 covers 10..12), signed by the two that reach it
    assert [(r.deal_id, r.from_epoch, r.to_epoch) for r in ready] == [(7, 10, 12)]
    assert {s.signer for s in ready[0].sigs} == {V1.address, V2.address}
    assert sorted(a for a in collector.asked if a[2] == 12) == sorted(
        [(V1.address, 10, 12), (V2.address, 10, 12)]
    )
    assert collector.verdicts_read == 0  # no slow path


def test_a_prefix_shorter_than_the_settlement_range_waits_unless_pressed() -> None:
    collector = Sampled({V1.address: 11, V2.address: 10, V3.address: 10})
    committee = frozenset(v.address.lower() for v in (V1, V2, V3))
    later: list[int] = []
    calm = Due(7, CLIENT.address, 10, 16, False, committee)
    assert asyncio.run(settler_for(collector, later, min_range=4)._collect([calm], [V1, V2, V3])) == []
    assert later == [7]  # asked again later ...
    assert collector.verdicts_read == 0  # ... without the slow path, which would settle that very prefix
    pressed = Due(7, CLIENT.address, 10, 16, True, committee)
    ready = asyncio.run(settler_for(collector, [], min_range=4)._collect([pressed], [V1, V2, V3]))
    assert [(r.from_epoch, r.to_epoch) for r in ready] == [(10, 10)]
