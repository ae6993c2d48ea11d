"""Whose turn it is to take an open slot whose content must be fetched or rebuilt first.

A public pin or a reopened shard is claimed by its ``fill``, which comes after the content was
fetched (or rebuilt from k other shards) and checked, and after a possession proof was built.
When every hoster starts at once, all but one of them per slot do that work for nothing: at 100
pins of 3 replicas on 8 hosters, 797 fills were refused and 181 mined as reverts in 3 minutes.

So each bid orders the hosters that may take it by ``keccak256(address || bidId)`` (rendezvous
hashing: every hoster computes the same order from the index, with no message exchanged). With
``o`` slots open, places ``0 .. o-1`` start at once, each on a different slot; places
``o .. 2o-1`` start one step later, and so on, so a slot the first ones pass over (a filter, no
space, a crash) is still taken. The order is a courtesy among honest hosters, not a rule the
contract enforces: a hoster that ignores it only races as before, and the first valid ``fill``
wins. A private push is claimed by a cheap ``reserve`` before any work, so it needs no queue.
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils.crypto import keccak

STEP_EPOCHS = 5  # a place group waits this many epochs per group ahead of it ...
STEP_MIN_S = 10.0  # ... but at least this long (a fetch and a fill on a loaded devnet) ...
STEP_MAX_S = 300.0  # ... and at most this long (an hour-long epoch must not stall healing)


def _score(address: str, bid_id: int) -> bytes:
    return keccak(bytes.fromhex(address.removeprefix("0x")) + bid_id.to_bytes(32, "big"))


def place_in_queue(address: str, hosters: Iterable[str], bid_id: int) -> int:
    """``address``'s place (0 first) among ``hosters`` for ``bid_id`` (itself counted whether or
    not it is listed)."""
    mine = _score(address, bid_id)
    others = {h.lower() for h in hosters} - {address.lower()}
    return sum(1 for h in others if _score(h, bid_id) < mine)


def step_seconds(epoch_seconds: float) -> float:
    """The wait between two place groups."""
    return min(max(STEP_EPOCHS * epoch_seconds, STEP_MIN_S), STEP_MAX_S)


def turn_in(place: int, open_slots: int, step_s: float) -> float:
    """Seconds after the slots opened before ``place`` starts."""
    return (place // max(open_slots, 1)) * step_s


def slot_order(place: int, open_slots: list[int]) -> list[int]:
    """The open slots in the order ``place`` tries them: place i of a group starts at the i-th,
    so the hosters of one group start on different slots."""
    if not open_slots:
        return []
    i = place % len(open_slots)
    return open_slots[i:] + open_slots[:i]
