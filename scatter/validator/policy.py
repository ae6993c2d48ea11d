"""When a check's attempts become a verdict: ``ok``, ``fail``, another attempt, or nothing.

Rules (pinned by ``tests/core/validator/test_policy.py`` and the daemon's integration tests):

1. ``ok`` as soon as one attempt passes.
2. ``fail`` only on evidence the hoster cannot explain away: a block served that does
   not hash to its CID (``wrong``, at once), or a definite 404 for a block the DAG
   requires (``missing``) seen again by a later attempt (:data:`CONFIRM_MISSING`) — in the
   same epoch, or in the next one when the epoch closed before a retry could run (an
   ``unconfirmed`` epoch carries its 404 into the deal's next epoch: ``prior_evidence``).
3. ``late``, ``unreachable`` and ``uncheckable`` are never evidence: the daemon tries
   again with backoff until the epoch's check window closes. An epoch that ends
   without an answer is recorded as unknown (:func:`unknown_label`), never ``fail``.
4. During a deal's warm-up epochs (the client may still be pushing content) nothing
   is ``fail``: failing attempts are retried and end as unknown.

A ``fail`` vote does not slash: with a committee quorum it only requests a possession
proof (:mod:`~scatter.validator.reports`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Final

from scatter.validator.checker import Status

CONFIRM_MISSING: Final = 2
"""Attempts that must each see a missing (or wrong) block before a 404 is evidence."""


class Step(Enum):
    OK = "ok"
    FAIL = "fail"
    RETRY = "retry"
    UNKNOWN = "unknown"  # no verdict this epoch


def _evidence(status: Status) -> bool:
    return status in (Status.MISSING, Status.WRONG)


def after_attempt(
    history: Sequence[Status], *, warmup: bool, can_retry: bool, prior_evidence: int = 0
) -> Step:
    """What to do after the last attempt of ``history`` (results in order, at least one).

    ``prior_evidence`` counts the 404s of the deal's previous epoch that were left
    unconfirmed (0 or 1): a deleted block stays deleted, so a 404 now confirms it.
    """
    last = history[-1]
    if last is Status.OK:
        return Step.OK
    if not warmup:
        if last is Status.WRONG:
            return Step.FAIL
        if last is Status.MISSING and prior_evidence + sum(map(_evidence, history)) >= CONFIRM_MISSING:
            return Step.FAIL
    return Step.RETRY if can_retry else Step.UNKNOWN


def unknown_label(history: Sequence[Status], *, warmup: bool) -> str:
    """Why an epoch ended without a verdict (what the ledger records instead)."""
    if not history:
        return "unchecked"
    if warmup:
        return "warmup"
    for status in (Status.LATE, Status.UNREACHABLE, Status.UNCHECKABLE):
        if status in history:
            return status.label
    return "unconfirmed" if any(map(_evidence, history)) else "unknown"


def retry_delay(attempts: int, base: float, remaining: float) -> float:
    """Backoff before attempt ``attempts + 1``: base, 2 base, 4 base... never past the window."""
    return max(0.0, min(base * float(2 ** max(0, attempts - 1)), remaining))
