"""The pinning service's state: access tokens (stored hashed) and pin requests, in SQLite (WAL).

Each token is its own account: it sees, replaces and removes only its own pins, may
keep ``max_pending`` of them queued or pinning, and may spend at most its
``spend_cap`` of the node's wallet on escrow (:meth:`PinStore.charge`, checked and
recorded in one transaction). A token is shown once, when created; the store keeps
its SHA-256 only (a token is 256 random bits: a fast hash is enough). Removed pins
stay as rows (``removed``) until the worker has cancelled their bid's open slots.
Wei amounts are stored as decimal text (they exceed SQLite's 64-bit integers).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from scatter.errors import ScatterNotFoundError, ScatterValueError
from scatter.web.pinning.models import PENDING, Pin, PinStatus, Status, cid_key

SCHEMA_VERSION = 3  # 2: pins.bid_block; 3: renewals (pins.prev_bids, renew_block, renew_escrow, renewed)
TOKEN_PREFIX = "scatter_pins_"
Match = Literal["exact", "iexact", "partial", "ipartial"]

_MIGRATIONS = {  # from version N to N + 1, in place
    1: ("ALTER TABLE pins ADD COLUMN bid_block INTEGER",),
    2: (
        "ALTER TABLE pins ADD COLUMN prev_bids TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE pins ADD COLUMN renew_block INTEGER",
        "ALTER TABLE pins ADD COLUMN renew_escrow TEXT NOT NULL DEFAULT '0'",
        "ALTER TABLE pins ADD COLUMN renewed INTEGER",
    ),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    revoked INTEGER,
    spend_cap TEXT NOT NULL,
    spent TEXT NOT NULL DEFAULT '0'
);
CREATE TABLE IF NOT EXISTS pins (
    requestid TEXT PRIMARY KEY,
    token_id INTEGER NOT NULL REFERENCES tokens(id),
    cid TEXT NOT NULL,
    cid_key TEXT NOT NULL,
    name TEXT,
    origins TEXT NOT NULL,
    meta TEXT NOT NULL,
    status TEXT NOT NULL,
    created INTEGER NOT NULL UNIQUE,
    removed INTEGER NOT NULL DEFAULT 0,
    bid_id TEXT,
    escrow TEXT NOT NULL DEFAULT '0',
    info TEXT NOT NULL DEFAULT '{}',
    delegates TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try INTEGER NOT NULL DEFAULT 0,
    settled INTEGER NOT NULL DEFAULT 0,
    bid_block INTEGER,
    prev_bids TEXT NOT NULL DEFAULT '[]',
    renew_block INTEGER,
    renew_escrow TEXT NOT NULL DEFAULT '0',
    renewed INTEGER
);
CREATE INDEX IF NOT EXISTS pins_by_token ON pins (token_id, removed, created);
CREATE INDEX IF NOT EXISTS pins_due ON pins (removed, status, next_try);
"""


class PendingLimitError(ScatterValueError):
    """The token already has its most pins queued or pinning."""


class SpendCapError(ScatterValueError):
    """The token spent its cap of the node's wallet."""


class NotRenewableError(ScatterValueError):
    """The pin was removed, or its token revoked: no renewal is bought for it."""


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    created: int  # ms since the epoch
    revoked: int | None
    spend_cap: int  # wei
    spent: int  # wei of escrow its pins' bids took (refunds given back)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created": _iso(self.created),
            "revoked": _iso(self.revoked) if self.revoked is not None else None,
            "spend_cap_wei": self.spend_cap,
            "spent_wei": self.spent,
        }


@dataclass(frozen=True)
class PinRecord:
    requestid: str
    token_id: int
    pin: Pin
    status: Status
    created: int  # ms since the epoch; unique over the store
    removed: bool = False
    bid_id: int | None = None
    escrow: int = 0
    info: dict[str, str] = field(default_factory=dict)
    delegates: tuple[str, ...] = ()
    attempts: int = 0
    next_try: int = 0
    settled: bool = False  # removed and its bid's open slots cancelled (or none to cancel)
    # set (with ``escrow`` charged to the token) just before the bid is sent: from this block on
    # a bid of this pin may be on chain although ``bid_id`` is not known (a crash in between)
    bid_block: int | None = None
    prev_bids: tuple[int, ...] = ()  # the bids the newest (``bid_id``) renewed, oldest first
    # set (with ``renew_escrow`` charged) just before a renewal bid is sent, as ``bid_block`` is
    renew_block: int | None = None
    renew_escrow: int = 0
    renewed: int | None = None  # ms: when the newest renewal bid was posted

    def status_object(self, default_delegates: Sequence[str]) -> PinStatus:
        return PinStatus(
            requestid=self.requestid,
            status=self.status,
            created=datetime.fromtimestamp(self.created / 1000, UTC),
            pin=self.pin,
            delegates=tuple(dict.fromkeys(self.delegates or default_delegates))[:20],
            info=self.info,
        )


@dataclass(frozen=True)
class ListQuery:
    """``GET /pins`` filters: every one given must match."""

    cids: tuple[str, ...] = ()  # as given; matched in any CID version
    name: str | None = None
    match: Match = "exact"
    statuses: tuple[Status, ...] = ("pinned",)
    before: int | None = None  # ms, exclusive
    after: int | None = None  # ms, exclusive
    limit: int = 10
    meta: dict[str, str] = field(default_factory=dict)


def hash_token(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class PinStore:
    """Thread-safe (one connection behind a lock); other processes share the file through WAL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version not in (0, *_MIGRATIONS, SCHEMA_VERSION):
            raise ScatterValueError(
                f"{path} is a pin store of version {version}; this release reads version {SCHEMA_VERSION}"
            )
        with self._tx() as db:
            for step in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
                for sql in _MIGRATIONS[step]:
                    db.execute(sql)
            for sql in _SCHEMA.split(";"):
                if sql.strip():
                    db.execute(sql)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        path.chmod(0o600)
        self._last_created = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ tokens

    def create_token(self, name: str, spend_cap: int) -> tuple[Token, str]:
        """A new token and its secret: the secret is returned once, only its hash is kept."""
        if not name.strip() or len(name) > 100:
            raise ScatterValueError("a token's name is 1 to 100 characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO tokens (name, hash, created, spend_cap) VALUES (?, ?, ?, ?)",
                (name.strip(), hash_token(secret), _now_ms(), str(spend_cap)),
            )
            row = db.execute("SELECT * FROM tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _token(row), secret

    def tokens(self) -> list[Token]:
        with self._lock:
            return [_token(r) for r in self._db.execute("SELECT * FROM tokens ORDER BY id")]

    def token(self, ref: int | str) -> Token:
        """A token by id or name (the newest of that name)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM tokens WHERE id = ? OR name = ? ORDER BY id DESC LIMIT 1",
                (int(ref) if str(ref).isdigit() else -1, str(ref)),
            ).fetchone()
        if row is None:
            raise ScatterNotFoundError(f"no pinning token {ref!r}: `scatter pins token list` shows them")
        return _token(row)

    def revoke_token(self, ref: int | str) -> Token:
        token = self.token(ref)
        with self._tx() as db:
            revoke = "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL"
            db.execute(revoke, (_now_ms(), token.id))
        return self.token(token.id)

    def token_for(self, secret: str) -> Token | None:
        """The active token whose secret this is, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM tokens WHERE hash = ? AND revoked IS NULL", (hash_token(secret),)
            ).fetchone()
        return _token(row) if row is not None else None

    def charge(self, token_id: int, amount: int) -> None:
        """Record ``amount`` wei spent by the token, or raise :class:`SpendCapError` past its cap."""
        with self._tx() as db:
            self._charge(db, token_id, amount)

    @staticmethod
    def _charge(db: sqlite3.Connection, token_id: int, amount: int) -> None:
        row = db.execute("SELECT spend_cap, spent FROM tokens WHERE id = ?", (token_id,)).fetchone()
        cap, spent = int(row["spend_cap"]), int(row["spent"])
        if spent + amount > cap:
            raise SpendCapError(
                f"this pin's escrow ({amount} wei) would take the token past its spend cap "
                f"({spent} of {cap} wei spent)"
            )
        db.execute("UPDATE tokens SET spent = ? WHERE id = ?", (str(spent + amount), token_id))

    def charge_for_bid(self, rec: PinRecord, amount: int, bid_block: int) -> None:
        """Charge the token for the bid the worker is about to send, and record that a bid may be
        out from ``bid_block`` on: in one transaction, so a crash leaves both or neither."""
        with self._tx() as db:
            self._charge(db, rec.token_id, amount)
            db.execute(
                "UPDATE pins SET escrow = ?, bid_block = ? WHERE requestid = ?",
                (str(amount), bid_block, rec.requestid),
            )

    def release_charge(self, rec: PinRecord) -> None:
        """Undo :meth:`charge_for_bid` when no bid went out: give the escrow back to the token."""
        with self._tx() as db:
            self._refund(db, rec.token_id, rec.escrow)
            db.execute("UPDATE pins SET escrow = '0', bid_block = NULL WHERE requestid = ?", (rec.requestid,))

    def charge_for_renewal(self, rec: PinRecord, amount: int, renew_block: int) -> None:
        """Charge the token for a renewal bid of ``rec`` about to be sent, and record that it may be
        out from ``renew_block`` on, in one transaction; :class:`NotRenewableError` (and no charge)
        if the pin is removed or its token revoked by now, :class:`SpendCapError` past the cap."""
        with self._tx() as db:
            live = db.execute(
                "SELECT 1 FROM pins JOIN tokens ON tokens.id = pins.token_id WHERE requestid = ? "
                "AND removed = 0 AND revoked IS NULL AND renew_block IS NULL",
                (rec.requestid,),
            ).fetchone()
            if live is None:
                raise NotRenewableError("the pin was removed or its token revoked: it is not renewed")
            self._charge(db, rec.token_id, amount)
            db.execute(
                "UPDATE pins SET renew_escrow = ?, renew_block = ? WHERE requestid = ?",
                (str(amount), renew_block, rec.requestid),
            )

    def release_renewal(self, rec: PinRecord) -> None:
        """Undo :meth:`charge_for_renewal` when no renewal bid went out."""
        with self._tx() as db:
            self._refund(db, rec.token_id, rec.renew_escrow)
            db.execute(
                "UPDATE pins SET renew_escrow = '0', renew_block = NULL WHERE requestid = ?", (rec.requestid,)
            )

    def record_renewal(self, rec: PinRecord, bid_id: int, now_ms: int) -> None:
        """The renewal bid ``bid_id`` is out: it becomes the pin's newest bid, the one before it is kept
        in ``prev_bids`` (cancelled with the pin)."""
        assert rec.bid_id is not None
        with self._tx() as db:
            row = db.execute("SELECT * FROM pins WHERE requestid = ?", (rec.requestid,)).fetchone()
            now = _record(row)
            assert now.bid_id is not None and now.renew_block is not None
            db.execute(
                "UPDATE pins SET bid_id = ?, prev_bids = ?, escrow = ?, renew_escrow = '0', "
                "renew_block = NULL, renewed = ? WHERE requestid = ?",
                (
                    str(bid_id),
                    json.dumps([*now.prev_bids, now.bid_id]),
                    str(now.renew_escrow),
                    now_ms,
                    rec.requestid,
                ),
            )

    def known_bids(self) -> set[int]:
        """Every bid id some pin of this store holds (its newest and the ones it renewed)."""
        with self._lock:
            rows = self._db.execute("SELECT bid_id, prev_bids FROM pins WHERE bid_id IS NOT NULL").fetchall()
        return {int(r[0]) for r in rows} | {int(b) for r in rows for b in json.loads(r[1])}

    def refund(self, token_id: int, amount: int) -> None:
        with self._tx() as db:
            self._refund(db, token_id, amount)

    @staticmethod
    def _refund(db: sqlite3.Connection, token_id: int, amount: int) -> None:
        row = db.execute("SELECT spent FROM tokens WHERE id = ?", (token_id,)).fetchone()
        left = max(0, int(row["spent"]) - amount)
        db.execute("UPDATE tokens SET spent = ? WHERE id = ?", (str(left), token_id))

    # ------------------------------------------------------------------ pins

    def add(self, token_id: int, pin: Pin, *, max_pending: int) -> PinRecord:
        """Queue a pin request of the token (``PendingLimitError`` past ``max_pending``)."""
        with self._tx() as db:
            self._check_pending(db, token_id, max_pending)
            return self._insert(db, token_id, pin)

    def replace(self, token_id: int, requestid: str, pin: Pin, *, max_pending: int) -> PinRecord:
        """Remove the token's pin ``requestid`` and queue ``pin`` in its place, in one transaction."""
        with self._tx() as db:
            old = self._own(db, token_id, requestid)
            db.execute("UPDATE pins SET removed = 1 WHERE requestid = ?", (old["requestid"],))
            self._check_pending(db, token_id, max_pending)
            return self._insert(db, token_id, pin)

    def remove(self, token_id: int, requestid: str) -> None:
        with self._tx() as db:
            self._own(db, token_id, requestid)
            db.execute("UPDATE pins SET removed = 1 WHERE requestid = ?", (requestid,))

    def record(self, requestid: str) -> PinRecord:
        """Pin ``requestid`` of any token, removed or not (for the worker)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM pins WHERE requestid = ?", (requestid,)).fetchone()
        if row is None:
            raise ScatterNotFoundError(f"no pin request {requestid[:80]!r}")
        return _record(row)

    def get(self, token_id: int, requestid: str) -> PinRecord:
        with self._lock:
            return _record(self._own(self._db, token_id, requestid))

    def find(self, token_id: int, query: ListQuery) -> tuple[int, list[PinRecord]]:
        """(matches in all, the newest ``limit`` of them)."""
        where = ["token_id = ?", "removed = 0"]
        args: list[Any] = [token_id]
        if query.cids:
            keys = [cid_key(c) for c in query.cids]
            where.append(f"cid_key IN ({','.join('?' * len(keys))})")
            args += keys
        if query.name is not None:
            where.append(
                {
                    "exact": "name = ?",
                    "iexact": "lower(name) = lower(?)",
                    "partial": "instr(name, ?) > 0",
                    "ipartial": "instr(lower(name), lower(?)) > 0",
                }[query.match]
            )
            args.append(query.name)
        where.append(f"status IN ({','.join('?' * len(query.statuses))})")
        args += query.statuses
        if query.before is not None:
            where.append("created < ?")
            args.append(query.before)
        if query.after is not None:
            where.append("created > ?")
            args.append(query.after)
        for key, value in query.meta.items():
            where.append("EXISTS (SELECT 1 FROM json_each(pins.meta) WHERE key = ? AND value = ?)")
            args += [key, value]
        sql = " AND ".join(where)
        with self._lock:
            count = int(self._db.execute(f"SELECT count(*) FROM pins WHERE {sql}", args).fetchone()[0])
            rows = self._db.execute(
                f"SELECT * FROM pins WHERE {sql} ORDER BY created DESC LIMIT ?",
                [*args, query.limit],
            ).fetchall()
        return count, [_record(r) for r in rows]

    # ------------------------------------------------------------------ the worker's side

    def due(self, now_ms: int, limit: int = 50) -> list[PinRecord]:
        """Live pins the worker should look at now: pending ones, and pinned ones to recheck."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM pins WHERE removed = 0 AND status IN ('queued', 'pinning', 'pinned') "
                "AND next_try <= ? ORDER BY created LIMIT ?",
                (now_ms, limit),
            ).fetchall()
        return [_record(r) for r in rows]

    def unsettled_removals(self, limit: int = 50) -> list[PinRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM pins WHERE removed = 1 AND settled = 0 ORDER BY created LIMIT ?", (limit,)
            ).fetchall()
        return [_record(r) for r in rows]

    def update(self, requestid: str, **changes: Any) -> None:
        """Set columns of one pin (``info``/``delegates`` as Python values)."""
        if not changes:
            return
        values = {k: _column(k, v) for k, v in changes.items()}
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._tx() as db:
            db.execute(f"UPDATE pins SET {cols} WHERE requestid = ?", [*values.values(), requestid])

    # ------------------------------------------------------------------ helpers

    def _check_pending(self, db: sqlite3.Connection, token_id: int, max_pending: int) -> None:
        pending = int(
            db.execute(
                f"SELECT count(*) FROM pins WHERE token_id = ? AND removed = 0 "
                f"AND status IN ({','.join('?' * len(PENDING))})",
                (token_id, *PENDING),
            ).fetchone()[0]
        )
        if pending >= max_pending:
            raise PendingLimitError(
                f"this token has {pending} pins queued or pinning (at most {max_pending}): "
                "wait for them to finish, or remove some"
            )

    def _insert(self, db: sqlite3.Connection, token_id: int, pin: Pin) -> PinRecord:
        last = db.execute("SELECT max(created) FROM pins").fetchone()[0] or 0
        created = max(_now_ms(), int(last) + 1, self._last_created + 1)  # unique: pages split on it
        self._last_created = created
        requestid = str(uuid.uuid4())
        db.execute(
            "INSERT INTO pins (requestid, token_id, cid, cid_key, name, origins, meta, status, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
            (
                requestid,
                token_id,
                pin.cid,
                cid_key(pin.cid),
                pin.name,
                json.dumps(list(pin.origins)),
                json.dumps(pin.meta),
                created,
            ),
        )
        return PinRecord(requestid=requestid, token_id=token_id, pin=pin, status="queued", created=created)

    @staticmethod
    def _own(db: sqlite3.Connection, token_id: int, requestid: str) -> sqlite3.Row:
        """The token's live pin ``requestid``; another token's pin is as absent as a missing one."""
        row = db.execute(
            "SELECT * FROM pins WHERE requestid = ? AND token_id = ? AND removed = 0", (requestid, token_id)
        ).fetchone()
        if row is None:
            raise ScatterNotFoundError(f"no pin request {requestid[:80]!r}")
        return row  # type: ignore[no-any-return]


_UPDATABLE = frozenset(
    {"status", "bid_id", "escrow", "info", "delegates", "attempts", "next_try", "settled", "removed"}
)


def _column(name: str, value: Any) -> Any:
    if name == "info":
        return json.dumps(value)
    if name == "delegates":
        return json.dumps(list(value))
    if name in ("bid_id", "escrow"):
        return None if value is None else str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _token(row: sqlite3.Row) -> Token:
    return Token(
        id=int(row["id"]),
        name=str(row["name"]),
        created=int(row["created"]),
        revoked=int(row["revoked"]) if row["revoked"] is not None else None,
        spend_cap=int(row["spend_cap"]),
        spent=int(row["spent"]),
    )


def _record(row: sqlite3.Row) -> PinRecord:
    pin = Pin.model_construct(
        cid=row["cid"],
        name=row["name"],
        origins=tuple(json.loads(row["origins"])),
        meta=json.loads(row["meta"]),
    )
    return PinRecord(
        requestid=str(row["requestid"]),
        token_id=int(row["token_id"]),
        pin=pin,
        status=row["status"],
        created=int(row["created"]),
        removed=bool(row["removed"]),
        bid_id=int(row["bid_id"]) if row["bid_id"] is not None else None,
        escrow=int(row["escrow"]),
        info=json.loads(row["info"]),
        delegates=tuple(json.loads(row["delegates"])),
        attempts=int(row["attempts"]),
        next_try=int(row["next_try"]),
        settled=bool(row["settled"]),
        bid_block=int(row["bid_block"]) if row["bid_block"] is not None else None,
        prev_bids=tuple(int(b) for b in json.loads(row["prev_bids"])),
        renew_block=int(row["renew_block"]) if row["renew_block"] is not None else None,
        renew_escrow=int(row["renew_escrow"]),
        renewed=int(row["renewed"]) if row["renewed"] is not None else None,
    )
