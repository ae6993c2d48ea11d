"""A file's health: how many of its shards live deals hold, against the k it needs.

A shard is *live* when its slot has a deal that is active (filled, not faulted) and
not past its end epoch. With k-of-n coding any k live shards rebuild the file, and a
hoster that takes a reopened slot rebuilds the lost shard from k others, so:

=========  ===================  ==========================================================
state      when                 meaning
=========  ===================  ==========================================================
healthy    live > k             one more loss is healed from the others
at-risk    live == k            one more loss before healing makes the file unrecoverable
lost       live < k             fewer shards than needed are held under a deal
expired    deals ran out        every slot's deal is live or reached its end (nothing lost)
uploading  live < n, and        the upload of this version is still running here: its
           uploading            entry is recorded before its slots are filled
=========  ===================  ==========================================================

The SDK warns (:class:`HealthWarning`) and ``scatter status`` / ``scatter ls`` say so
when a file is at risk or lost.
"""

from __future__ import annotations

from collections.abc import Iterable

from scatter.chain.market import Deal, DealStatus
from scatter.sdk.models import FileHealth

__all__ = ["HealthWarning", "file_health", "is_live"]


class HealthWarning(UserWarning):
    """A file's live shards fell to k or below (see :func:`file_health`)."""


def is_live(deal: Deal, current_epoch: int) -> bool:
    """The deal holds its shard now: active, and its last paid epoch not yet passed."""
    return deal.status == DealStatus.ACTIVE and deal.end_epoch >= current_epoch


def file_health(
    deals: Iterable[Deal],
    *,
    total: int,
    needed: int,
    current_epoch: int,
    name: str = "the file",
    uploading: bool = False,
) -> FileHealth:
    """The health of a file whose bid has ``total`` slots, ``needed`` (k) of which rebuild it;
    ``uploading``: an unfinished upload of this version is known (no warning while it runs)."""
    latest: dict[int, Deal] = {}
    for d in deals:
        if d.slot not in latest or d.deal_id > latest[d.slot].deal_id:
            latest[d.slot] = d
    live = sum(1 for d in latest.values() if is_live(d, current_epoch))
    ran_out = sum(
        1
        for d in latest.values()
        if d.status == DealStatus.FINISHED or (d.status == DealStatus.ACTIVE and d.end_epoch < current_epoch)
    )
    if uploading and live < total:
        return FileHealth(live, total, needed, "uploading", f"{live}/{total} uploading")
    if live > needed:
        return FileHealth(live, total, needed, "healthy", f"{live}/{total} live")
    if ran_out and live + ran_out == total:
        return FileHealth(live, total, needed, "expired", f"{live}/{total} expired")
    if live == needed:
        return FileHealth(
            live,
            total,
            needed,
            "at-risk",
            f"{live}/{total} AT RISK",
            f"{name}: only {live} of {total} shards are held by live deals and {needed} are needed; "
            "one more loss before the open slots are healed makes it unrecoverable",
        )
    return FileHealth(
        live,
        total,
        needed,
        "lost",
        f"{live}/{total} LOST",
        f"{name}: only {live} of {total} shards are held by live deals, fewer than the {needed} "
        "needed to rebuild it; hosters that still serve old shards may let a download succeed",
    )
