"""The hoster's own tables (schema ``hoster`` v2), beside the market index in one SQLite file.

``hoster_slots`` is this hoster's work on a slot *before* there is a deal (Market
version 2: collateral is locked only at ``fill``, after the content was checked)::

    reserving -> reserved -> verified -> filling -> filled      (private push)
    fetching / healing   -> verified -> filling -> filled      (public pin, heal)
    reserved -> released   (the client never pushed: the reservation fee is collected)
    * -> refused / lost / abandoned                             (nothing locked)

``hoster_deals`` is this hoster's view of each of its deals: which CID it must
hold, and where that deal is in its life here::

    pinned -> ended        (finished or faulted on chain: unpinned)
        \\-> dropped       (the fill was reorganised away)

``hoster_requests`` holds operator requests (``scatter hoster withdraw``) that
the running daemon carries out, and ``hoster_kv`` small facts for ``status``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scatter.daemon.state import Migration, StateDB

MIGRATIONS: list[Migration] = [
    (
        "hoster",
        1,
        [
            "CREATE TABLE hoster_deals (deal_id INTEGER PRIMARY KEY, bid_id INTEGER NOT NULL, "
            "slot INTEGER NOT NULL, cid TEXT NOT NULL, size INTEGER NOT NULL, client TEXT NOT NULL, "
            "state TEXT NOT NULL, "
            "bytes INTEGER NOT NULL DEFAULT 0, accepted_block INTEGER NOT NULL, "
            "source TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '', updated REAL NOT NULL)",
            "CREATE INDEX hoster_deals_by_state ON hoster_deals (state)",
            "CREATE TABLE hoster_requests (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, args TEXT NOT NULL, "
            "status TEXT NOT NULL, result TEXT NOT NULL DEFAULT '', created REAL NOT NULL)",
            "CREATE TABLE hoster_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ],
    ),
    (
        "hoster",
        2,
        [
            "CREATE TABLE hoster_slots (bid_id INTEGER NOT NULL, slot INTEGER NOT NULL, cid TEXT NOT NULL, "
            "root BLOB NOT NULL, size INTEGER NOT NULL, client TEXT NOT NULL, mode TEXT NOT NULL, "
            "state TEXT NOT NULL, max_collateral TEXT NOT NULL, reserved_until INTEGER NOT NULL DEFAULT 0, "
            "deal_id INTEGER, bytes INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '', "
            "created REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (bid_id, slot))",
            "CREATE INDEX hoster_slots_by_state ON hoster_slots (state)",
        ],
    ),
]

AWAITING, PINNED, ENDED, DROPPED = "awaiting", "pinned", "ended", "dropped"
HOLDING = (AWAITING, PINNED)  # states that use capacity

# slot jobs (hoster_slots.state)
RESERVING, RESERVED, FETCHING, HEALING = "reserving", "reserved", "fetching", "healing"
VERIFIED, FILLING, FILLED = "verified", "filling", "filled"
REFUSED, RELEASED, LOST, ABANDONED = "refused", "released", "lost", "abandoned"
LIVE_SLOT = (RESERVING, RESERVED, FETCHING, HEALING, VERIFIED, FILLING)
# modes (hoster_slots.mode): how the content arrives
PUSH, FETCH, HEAL = "push", "fetch", "heal"


@dataclass(frozen=True)
class SlotJob:
    bid_id: int
    slot: int
    cid: str
    root: bytes
    size: int
    client: str
    mode: str
    state: str
    max_collateral: int
    reserved_until: int
    deal_id: int | None
    bytes: int
    note: str

    @property
    def key(self) -> str:
        return f"{self.bid_id}:{self.slot}"


def _job(row: Any) -> SlotJob:
    return SlotJob(row["bid_id"], row["slot"], row["cid"], bytes(row["root"]), row["size"],
                   row["client"], row["mode"], row["state"], int(row["max_collateral"]),
                   row["reserved_until"], row["deal_id"], row["bytes"], row["note"])  # fmt: skip


@dataclass(frozen=True)
class LocalDeal:
    deal_id: int
    bid_id: int
    slot: int
    cid: str
    size: int
    client: str
    state: str
    bytes: int
    accepted_block: int
    source: str
    note: str


def _deal(row: Any) -> LocalDeal:
    return LocalDeal(
        row["deal_id"],
        row["bid_id"],
        row["slot"],
        row["cid"],
        row["size"],
        row["client"],
        row["state"],
        row["bytes"],
        row["accepted_block"],
        row["source"],
        row["note"],
    )


class HosterState:
    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.migrate(MIGRATIONS)

    # deals
    def add_deal(self, deal_id: int, bid_id: int, slot: int, cid: str, size: int, client: str,
                 block: int) -> bool:  # fmt: skip
        """Record a new deal (idempotent; replaces a deal id reorganised away); True if it was new."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO hoster_deals (deal_id, bid_id, slot, cid, size, client, state, accepted_block, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(deal_id) DO UPDATE SET "
                "bid_id = excluded.bid_id, slot = excluded.slot, cid = excluded.cid, size = excluded.size, "
                "client = excluded.client, state = excluded.state, bytes = 0, source = '', note = '', "
                "accepted_block = excluded.accepted_block, updated = excluded.updated "
                "WHERE hoster_deals.state = 'dropped'",
                (deal_id, bid_id, slot, cid, size, client, AWAITING, block, time.time()),
            )
            return cur.rowcount == 1

    def in_bid(self, bid_id: int) -> bool:
        """Whether this hoster holds a live slot of the bid here: a slot job under way or a deal
        still held (after its deal ended it may take another slot of the bid)."""
        marks = ",".join("?" * len(LIVE_SLOT))
        row = self.db.query_one(
            f"SELECT 1 FROM hoster_slots WHERE bid_id = ? AND state IN ({marks}) UNION ALL "
            "SELECT 1 FROM hoster_deals WHERE bid_id = ? AND state IN ('awaiting', 'pinned')",
            (bid_id, *LIVE_SLOT, bid_id),
        )
        return row is not None

    # slot jobs
    def add_job(self, bid_id: int, slot: int, *, cid: str, root: bytes, size: int, client: str, mode: str,
                state: str, max_collateral: int) -> bool:  # fmt: skip
        """Start work on a slot (replaces a finished job of the same slot); True if started."""
        now = time.time()
        marks = ",".join("?" * len(LIVE_SLOT))
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO hoster_slots (bid_id, slot, cid, root, size, client, mode, state, "
                "max_collateral, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(bid_id, slot) DO UPDATE SET cid = excluded.cid, root = excluded.root, "
                "size = excluded.size, client = excluded.client, "
                "mode = excluded.mode, state = excluded.state, max_collateral = excluded.max_collateral, "
                "reserved_until = 0, deal_id = NULL, bytes = 0, note = '', created = excluded.created, "
                f"updated = excluded.updated WHERE hoster_slots.state NOT IN ({marks})",
                (bid_id, slot, cid, bytes(root), size, client, mode, state, str(max_collateral), now, now,
                 *LIVE_SLOT),
            )  # fmt: skip
            return cur.rowcount == 1

    def job(self, bid_id: int, slot: int) -> SlotJob | None:
        row = self.db.query_one("SELECT * FROM hoster_slots WHERE bid_id = ? AND slot = ?", (bid_id, slot))
        return _job(row) if row else None

    def jobs(self, states: Sequence[str] | None = None) -> list[SlotJob]:
        if states is None:
            return [_job(r) for r in self.db.query("SELECT * FROM hoster_slots ORDER BY bid_id, slot")]
        marks = ",".join("?" * len(states))
        sql = f"SELECT * FROM hoster_slots WHERE state IN ({marks}) ORDER BY bid_id, slot"
        return [_job(r) for r in self.db.query(sql, list(states))]

    def set_job(self, bid_id: int, slot: int, state: str, *, only_from: Sequence[str] | None = None,
                reserved_until: int | None = None, deal_id: int | None = None, nbytes: int | None = None,
                note: str | None = None) -> bool:  # fmt: skip
        """Move a job to ``state`` (only from ``only_from`` if given); True if it moved."""
        sql = (
            "UPDATE hoster_slots SET state = ?, reserved_until = COALESCE(?, reserved_until), "
            "deal_id = COALESCE(?, deal_id), bytes = COALESCE(?, bytes), note = COALESCE(?, note), "
            "updated = ? WHERE bid_id = ? AND slot = ?"
        )
        args: list[object] = [state, reserved_until, deal_id, nbytes, note, time.time(), bid_id, slot]
        if only_from:
            sql += f" AND state IN ({','.join('?' * len(only_from))})"
            args.extend(only_from)
        with self.db.transaction() as conn:
            return conn.execute(sql, args).rowcount == 1

    def deal(self, deal_id: int) -> LocalDeal | None:
        row = self.db.query_one("SELECT * FROM hoster_deals WHERE deal_id = ?", (deal_id,))
        return _deal(row) if row else None

    def deals(self, states: Sequence[str] | None = None) -> list[LocalDeal]:
        if states is None:
            return [_deal(r) for r in self.db.query("SELECT * FROM hoster_deals ORDER BY deal_id")]
        marks = ",".join("?" * len(states))
        sql = f"SELECT * FROM hoster_deals WHERE state IN ({marks}) ORDER BY deal_id"
        return [_deal(r) for r in self.db.query(sql, list(states))]

    def set_state(self, deal_id: int, state: str, *, nbytes: int | None = None, source: str | None = None,
                  note: str | None = None) -> None:  # fmt: skip
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE hoster_deals SET state = ?, bytes = COALESCE(?, bytes), "
                "source = COALESCE(?, source), note = COALESCE(?, note), updated = ? WHERE deal_id = ?",
                (state, nbytes, source, note, time.time(), deal_id),
            )

    def other_deals_hold(self, cid: str, deal_id: int) -> bool:
        """Whether another deal or slot job here still needs ``cid`` pinned (replicas of one CID in
        several bids)."""
        marks = ",".join("?" * len(LIVE_SLOT))
        row = self.db.query_one(
            "SELECT 1 FROM hoster_deals WHERE cid = ? AND deal_id != ? AND state IN ('awaiting', 'pinned') "
            f"UNION ALL SELECT 1 FROM hoster_slots WHERE cid = ? AND state IN ({marks})",
            (cid, deal_id, cid, *LIVE_SLOT),
        )
        return row is not None

    def used_bytes(self) -> int:
        """Bytes held or promised: deals held, and slot jobs under way."""
        marks = ",".join("?" * len(LIVE_SLOT))
        row = self.db.query_one(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM hoster_deals WHERE state IN ('awaiting', 'pinned')) "
            f"+ (SELECT COALESCE(SUM(size), 0) FROM hoster_slots WHERE state IN ({marks}))",
            tuple(LIVE_SLOT),
        )
        return int(row[0]) if row else 0

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.query("SELECT state, COUNT(*) FROM hoster_deals GROUP BY state")}

    def pinned_bytes(self) -> int:
        row = self.db.query_one("SELECT COALESCE(SUM(bytes), 0) FROM hoster_deals WHERE state = 'pinned'")
        return int(row[0]) if row else 0

    # operator requests
    def request(self, kind: str, **args: Any) -> int:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO hoster_requests (kind, args, status, created) VALUES (?, ?, 'new', ?)",
                (kind, json.dumps(args), time.time()),
            )
            return int(cur.lastrowid or 0)

    def open_requests(self) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.db.query("SELECT id, kind, args FROM hoster_requests WHERE status = 'new' ORDER BY id")
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    def close_request(self, request_id: int, status: str, result: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE hoster_requests SET status = ?, result = ? WHERE id = ?",
                         (status, result, request_id))  # fmt: skip

    def request_status(self, request_id: int) -> tuple[str, str] | None:
        row = self.db.query_one("SELECT status, result FROM hoster_requests WHERE id = ?", (request_id,))
        return (row[0], row[1]) if row else None

    # facts for `status`
    def put(self, **facts: Any) -> None:
        with self.db.transaction() as conn:
            for key, value in facts.items():
                conn.execute(
                    "INSERT INTO hoster_kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )

    def facts(self) -> dict[str, Any]:
        return {r[0]: json.loads(r[1]) for r in self.db.query("SELECT key, value FROM hoster_kv")}


@dataclass(frozen=True)
class DealView:
    """One of this hoster's holding deals joined with the market index's view of it."""

    local: LocalDeal
    status: int | None  # DealStatus on chain (None: not in the index)
    hoster: str | None
    start_epoch: int
    end_epoch: int
    paid_through: int
    paid_epochs: int
    price_per_epoch: int
    failed_epoch: int = 0
    challenge_open: bool = False
    challenge_epoch: int = 0
    challenge_due: int = 0


def holding_views(db: StateDB) -> list[DealView]:
    """Every awaiting or pinned deal with its index row and bid terms, in one query."""
    rows = db.query(
        "SELECT h.*, d.status AS d_status, d.hoster AS d_hoster, d.start_epoch, d.end_epoch, "
        "d.paid_through, d.paid_epochs, b.price_per_epoch, d.failed_epoch, d.challenge_open, "
        "d.challenge_epoch, d.challenge_due FROM hoster_deals h "
        "LEFT JOIN deals d ON d.deal_id = h.deal_id LEFT JOIN bids b ON b.bid_id = h.bid_id "
        "WHERE h.state IN ('awaiting', 'pinned') ORDER BY h.deal_id"
    )
    return [
        DealView(
            _deal(r),
            r["d_status"],
            r["d_hoster"],
            r["start_epoch"] or 0,
            r["end_epoch"] or 0,
            r["paid_through"] or 0,
            r["paid_epochs"] or 0,
            int(r["price_per_epoch"] or 0),
            r["failed_epoch"] or 0,
            bool(r["challenge_open"]),
            r["challenge_epoch"] or 0,
            r["challenge_due"] or 0,
        )
        for r in rows
    ]


def earned_wei(db: StateDB, hoster: str, fee_bps: int) -> int:
    """Wei paid to ``hoster`` by settlements of all its deals (fee deducted), from the index."""
    rows = db.query(
        "SELECT d.paid_epochs, b.price_per_epoch FROM deals d JOIN bids b ON b.bid_id = d.bid_id "
        "WHERE d.hoster = ? AND d.paid_epochs > 0",
        (hoster,),
    )
    return sum(r[0] * int(r[1]) * (10_000 - fee_bps) // 10_000 for r in rows)
