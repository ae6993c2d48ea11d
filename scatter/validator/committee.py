"""Which deals this validator checks and signs for: its committee seats, one answer per period.

The Market draws a committee per deal and period by stake-weighted sortition
(docs/trust.md, "Committee"); ``isCommitteeMember(dealId, epoch, v)`` is the
view. The draw for a period changes only when validator stakes change, so
:class:`CommitteeCache` asks once per (deal, period) and keeps the answer: a
daemon checking N deals makes N calls per period, not per epoch. A stale answer
costs nothing on chain: ``settle`` and ``requestProof`` re-check membership, so a
signature of a validator drawn out meanwhile merely does not count. Thread-safe: the publishing API asks
from Starlette's thread pool while the daemon schedules.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

MemberView = Callable[[int, int], bool]
"""``(deal_id, epoch) -> bool``: is this validator in the deal's committee for the epoch's period."""


class CommitteeCache:
    """Answers of :data:`MemberView`, kept per (deal, period) for ``max_entries`` most recent."""

    def __init__(self, view: MemberView, period_epochs: int, *, max_entries: int = 200_000) -> None:
        if period_epochs <= 0:
            raise ValueError("period_epochs must be positive")
        self.view = view
        self.period_epochs = period_epochs
        self.max_entries = max_entries
        self.calls = 0  # chain reads made (tests and metrics)
        self._seats: OrderedDict[tuple[int, int], bool] = OrderedDict()
        self._lock = threading.Lock()

    def period(self, epoch: int) -> int:
        return epoch // self.period_epochs

    def member(self, deal_id: int, epoch: int) -> bool:
        """Whether this validator sits on the deal's committee in ``epoch`` (a chain read per period)."""
        key = (deal_id, self.period(epoch))
        with self._lock:
            seat = self._seats.get(key)
            if seat is not None:
                self._seats.move_to_end(key)
                return seat
        seat = bool(self.view(deal_id, epoch))  # outside the lock: a slow RPC blocks nobody else
        with self._lock:
            self.calls += 1
            self._seats[key] = seat
            while len(self._seats) > self.max_entries:
                self._seats.popitem(last=False)
        return seat

    def forget(self, deal_id: int) -> None:
        """Drop a deal's answers (it ended or was reorganised away)."""
        with self._lock:
            for key in [k for k in self._seats if k[0] == deal_id]:
                del self._seats[key]
