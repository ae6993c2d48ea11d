"""Sampled probes: which epochs a validator probes a deal in, and which it attests to between two.

With ``probe_every = k > 1`` a validator probes each deal of its committees about once in k epochs
instead of every epoch, and attests to the epochs between two ok probes as ok ("carried"). Why:
the work of a validator is (deals x c leaves) per epoch; on a 2-second dev network with a few
hundred deals that is thousands of requests a second, more than a 2-core machine serves, and
checks that cannot keep up leave epochs unpaid and drive missed-quorum proof requests that the
hosters then have to answer under the same load (docs/validator.md, "Sampled probes").

The rules, all local to one validator and one deal:

- a deal is probed in the first and the last of its epochs within each committee period (so every
  period's range is closed by probes at both ends, and no range crosses a period: Market version
  2 settles a range within one period), in every epoch after a probe that failed (looked at again
  at once), when the gap since its last probe reaches ``2k - 1`` epochs, and otherwise with
  probability 1/k, drawn from the epoch's chain randomness (the hoster cannot tell in advance which
  epochs are probed);
- an ok probe carries to the epochs since the previous probe when that probe was ok, lies in the
  same committee period, and is at most ``2k - 1`` epochs back; a fail or a longer gap (the
  validator was down) carries nothing;
- a probe that ended **unknown** (the answer came too slowly, on the hoster's side or on the
  validator's) is not a probe: the previous one stands, the gap rule forces the next, and an ok
  probe within ``2k - 1`` epochs of the last ok one carries over it. Until 2026-11-30 an unknown
  counted as a failed probe: it forced a probe in every following epoch and broke the carry, so
  a validator that fell behind under load made more work for itself and left gaps no quorum
  could sign (``python -m scatter.bench.scale``: at 300 deals, whole committee periods unpaid).

What it costs: a hoster that drops the data between two probes and has it back at the next one is
paid for the epochs in between, at most 2k - 2 of them. Possession proofs (random audits, missed
quorums, fail quorums) are unaffected: they read the whole commitment on chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak

_DRAW_TAG = b"scatter-probe-v1"


@dataclass(frozen=True)
class LastProbe:
    """A deal's latest probed epoch before now, and whether its verdict was ok."""

    epoch: int
    ok: bool


def longest_gap(every: int) -> int:
    """Most epochs from one probe to the next: a carry spans at most this many minus one."""
    return max(1, 2 * every - 1)


def probe_due(
    *,
    epoch: int,
    deal_start: int,
    deal_end: int,
    period_epochs: int,
    every: int,
    last: LastProbe | None,
    seed: bytes,
) -> bool:
    """Whether to probe the deal in ``epoch`` (``seed``: the probe's challenge seed, from the
    epoch's randomness, the deal and this validator)."""
    if every <= 1 or last is None or not last.ok:
        return True
    period_start = epoch - epoch % period_epochs
    if epoch in (max(deal_start, period_start), min(deal_end, period_start + period_epochs - 1)):
        return True
    if last.epoch < period_start or epoch - last.epoch >= longest_gap(every):
        return True
    return int.from_bytes(keccak(_DRAW_TAG + seed)[:8], "big") % every == 0


def carried_range(
    *, epoch: int, last: LastProbe | None, period_epochs: int, every: int
) -> tuple[int, int] | None:
    """The epochs an ok probe in ``epoch`` attests to besides its own, or None."""
    if last is None or not last.ok or last.epoch >= epoch - 1:
        return None
    if last.epoch // period_epochs != epoch // period_epochs or epoch - last.epoch > longest_gap(every):
        return None
    return last.epoch + 1, epoch - 1
