"""Committee seats cached per (deal, period); what the signing guard refuses and why."""

from __future__ import annotations

import pytest

from scatter.validator.committee import CommitteeCache
from scatter.validator.guard import ChallengeState, SigningGuard

PERIOD = 10


def seats(members: set[tuple[int, int]]) -> tuple[CommitteeCache, list[tuple[int, int]]]:
    """A cache over a fake view: (deal, period) pairs this validator sits in; the calls it made."""
    calls: list[tuple[int, int]] = []

    def view(deal_id: int, epoch: int) -> bool:
        calls.append((deal_id, epoch))
        return (deal_id, epoch // PERIOD) in members

    return CommitteeCache(view, PERIOD), calls


def test_membership_is_read_once_per_deal_and_period() -> None:
    cache, calls = seats({(1, 0), (2, 1)})
    assert [cache.member(1, e) for e in range(PERIOD)] == [True] * PERIOD
    assert [cache.member(2, e) for e in range(PERIOD)] == [False] * PERIOD
    assert cache.member(1, PERIOD) is False and cache.member(2, PERIOD + 3) is True
    assert calls == [(1, 0), (2, 0), (1, PERIOD), (2, PERIOD + 3)]
    cache.forget(1)
    cache.member(1, 5)
    assert len(calls) == 5


def test_cache_keeps_only_the_most_recent_entries() -> None:
    calls: list[int] = []

    def view(deal_id: int, epoch: int) -> bool:
        calls.append(deal_id)
        return True

    cache = CommitteeCache(view, PERIOD, max_entries=2)
    for deal_id in (1, 2, 3, 1):
        cache.member(deal_id, 0)
    assert calls == [1, 2, 3, 1]
    with pytest.raises(ValueError):
        CommitteeCache(lambda d, e: True, 0)


def guard(state: ChallengeState, indexed: ChallengeState | None = None) -> tuple[SigningGuard, list[int]]:
    cache, _ = seats({(1, 0), (1, 1)})
    reads: list[int] = []

    def live(deal_id: int) -> ChallengeState:
        reads.append(deal_id)
        return state

    g = SigningGuard(cache, live, indexed=(lambda d: indexed) if indexed else None, address="0xV", ttl=60)
    return g, reads


def test_ok_is_signed_only_for_a_committee_seat_within_one_period() -> None:
    g, _ = guard(ChallengeState(False, 0))
    assert g.refuse_ok(1, 2, 9) is None
    outside = g.refuse_ok(2, 2, 9)
    assert (
        outside is not None and outside.status == 403 and "not in the committee of deal 2" in outside.message
    )
    across = g.refuse_ok(1, 8, 12)
    assert across is not None and across.status == 400


def test_no_ok_while_a_challenge_is_open() -> None:
    g, _ = guard(ChallengeState(True, 0))
    refusal = g.refuse_ok(1, 3, 3)
    assert refusal is not None and refusal.status == 409 and "open proof challenge" in refusal.message


def test_the_index_refuses_before_the_chain_is_read() -> None:
    g, reads = guard(ChallengeState(False, 0), indexed=ChallengeState(True, 0))
    assert g.refuse_ok(1, 3, 3) is not None and reads == []


def test_no_ok_at_or_before_a_missed_proof() -> None:
    g, _ = guard(ChallengeState(False, 5))
    for a, b in ((5, 5), (3, 7), (1, 4)):
        refusal = g.refuse_ok(1, a, b)
        assert refusal is not None and refusal.status == 409, (a, b)
    assert g.refuse_ok(1, 6, 9) is None


def test_chain_state_is_cached_until_forgotten_or_read_fresh() -> None:
    g, reads = guard(ChallengeState(False, 0))
    g.refuse_ok(1, 1, 1)
    g.refuse_ok(1, 2, 2)
    assert reads == [1]
    g.forget(1)
    g.refuse_ok(1, 2, 2)
    g.refuse_ok(1, 2, 2, fresh=True)
    assert reads == [1, 1, 1]


def test_with_the_unconfirmed_view_only_deals_touched_since_the_index_are_read() -> None:
    cache, _ = seats({(1, 0), (2, 0)})
    reads: list[int] = []
    views: list[int] = []
    touched = {2}

    def live(deal_id: int) -> ChallengeState:
        reads.append(deal_id)
        return ChallengeState(True, 0)  # the chain: both deals challenged

    def unconfirmed() -> frozenset[int]:
        views.append(1)
        return frozenset(touched)

    g = SigningGuard(cache, live, indexed=lambda d: ChallengeState(False, 0), unconfirmed=unconfirmed,
                     address="0xV", ttl=60)  # fmt: skip
    assert g.refuse_ok(1, 3, 3) is None and reads == []  # not touched: the index's state
    refused = g.refuse_ok(2, 3, 3)
    assert refused is not None and refused.status == 409 and reads == [2]
    assert views == [1]  # one view per ttl, whatever the number of deals
    touched.add(1)
    assert g.refuse_ok(1, 3, 3) is None and g.refuse_ok(1, 3, 3, fresh=True) is None  # cached for ttl
    assert views == [1]
    g.ttl = 0.0
    assert g.refuse_ok(1, 3, 3) is not None and views == [1, 1]  # read again once ttl is over
