"""Sampled probes: which epochs a validator probes, and which epochs an ok probe carries to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.daemon.state import StateDB
from scatter.validator.ledger import NotAttestableError, SigningLedger, Verdict
from scatter.validator.probes import LastProbe, carried_range, longest_gap, probe_due
from scatter.validator.signer import AttestationSigner

PERIOD = 30
OK = LastProbe(40, True)


def due(epoch: int, last: LastProbe | None, *, every: int = 4, seed: bytes = b"\x00" * 32,
        start: int = 0, end: int = 10_000) -> bool:  # fmt: skip
    return probe_due(epoch=epoch, deal_start=start, deal_end=end, period_epochs=PERIOD, every=every,
                     last=last, seed=seed)  # fmt: skip


def never_drawn(epoch: int, last: LastProbe) -> bytes:
    """A seed whose draw says "not now" (so only the rules decide)."""
    for _ in range(1000):
        seed = os.urandom(32)
        if not due(epoch, last, seed=seed):
            return seed
    raise AssertionError("every seed was drawn")


def test_every_epoch_is_probed_when_probe_every_is_one() -> None:
    assert all(due(e, OK, every=1, seed=os.urandom(32)) for e in range(41, 60))


def test_anchors_a_probe_that_was_not_ok_and_the_longest_gap_force_a_probe() -> None:
    seed = never_drawn(43, OK)
    assert not due(43, OK, seed=seed)
    assert due(43, None, seed=seed)  # never probed (or a restart with an empty ledger)
    assert due(43, LastProbe(42, False), seed=seed)  # the last probe failed
    assert due(40 + longest_gap(4), OK, seed=seed)  # the gap is as long as a carry may be
    assert due(60, LastProbe(59, True), seed=seed)  # the first epoch of a period
    assert due(59, LastProbe(58, True), seed=seed)  # the last epoch of a period
    assert due(45, LastProbe(44, True), seed=seed, start=45)  # the deal's first epoch
    assert due(47, LastProbe(46, True), seed=seed, end=47)  # the deal's last epoch


def test_the_draw_probes_about_one_epoch_in_k() -> None:
    drawn = sum(due(43, OK, every=5, seed=os.urandom(32)) for _ in range(4000))
    assert 600 < drawn < 1000  # 1/5 of 4000 is 800


@pytest.mark.parametrize(
    ("epoch", "last", "expected"),
    [
        (44, LastProbe(40, True), (41, 43)),  # ok probes at 40 and 44: 41..43 carried
        (41, LastProbe(40, True), None),  # adjacent: nothing between
        (44, LastProbe(40, False), None),  # the previous probe failed
        (62, LastProbe(58, True), None),  # across a committee period
        (40 + 2 * 4, LastProbe(40, True), None),  # a gap longer than the rules allow: the validator was down
    ],
)
def test_carried_range(epoch: int, last: LastProbe, expected: tuple[int, int] | None) -> None:
    assert carried_range(epoch=epoch, last=last, period_epochs=PERIOD, every=4) == expected


def test_no_carry_when_probing_every_epoch() -> None:
    assert carried_range(epoch=42, last=LastProbe(40, True), period_epochs=PERIOD, every=1) is None


@pytest.fixture()
def ledger(tmp_path: Path) -> SigningLedger:
    signer = AttestationSigner(wallet.dev_account(3), 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    return SigningLedger(StateDB(tmp_path / "v.db"), signer)


def ev(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_carried_epochs_make_a_range_attestable(ledger: SigningLedger) -> None:
    ledger.record(Verdict(7, 40, True, ev(1)))
    ledger.record(Verdict(7, 44, True, ev(2)))
    with pytest.raises(NotAttestableError, match="epoch 41"):
        ledger.sign_range(7, 40, 44)
    assert ledger.record_carried(7, 41, 43, ev(2)) == 3
    assert ledger.sign_range(7, 40, 44).attestation.ok
    assert ledger.last_probe_before(7, 44) == (43, True)


def test_a_carry_never_overrides_a_verdict_and_passes_over_an_unknown(ledger: SigningLedger) -> None:
    ledger.record(Verdict(7, 42, False, ev(1)))
    assert ledger.record_carried(7, 41, 43, ev(2)) == 0
    assert ledger.verdict(7, 41) is None  # all or nothing
    with pytest.raises(NotAttestableError):
        ledger.sign_range(7, 41, 43)
    # a slow answer is not a probe: the last ok probe (40) stands and the next ok one carries over it
    ledger.record(Verdict(8, 40, True, ev(3)))
    ledger.note_unknown(8, 42, "late")
    assert ledger.last_probe_before(8, 44) == (40, True)
    assert ledger.record_carried(8, 41, 43, ev(2)) == 3
    assert ledger.unknown(8, 42) == "late"  # the note stays
    ledger.record(Verdict(8, 44, True, ev(4)))
    assert ledger.sign_range(8, 40, 44).attestation.ok
