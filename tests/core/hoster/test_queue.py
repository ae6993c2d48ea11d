"""The order in which hosters take a fetched or healed slot (scatter.hoster.queue)."""

from __future__ import annotations

from collections import Counter

from eth_account import Account

from scatter.hoster.queue import STEP_MAX_S, STEP_MIN_S, place_in_queue, slot_order, step_seconds, turn_in

HOSTERS = [str(Account.from_key(i.to_bytes(32, "big")).address) for i in range(1, 9)]


def test_every_hoster_computes_the_same_order_and_each_place_once() -> None:
    for bid_id in range(40):
        places = [place_in_queue(h, HOSTERS, bid_id) for h in HOSTERS]
        assert sorted(places) == list(range(len(HOSTERS)))
        # the list's order and case do not matter, and a hoster counts itself when it is not listed
        others = [h.lower() for h in reversed(HOSTERS)]
        assert [place_in_queue(h, others, bid_id) for h in HOSTERS] == places
        assert place_in_queue(HOSTERS[0], HOSTERS[1:], bid_id) == places[0]


def test_the_first_place_moves_between_hosters_from_bid_to_bid() -> None:
    firsts = Counter(next(h for h in HOSTERS if place_in_queue(h, HOSTERS, b) == 0) for b in range(400))
    assert set(firsts) == set(HOSTERS)  # nobody is always last: each hoster leads some bids
    assert max(firsts.values()) < 3 * 400 / len(HOSTERS)


def test_a_group_as_large_as_the_open_slots_starts_at_once_on_different_slots() -> None:
    open_slots = [0, 2, 5]
    assert [turn_in(p, 3, 10.0) for p in range(8)] == [0, 0, 0, 10.0, 10.0, 10.0, 20.0, 20.0]
    firsts = [slot_order(p, open_slots)[0] for p in range(3)]
    assert sorted(firsts) == open_slots
    assert sorted(slot_order(4, open_slots)) == open_slots  # every slot is still tried
    assert slot_order(3, []) == []
    assert turn_in(5, 0, 10.0) == 50.0  # no open slot: a harmless figure, never a division by zero


def test_the_step_is_a_few_epochs_within_bounds() -> None:
    assert step_seconds(2) == STEP_MIN_S
    assert step_seconds(30) == 150
    assert step_seconds(3600) == STEP_MAX_S
