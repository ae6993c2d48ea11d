"""The signing ledger: one verdict per (deal, epoch), signatures only over recorded verdicts."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from scatter.chain import wallet
from scatter.chain.eip712 import Attestation, digest, recover_signer, sign_attestation
from scatter.daemon.state import StateDB
from scatter.validator.ledger import (
    BATCH_TX_EPOCHS,
    ConflictingVerdictError,
    LedgerError,
    NotAttestableError,
    SigningLedger,
    Verdict,
    range_evidence,
)
from scatter.validator.signer import AttestationSigner

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN = 31337


def ev(n: int) -> bytes:
    return n.to_bytes(32, "big")


def open_ledger(path: Path, index: int = 3, market: str = MARKET, chain_id: int = CHAIN) -> SigningLedger:
    return SigningLedger(StateDB(path), AttestationSigner(wallet.dev_account(index), chain_id, market))


@pytest.fixture()
def ledger(tmp_path: Path) -> SigningLedger:
    return open_ledger(tmp_path / "v.db")


def test_fast_signer_matches_eip712_module() -> None:
    account = wallet.dev_account(3)
    signer = AttestationSigner(account, CHAIN, MARKET)
    for att in (Attestation(1, 2, 2, True, ev(7)), Attestation(2**200, 0, 2**32 - 1, False, ev(9))):
        assert signer.digest(att) == digest(CHAIN, MARKET, att)
        fast = signer.sign(att)
        slow = sign_attestation(account.key, CHAIN, MARKET, att)
        assert (fast.v, fast.r, fast.s) == (slow.v, slow.r, slow.s)
        assert recover_signer(CHAIN, MARKET, fast) == account.address


def test_epoch_signature_carries_the_recorded_verdict(ledger: SigningLedger) -> None:
    signed = ledger.record_and_sign(Verdict(5, 10, False, ev(1), {"reason": "missing"}))
    assert signed.attestation == Attestation(5, 10, 10, False, ev(1))
    assert recover_signer(CHAIN, MARKET, signed) == ledger.address
    assert ledger.verdict(5, 10) == Verdict(5, 10, False, ev(1))
    assert ledger.verdict(5, 10).detail == {"reason": "missing"}  # type: ignore[union-attr]


def test_conflicting_verdict_is_refused_and_same_outcome_is_idempotent(ledger: SigningLedger) -> None:
    first = ledger.record_and_sign(Verdict(5, 10, True, ev(1)))
    again = ledger.record_and_sign(Verdict(5, 10, True, ev(2)))  # same outcome, other evidence
    assert again == first  # the first verdict stays in force; same signature
    with pytest.raises(ConflictingVerdictError, match="already has verdict ok; refusing fail"):
        ledger.record_and_sign(Verdict(5, 10, False, ev(3)))
    assert [a.attestation.ok for a in ledger.attestations(5)] == [True]


def test_conflicts_are_refused_after_a_restart(tmp_path: Path) -> None:
    open_ledger(tmp_path / "v.db").record_and_sign(Verdict(5, 10, False, ev(1)))
    reopened = open_ledger(tmp_path / "v.db")
    with pytest.raises(ConflictingVerdictError):
        reopened.record(Verdict(5, 10, True, ev(1)))
    with pytest.raises(NotAttestableError, match="epoch 10 was checked and failed"):
        reopened.sign_range(5, 10, 10)


def test_range_needs_an_ok_verdict_for_every_epoch(ledger: SigningLedger) -> None:
    for epoch in (3, 4, 6):
        ledger.record(Verdict(9, epoch, True, ev(epoch)))
    with pytest.raises(NotAttestableError, match="no verdict recorded for deal 9 epoch 5"):
        ledger.sign_range(9, 3, 6)
    with pytest.raises(NotAttestableError, match="epoch 2"):
        ledger.sign_range(9, 2, 4)
    with pytest.raises(NotAttestableError, match="epoch 7"):
        ledger.sign_range(9, 6, 7)
    ledger.record(Verdict(9, 5, False, ev(5)))
    with pytest.raises(NotAttestableError, match="epoch 5 was checked and failed"):
        ledger.sign_range(9, 3, 6)
    signed = ledger.sign_range(9, 3, 4)
    assert signed.attestation == Attestation(9, 3, 4, True, range_evidence([ev(3), ev(4)]))
    assert recover_signer(CHAIN, MARKET, signed) == ledger.address
    assert ledger.sign_range(9, 3, 4) == signed  # asked again: the stored signature


def test_range_of_one_epoch_equals_the_epoch_attestation(ledger: SigningLedger) -> None:
    epoch_sig = ledger.record_and_sign(Verdict(9, 3, True, ev(3)))
    assert ledger.sign_range(9, 3, 3) == epoch_sig


def test_listing_returns_ranges_ending_at_or_after_from(ledger: SigningLedger) -> None:
    for epoch in range(1, 6):
        ledger.record_and_sign(Verdict(2, epoch, True, ev(epoch)))
    ledger.sign_range(2, 1, 5)
    listed = [(a.attestation.from_epoch, a.attestation.to_epoch) for a in ledger.attestations(2, 4)]
    assert listed == [(4, 4), (1, 5), (5, 5)]
    assert ledger.attestations(3) == []


def test_invalid_ranges_are_refused(ledger: SigningLedger) -> None:
    with pytest.raises(NotAttestableError, match="invalid epoch range"):
        ledger.sign_range(1, 5, 4)
    with pytest.raises(NotAttestableError, match="shorter"):
        ledger.sign_range(1, 0, 10**6)


def test_a_ledger_refuses_another_identity(tmp_path: Path) -> None:
    open_ledger(tmp_path / "v.db")
    with pytest.raises(LedgerError, match="belongs to validator"):
        open_ledger(tmp_path / "v.db", index=4)
    with pytest.raises(LedgerError, match="chain 31337"):
        open_ledger(tmp_path / "v.db", chain_id=1)


def _record_many(path: str, ok: bool, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ledger = open_ledger(Path(path))
    won = 0
    for epoch in range(200):
        try:
            ledger.record_and_sign(Verdict(1, epoch, ok, ev(epoch)))
            won += 1
        except ConflictingVerdictError:
            pass
    out.put((ok, won))


def test_two_processes_never_record_conflicting_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    open_ledger(path)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_record_many, args=(str(path), ok, out)) for ok in (True, False)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = dict(out.get(timeout=5) for _ in procs)
    assert results[True] + results[False] == 200  # every epoch won by exactly one outcome
    ledger = open_ledger(path)
    for epoch in range(200):
        signed = ledger.attestations(1, epoch)[0]
        assert signed.attestation.ok == ledger.verdict(1, epoch).ok  # type: ignore[union-attr]
    assert len(ledger.attestations(1)) == 200


def test_ranges_past_the_cap_are_signed_identically_but_not_stored(
    ledger: SigningLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scatter.validator.ledger as module

    monkeypatch.setattr(module, "MAX_STORED_RANGES", 2)
    for epoch in range(1, 6):
        ledger.record(Verdict(4, epoch, True, ev(epoch)))
    kept = [ledger.sign_range(4, 1, b) for b in (2, 3)]
    extra = ledger.sign_range(4, 1, 5)
    assert extra == ledger.sign_range(4, 1, 5)  # deterministic signatures: same bytes each time
    assert recover_signer(CHAIN, MARKET, extra) == ledger.address
    listed = {(a.attestation.from_epoch, a.attestation.to_epoch) for a in ledger.attestations(4)}
    assert listed == {(1, 2), (1, 3)} and all(k in ledger.attestations(4) for k in kept)


# ------------------------------------------------------------- batches of ranges

MIXED_BATCH = [(9, 3, 4), (9, 3, 6), (9, 5, 5), (7, 1, 1), (9, 6, 6), (9, 4, 3), (0, 1, 1), (9, 3, 4)]
"""Signable, a gap, a failed epoch, no verdicts, single ok epoch, inverted, bad deal, a repeat."""


def record_mixed(ledger: SigningLedger) -> None:
    for epoch, ok in ((3, True), (4, True), (5, False), (7, True)):
        ledger.record(Verdict(9, epoch, ok, ev(epoch)))
    ledger.record(Verdict(9, 6, True, ev(6)))


def single(ledger: SigningLedger, deal_id: int, a: int, b: int) -> object:
    try:
        return ledger.sign_range(deal_id, a, b)
    except NotAttestableError as exc:
        return ("refused", str(exc))


def test_batch_answers_each_range_in_order_as_sign_range_does(tmp_path: Path) -> None:
    batched, one_by_one = open_ledger(tmp_path / "a.db"), open_ledger(tmp_path / "b.db")
    record_mixed(batched)
    record_mixed(one_by_one)
    results = batched.sign_ranges(MIXED_BATCH)
    expected = [single(one_by_one, *r) for r in MIXED_BATCH]
    got = [("refused", str(r)) if isinstance(r, NotAttestableError) else r for r in results]
    assert got == expected  # same signatures (RFC 6979) and same refusals, in the asked order
    assert [isinstance(r, NotAttestableError) for r in results] == [
        False, True, True, True, False, True, True, False,
    ]  # fmt: skip
    assert str(results[1]) == "deal 9 epoch 5 was checked and failed"
    for r in results:
        if not isinstance(r, NotAttestableError):
            assert recover_signer(CHAIN, MARKET, r) == batched.address


def test_batch_signatures_are_durable_before_it_returns(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path / "v.db")
    record_mixed(ledger)
    results = ledger.sign_ranges(MIXED_BATCH)
    ledger.db.close()  # what a crash right after the answer leaves: only what was committed
    reopened = open_ledger(tmp_path / "v.db")
    listed = reopened.attestations(9)
    assert all(r in listed for r in results if not isinstance(r, NotAttestableError))
    assert {(a.attestation.from_epoch, a.attestation.to_epoch) for a in listed} == {(3, 4), (6, 6)}


def test_batch_is_one_transaction(ledger: SigningLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    record_mixed(ledger)
    opened = 0
    real = ledger.db.transaction

    def counting() -> Any:
        nonlocal opened
        opened += 1
        return real()

    monkeypatch.setattr(ledger.db, "transaction", counting)
    ledger.sign_ranges([(9, 3, b) for b in (3, 4)] * 10 + MIXED_BATCH)
    assert opened == 1
    # Long ranges: a transaction commits once it has read BATCH_TX_EPOCHS epochs of verdicts.
    with ledger.db.transaction():
        for e in range(100, 100 + 3 * 3_000):
            ledger.record(Verdict(9, e, True, e.to_bytes(32, "big")))
    opened = 0
    long = [(9, 100 + i * 3_000, 100 + i * 3_000 + 2_999) for i in range(3)]
    results = ledger.sign_ranges(long)
    assert opened == 2 and BATCH_TX_EPOCHS == 5_000  # 3,000 + 3,000, then 3,000
    assert [(r.attestation.from_epoch, r.attestation.to_epoch) for r in results] == [  # type: ignore[union-attr]
        (a, b) for _, a, b in long
    ]


def test_batch_rolls_back_entirely_on_an_unexpected_error(
    ledger: SigningLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_mixed(ledger)
    sign = ledger.signer.sign
    calls = 0

    def failing_second(att: Attestation) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("signer broke")
        return sign(att)

    monkeypatch.setattr(ledger.signer, "sign", failing_second)
    with pytest.raises(RuntimeError, match="signer broke"):
        ledger.sign_ranges([(9, 3, 4), (9, 6, 6)])
    assert [(a.attestation.from_epoch, a.attestation.to_epoch) for a in ledger.attestations(9)] == []


def test_deal_ids_beyond_sqlite_are_refused_not_crashed(ledger: SigningLedger) -> None:
    [result] = ledger.sign_ranges([(2**63, 1, 1)])
    assert isinstance(result, NotAttestableError) and "invalid deal id" in str(result)
    with pytest.raises(NotAttestableError, match="invalid deal id"):
        ledger.sign_range(2**200, 1, 1)
