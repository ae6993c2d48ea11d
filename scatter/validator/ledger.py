"""The signing ledger: a validator's verdicts and signatures, durable before they leave.

Rules (each pinned by a test in ``tests/core/validator/test_ledger.py``):

1. One verdict per (deal, epoch), ever. Recording the same outcome again is a
   no-op that returns the first verdict; recording the other outcome raises
   :class:`ConflictingVerdictError`. The primary key makes this hold across
   threads, processes, crashes and restarts.
2. Every signature is derived from recorded verdicts only: a single-epoch
   attestation carries its epoch's verdict; a range attestation is ``ok`` and
   exists only if every epoch of the range has an ``ok`` verdict. So no two
   signatures ever disagree about one (deal, epoch).
3. A signature is committed to SQLite (``synchronous=FULL``) *before* it is
   returned to the caller, so nothing signed is ever forgotten by a crash. A
   batch (:meth:`SigningLedger.sign_ranges`) takes one transaction (one fsync)
   per :data:`BATCH_TX_EPOCHS` epochs of verdicts, all committed before any of
   its signatures is returned.
4. A ledger belongs to one signer, chain and Market (checked on open), so a
   database can never mix attestations of two identities.

Evidence of a range is ``keccak256("scatter-range-v1" || evidence of each
epoch, in order)``: anyone holding the per-epoch records can recompute it.

Schema ``validator_ledger`` version 2 (tables ``ledger_identity``,
``verdicts``, ``signatures``; v2 adds ``unknown_epochs``: checks that ended an
epoch without a verdict, e.g. ``late``: a note for the operator, never signed,
never a ``fail``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from eth_utils.crypto import keccak

from scatter.chain.eip712 import Attestation, SignedAttestation
from scatter.daemon.state import Migration, StateDB
from scatter.errors import ScatterValueError
from scatter.validator.signer import AttestationSigner

MIGRATIONS: Final[list[Migration]] = [
    (
        "validator_ledger",
        1,
        [
            "CREATE TABLE ledger_identity (id INTEGER PRIMARY KEY CHECK (id = 1), signer TEXT NOT NULL, "
            "chain_id INTEGER NOT NULL, market TEXT NOT NULL)",
            "CREATE TABLE verdicts (deal_id INTEGER NOT NULL, epoch INTEGER NOT NULL, ok INTEGER NOT NULL, "
            "evidence BLOB NOT NULL, detail TEXT NOT NULL, recorded_at REAL NOT NULL, "
            "PRIMARY KEY (deal_id, epoch)) WITHOUT ROWID",
            "CREATE TABLE signatures (deal_id INTEGER NOT NULL, from_epoch INTEGER NOT NULL, "
            "to_epoch INTEGER NOT NULL, ok INTEGER NOT NULL, evidence BLOB NOT NULL, "
            "signature BLOB NOT NULL, signed_at REAL NOT NULL, "
            "PRIMARY KEY (deal_id, from_epoch, to_epoch))",
            "CREATE INDEX signatures_by_end ON signatures (deal_id, to_epoch)",
        ],
    ),
    (
        "validator_ledger",
        2,
        [
            "CREATE TABLE unknown_epochs (deal_id INTEGER NOT NULL, epoch INTEGER NOT NULL, "
            "label TEXT NOT NULL, detail TEXT NOT NULL, recorded_at REAL NOT NULL, "
            "PRIMARY KEY (deal_id, epoch)) WITHOUT ROWID"
        ],
    ),
]

MAX_RANGE_EPOCHS: Final = 50_000
"""Longest range one attestation may cover (bounds the work of one request)."""

BATCH_TX_EPOCHS: Final = 5_000
"""Epochs of verdicts one transaction of :meth:`SigningLedger.sign_ranges` reads before committing."""

MAX_LISTED: Final = 1_000
"""Most attestations one listing returns (oldest first from the requested epoch)."""

MAX_STORED_RANGES: Final = 1_000
"""Range signatures kept (and listed) per deal; more are signed on request but not stored."""

RANGE_EVIDENCE_TAG: Final = b"scatter-range-v1"

MAX_SQLITE_INT: Final = 2**63 - 1
"""Largest deal id SQLite can hold: no verdict can exist above it."""


class LedgerError(ScatterValueError):
    """The ledger refused: the message is one line, fit for an HTTP 409."""


class ConflictingVerdictError(LedgerError):
    """A verdict for this (deal, epoch) with the other outcome is already recorded."""


class NotAttestableError(LedgerError):
    """The requested range is not covered by recorded ok verdicts. ``ok_through``: the last
    epoch of the range's ok prefix (``from - 1``: none), when the ledger knows it."""

    def __init__(self, message: str, *, ok_through: int | None = None) -> None:
        super().__init__(message)
        self.ok_through = ok_through


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one deal in one epoch, with the digest of its evidence."""

    deal_id: int
    epoch: int
    ok: bool
    evidence: bytes
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.evidence) != 32:
            raise ScatterValueError("evidence must be a 32-byte digest")
        if self.deal_id <= 0 or not 0 <= self.epoch < 2**32:
            raise ScatterValueError(f"invalid deal {self.deal_id} or epoch {self.epoch}")


def range_evidence(evidences: list[bytes]) -> bytes:
    return bytes(keccak(RANGE_EVIDENCE_TAG + b"".join(evidences)))


class SigningLedger:
    """Verdicts and signatures of one validator identity, in ``db``."""

    def __init__(self, db: StateDB, signer: AttestationSigner) -> None:
        self.db = db
        self.signer = signer
        db.migrate(MIGRATIONS)
        self._check_identity()

    @property
    def address(self) -> str:
        return self.signer.address

    def _check_identity(self) -> None:
        me = (self.signer.address, self.signer.chain_id, self.signer.market)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT signer, chain_id, market FROM ledger_identity WHERE id = 1").fetchone()
            if row is None:
                conn.execute("INSERT INTO ledger_identity VALUES (1, ?, ?, ?)", me)
                return
        if tuple(row) != me:
            raise LedgerError(
                f"this state directory belongs to validator {row[0]} on chain {row[1]} market {row[2]}, "
                f"not {me[0]} on chain {me[1]} market {me[2]}: use another --state-dir"
            )

    # -------------------------------------------------------------- verdicts

    def record(self, verdict: Verdict) -> Verdict:
        """Durably record ``verdict``; return the verdict in force (the first one recorded)."""
        with self.db.transaction() as conn:
            return self._record(conn, verdict)

    def _record(self, conn: sqlite3.Connection, verdict: Verdict) -> Verdict:
        row = conn.execute(
            "SELECT ok, evidence, detail FROM verdicts WHERE deal_id = ? AND epoch = ?",
            (verdict.deal_id, verdict.epoch),
        ).fetchone()
        if row is not None:
            existing = Verdict(
                verdict.deal_id, verdict.epoch, bool(row[0]), bytes(row[1]), json.loads(row[2])
            )
            if existing.ok != verdict.ok:
                raise ConflictingVerdictError(
                    f"deal {verdict.deal_id} epoch {verdict.epoch} already has verdict "
                    f"{_word(existing.ok)}; refusing {_word(verdict.ok)}"
                )
            return existing
        conn.execute(
            "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
            (
                verdict.deal_id,
                verdict.epoch,
                int(verdict.ok),
                verdict.evidence,
                json.dumps(verdict.detail, sort_keys=True, default=str),
                time.time(),
            ),
        )
        return verdict

    def last_probe_before(self, deal_id: int, epoch: int) -> tuple[int, bool] | None:
        """The latest epoch before ``epoch`` with a verdict for the deal, and whether it was ok.
        An unknown note is not a probe (a slow answer says nothing of the data: sampled probes,
        docs/validator.md)."""
        row = self.db.query_one(
            "SELECT epoch, ok FROM verdicts WHERE deal_id = ? AND epoch < ? ORDER BY epoch DESC LIMIT 1",
            (deal_id, epoch),
        )
        return (int(row[0]), bool(row[1])) if row else None

    def record_carried(self, deal_id: int, from_epoch: int, to_epoch: int, evidence: bytes) -> int:
        """Record ok verdicts for the epochs of [from, to] between two ok probes (sampled probes,
        docs/validator.md). All or nothing: nothing is recorded if any epoch of the range already
        has a verdict. An epoch with an unknown note (a probe answered too slowly) is carried like
        an unprobed one, and keeps its note. Returns the number of epochs recorded."""
        if from_epoch > to_epoch:
            return 0
        _check_range(deal_id, from_epoch, to_epoch)
        detail = json.dumps({"carried": [from_epoch - 1, to_epoch + 1]})
        now = time.time()
        with self.db.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM verdicts WHERE deal_id = ? AND epoch BETWEEN ? AND ? LIMIT 1",
                (deal_id, from_epoch, to_epoch),
            ).fetchone():
                return 0
            conn.executemany(
                "INSERT INTO verdicts VALUES (?, ?, 1, ?, ?, ?)",
                [(deal_id, e, evidence, detail, now) for e in range(from_epoch, to_epoch + 1)],
            )
        return to_epoch - from_epoch + 1

    def verdict(self, deal_id: int, epoch: int) -> Verdict | None:
        row = self.db.query_one(
            "SELECT ok, evidence, detail FROM verdicts WHERE deal_id = ? AND epoch = ?", (deal_id, epoch)
        )
        if row is None:
            return None
        return Verdict(deal_id, epoch, bool(row[0]), bytes(row[1]), json.loads(row[2]))

    def note_unknown(
        self, deal_id: int, epoch: int, label: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record that (deal, epoch) ended without a verdict (``late``, ``unreachable``, ``warmup``...).
        Ignored if a verdict exists: a note never overrides or becomes one."""
        self.note_unknowns([(deal_id, epoch, label, detail or {})])

    def note_unknowns(self, notes: Sequence[tuple[int, int, str, dict[str, Any]]]) -> None:
        """:meth:`note_unknown` for many (deal, epoch, label, detail) in one transaction: an epoch
        that closes with a hundred late deals costs one write, not a hundred."""
        now = time.time()
        with self.db.transaction() as conn:
            for deal_id, epoch, label, detail in notes:
                if conn.execute(
                    "SELECT 1 FROM verdicts WHERE deal_id = ? AND epoch = ?", (deal_id, epoch)
                ).fetchone():
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO unknown_epochs VALUES (?, ?, ?, ?, ?)",
                    (deal_id, epoch, label, json.dumps(detail, sort_keys=True, default=str), now),
                )

    def unknown(self, deal_id: int, epoch: int) -> str | None:
        """The label of an epoch that ended without a verdict, if any."""
        row = self.db.query_one(
            "SELECT label FROM unknown_epochs WHERE deal_id = ? AND epoch = ?", (deal_id, epoch)
        )
        return str(row[0]) if row else None

    def has_verdicts(self, epoch: int) -> set[int]:
        """Deals with a verdict recorded for ``epoch``."""
        return {r[0] for r in self.db.query("SELECT deal_id FROM verdicts WHERE epoch = ?", (epoch,))}

    def failed_epochs(self, deal_id: int, after: int) -> list[int]:
        """Epochs after ``after`` with a fail verdict for the deal."""
        rows = self.db.query(
            "SELECT epoch FROM verdicts WHERE deal_id = ? AND epoch > ? AND ok = 0 ORDER BY epoch",
            (deal_id, after),
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------ signatures

    def record_and_sign(self, verdict: Verdict) -> SignedAttestation:
        """Record ``verdict`` (or find the one in force) and return the epoch's attestation."""
        with self.db.transaction() as conn:
            in_force = self._record(conn, verdict)
            att = Attestation(
                in_force.deal_id, in_force.epoch, in_force.epoch, in_force.ok, in_force.evidence
            )
            return self._store_signature(conn, att)

    def sign_epoch(self, deal_id: int, epoch: int) -> SignedAttestation:
        """The attestation of one recorded epoch (ok or fail)."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT ok, evidence FROM verdicts WHERE deal_id = ? AND epoch = ?", (deal_id, epoch)
            ).fetchone()
            if row is None:
                raise NotAttestableError(f"no verdict recorded for deal {deal_id} epoch {epoch}")
            return self._store_signature(
                conn, Attestation(deal_id, epoch, epoch, bool(row[0]), bytes(row[1]))
            )

    def sign_range(self, deal_id: int, from_epoch: int, to_epoch: int) -> SignedAttestation:
        """One ok attestation over [from, to]; every epoch of it must have an ok verdict."""
        _check_range(deal_id, from_epoch, to_epoch)
        with self.db.transaction() as conn:
            return self._sign_range(conn, deal_id, from_epoch, to_epoch)

    def sign_ranges(
        self, ranges: Sequence[tuple[int, int, int]]
    ) -> list[SignedAttestation | NotAttestableError]:
        """:meth:`sign_range` of each ``(deal, from, to)``, in order, in as few transactions as it can.

        A range that cannot be signed yields its :class:`NotAttestableError` in its place; any
        other error rolls back the transaction it happened in and propagates. Everything signed
        is committed before this returns (rule 3). Long ranges are split over several
        transactions of at most :data:`BATCH_TX_EPOCHS` epochs, so that one request never holds
        the write lock (and the checker's verdicts) for long.
        """
        results: list[SignedAttestation | NotAttestableError] = []
        pending = list(ranges)
        while pending:
            budget = BATCH_TX_EPOCHS
            with self.db.transaction() as conn:
                while pending and budget > 0:
                    deal_id, from_epoch, to_epoch = pending.pop(0)
                    budget -= max(1, to_epoch - from_epoch + 1)
                    try:
                        _check_range(deal_id, from_epoch, to_epoch)
                        results.append(self._sign_range(conn, deal_id, from_epoch, to_epoch))
                    except NotAttestableError as exc:  # raised before anything of this range is written
                        results.append(exc)
        return results

    def _sign_range(
        self, conn: sqlite3.Connection, deal_id: int, from_epoch: int, to_epoch: int
    ) -> SignedAttestation:
        stored = self._stored(conn, deal_id, from_epoch, to_epoch)
        if stored is not None and stored.attestation.ok:
            return stored
        rows = conn.execute(
            "SELECT epoch, ok, evidence FROM verdicts WHERE deal_id = ? AND epoch BETWEEN ? AND ? "
            "ORDER BY epoch",
            (deal_id, from_epoch, to_epoch),
        ).fetchall()
        expected = from_epoch
        for epoch, ok, _ in rows:
            if epoch != expected:
                break
            if not ok:
                raise NotAttestableError(f"deal {deal_id} epoch {epoch} was checked and failed",
                                         ok_through=expected - 1)  # fmt: skip
            expected += 1
        if expected <= to_epoch:
            raise NotAttestableError(f"no verdict recorded for deal {deal_id} epoch {expected}",
                                     ok_through=expected - 1)  # fmt: skip
        if from_epoch == to_epoch:
            evidence = bytes(rows[0][2])
        else:
            evidence = range_evidence([bytes(r[2]) for r in rows])
        return self._store_signature(conn, Attestation(deal_id, from_epoch, to_epoch, True, evidence))

    def _stored(
        self, conn: sqlite3.Connection, deal_id: int, from_epoch: int, to_epoch: int
    ) -> SignedAttestation | None:
        row = conn.execute(
            "SELECT ok, evidence, signature FROM signatures "
            "WHERE deal_id = ? AND from_epoch = ? AND to_epoch = ?",
            (deal_id, from_epoch, to_epoch),
        ).fetchone()
        if row is None:
            return None
        return self._signed(deal_id, from_epoch, to_epoch, bool(row[0]), bytes(row[1]), bytes(row[2]))

    def _store_signature(self, conn: sqlite3.Connection, att: Attestation) -> SignedAttestation:
        stored = self._stored(conn, att.deal_id, att.from_epoch, att.to_epoch)
        if stored is not None:
            if stored.attestation.ok != att.ok:  # unreachable by rule 1; kept as the last line of defence
                raise ConflictingVerdictError(f"deal {att.deal_id} range already signed the other way")
            return stored
        signed = self.signer.sign(att)
        if att.from_epoch != att.to_epoch and self._ranges_stored(conn, att.deal_id) >= MAX_STORED_RANGES:
            # Anyone may ask for ranges: past the cap they are signed but not listed. Nothing is lost:
            # a range follows from durable ok verdicts, and the signature is deterministic (RFC 6979).
            return signed
        conn.execute(
            "INSERT INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                att.deal_id,
                att.from_epoch,
                att.to_epoch,
                int(att.ok),
                att.evidence,
                signed.r + signed.s + bytes([signed.v]),
                time.time(),
            ),
        )
        return signed

    def _ranges_stored(self, conn: sqlite3.Connection, deal_id: int) -> int:
        row = conn.execute(
            "SELECT COUNT(*) FROM signatures WHERE deal_id = ? AND to_epoch > from_epoch", (deal_id,)
        ).fetchone()
        return int(row[0])

    def _signed(
        self, deal_id: int, from_epoch: int, to_epoch: int, ok: bool, evidence: bytes, sig: bytes
    ) -> SignedAttestation:
        return SignedAttestation(
            attestation=Attestation(deal_id, from_epoch, to_epoch, ok, evidence),
            signer=self.signer.address,
            v=sig[64],
            r=sig[:32],
            s=sig[32:64],
        )

    def attestations(
        self, deal_id: int, from_epoch: int = 0, *, limit: int = MAX_LISTED
    ) -> list[SignedAttestation]:
        """Signed attestations of the deal whose range ends at or after ``from_epoch``."""
        rows = self.db.query(
            "SELECT from_epoch, to_epoch, ok, evidence, signature FROM signatures "
            "WHERE deal_id = ? AND to_epoch >= ? ORDER BY to_epoch, from_epoch LIMIT ?",
            (deal_id, from_epoch, limit),
        )
        return [self._signed(deal_id, r[0], r[1], bool(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]

    def counts(self) -> dict[str, int]:
        row = self.db.query_one("SELECT COUNT(*), COALESCE(SUM(ok), 0) FROM verdicts")
        sigs = self.db.query_one("SELECT COUNT(*) FROM signatures")
        total, ok = (row[0], row[1]) if row else (0, 0)
        return {"verdicts": total, "ok": ok, "fail": total - ok, "signatures": sigs[0] if sigs else 0}


def _check_range(deal_id: int, from_epoch: int, to_epoch: int) -> None:
    if not 0 < deal_id <= MAX_SQLITE_INT:
        raise NotAttestableError(f"invalid deal id {deal_id}")
    if not 0 <= from_epoch <= to_epoch < 2**32:
        raise NotAttestableError(f"invalid epoch range {from_epoch}..{to_epoch}")
    if to_epoch - from_epoch + 1 > MAX_RANGE_EPOCHS:
        raise NotAttestableError(f"range longer than {MAX_RANGE_EPOCHS} epochs; ask for a shorter one")


def _word(ok: bool) -> str:
    return "ok" if ok else "fail"
