"""What this validator refuses to sign, whatever its ledger holds (Market VERSION 3).

An ``ok`` signature can cost stake (``reportFalseOk``: an ok range containing the
deal's ``failedEpoch``), and a signature only counts from a committee member. So
before any ``ok`` signature leaves, :class:`SigningGuard` refuses:

- a deal whose committee for the range's period this validator is not in
  (``403``), or a range spanning two periods (``400``: ``settle`` takes one);
- any ``ok`` while the deal has a possession challenge open (``409``): if the
  proof is missed, the challenge's epoch becomes ``failedEpoch``;
- an ``ok`` range reaching the deal's ``failedEpoch`` or before it (``409``):
  those epochs are never paid, and the one containing it is slashable.

Chain state comes from the index (confirmed events). What the index has not
applied yet (its confirmations, the blocks since its last sync) is covered by
:data:`UnconfirmedView`: the deals named by a challenge event (requested,
accepted, missed) or an end in the blocks after the index's checkpoint, one
``eth_getLogs`` over those few blocks kept for ``ttl`` seconds, whatever the
number of deals. Only a deal in that set is read on chain
(``challengeOf``/``getDeal``). A validator signing for a thousand deals thus
makes a few chain reads per ``ttl``, not two per signature: at 300 deals on a
2-second devnet, the reads per signature had taken 84 % of a validator's CPU
(``python -m scatter.bench.scale``, py-spy).

The window this leaves is the one the per-signature read left too: a
challenge that lands after the check. ``ttl`` (the daemon's poll interval)
adds at most that many seconds to it, for every signature (the epoch's own
included: read per signature, the log read took a third of a validator's CPU).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from scatter.validator.committee import CommitteeCache


@dataclass(frozen=True)
class Refusal:
    status: int  # HTTP status the publishing API answers
    message: str  # one line


@dataclass(frozen=True)
class ChallengeState:
    open: bool
    failed_epoch: int  # 0: none
    challenge_epoch: int = 0


ChallengeView = Callable[[int], ChallengeState]
"""``deal_id -> ChallengeState`` (a chain read, or the index's copy)."""

UnconfirmedView = Callable[[], frozenset[int]]
"""The deals whose challenge state may have changed in blocks the index has not applied
(a chain read; called before the index is read, so the index is at least that recent)."""


class SigningGuard:
    def __init__(
        self,
        committee: CommitteeCache,
        live: ChallengeView,
        *,
        indexed: ChallengeView | None = None,
        unconfirmed: UnconfirmedView | None = None,
        address: str = "this validator",
        ttl: float = 1.0,
    ) -> None:
        self.committee = committee
        self.live = live
        self.indexed = indexed
        self.unconfirmed = unconfirmed
        self.address = address
        self.ttl = ttl
        self._cache: dict[int, tuple[float, ChallengeState]] = {}
        self._recent: tuple[float, frozenset[int]] | None = None
        self._lock = threading.Lock()

    def _changed(self) -> frozenset[int]:
        """:data:`UnconfirmedView`, read at most once per ``ttl`` (for every caller: fresh or
        not, a validator with many deals would otherwise read it for each of them)."""
        assert self.unconfirmed is not None
        now = time.monotonic()
        with self._lock:
            recent = self._recent
        if recent is not None and now - recent[0] < self.ttl:
            return recent[1]
        changed = self.unconfirmed()
        with self._lock:
            self._recent = (now, changed)
        return changed

    def challenge(self, deal_id: int, *, fresh: bool = False) -> ChallengeState:
        """The deal's challenge state: the index's when no block it has not applied touched the
        deal, else the chain's (``fresh``: read now, not from the ``ttl`` cache)."""
        changed = self._changed() if self.indexed is not None and self.unconfirmed is not None else None
        if self.indexed is not None:
            known = self.indexed(deal_id)
            if known.open or (changed is not None and deal_id not in changed):
                return known
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(deal_id)
        if cached is not None and not fresh and now - cached[0] < self.ttl:
            return cached[1]
        state = self.live(deal_id)
        with self._lock:
            self._cache[deal_id] = (now, state)
            if len(self._cache) > 100_000:
                self._cache.clear()
        return state

    def forget(self, deal_id: int) -> None:
        """Something happened to the deal on chain: read it again next time."""
        with self._lock:
            self._cache.pop(deal_id, None)

    def refuse_ok(
        self, deal_id: int, from_epoch: int, to_epoch: int, *, fresh: bool = False
    ) -> Refusal | None:
        """Why an ``ok`` over [from, to] of the deal must not be signed now, or None."""
        period = self.committee.period(from_epoch)
        if self.committee.period(to_epoch) != period:
            return Refusal(400, f"epochs {from_epoch}..{to_epoch} span two committee periods; "
                                "ask for one range per period")  # fmt: skip
        if not self.committee.member(deal_id, from_epoch):
            return Refusal(403, f"{self.address} is not in the committee of deal {deal_id} "
                                f"for period {period} (epochs {from_epoch}..{to_epoch})")  # fmt: skip
        state = self.challenge(deal_id, fresh=fresh)
        if state.open:
            return Refusal(409, f"deal {deal_id} has an open proof challenge: no ok signature "
                                "until it is answered")  # fmt: skip
        if state.failed_epoch and from_epoch <= state.failed_epoch:
            return Refusal(409, f"deal {deal_id} missed the proof of epoch {state.failed_epoch}: "
                                f"no ok signature at or before it")  # fmt: skip
        return None
