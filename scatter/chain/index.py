"""A local index of the market, kept in the daemon's SQLite database.

Both daemons need the same view of the chain: bids with their CIDs, possession
roots and origins (which live only in event logs), reservations, deals with
their open challenges, and the registered nodes with their endpoints.
:class:`MarketIndex` applies each confirmed batch of events from
:class:`~scatter.chain.follower.EventFollower` and moves the checkpoint in
the same SQLite transaction, so a crash never applies a batch twice or loses
one. Events update the rows directly (fast backfill, no RPC per event).

After a reorg the follower rewinds to block B. Every row changed after B is
then rebuilt from the contract's views *at block B* (nodes keep that much
state), and rows created after B are dropped; replaying events from B + 1
brings the index back to the canonical chain.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from scatter.chain._abi import named_output
from scatter.chain.artifacts import load_artifact
from scatter.chain.deployments import Deployment
from scatter.chain.follower import Batch, ChainEvent, Checkpoint, EventFollower, Rewind
from scatter.chain.market import DealStatus, Market, NodeStatus, Role, reservation_from_named
from scatter.chain.tx import head_number, raw_call, rpc_guard
from scatter.daemon.state import Migration, StateDB
from scatter.errors import ScatterError

_V1_TABLES = ("chain_checkpoint", "bids", "deals", "nodes")

MIGRATIONS: list[Migration] = [
    (
        "market_index",
        1,
        [
            "CREATE TABLE chain_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), block INTEGER NOT NULL, "
            "block_hash BLOB NOT NULL)",
            "CREATE TABLE bids (bid_id INTEGER PRIMARY KEY)",
            "CREATE TABLE deals (deal_id INTEGER PRIMARY KEY)",
            "CREATE TABLE nodes (role INTEGER NOT NULL, address TEXT NOT NULL, PRIMARY KEY (role, address))",
        ],
    ),
    # Market VERSION 2+: possession roots, reservations, deal ends fixed at fill, challenges.
    # A version-1 index belongs to a version-1 deployment: it is dropped and followed again.
    (
        "market_index",
        2,
        [
            *(f"DROP TABLE IF EXISTS {t}" for t in _V1_TABLES),
            "CREATE TABLE chain_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), block INTEGER NOT NULL, "
            "block_hash BLOB NOT NULL)",
            # wei amounts are TEXT: they exceed SQLite's 64-bit integers
            "CREATE TABLE bids (bid_id INTEGER PRIMARY KEY, client TEXT NOT NULL, size INTEGER NOT NULL, "
            "slot_count INTEGER NOT NULL, price_per_epoch TEXT NOT NULL, duration_epochs INTEGER NOT NULL, "
            "cids TEXT NOT NULL, roots TEXT NOT NULL, origins TEXT NOT NULL, open_slots INTEGER NOT NULL, "
            "closed_slots INTEGER NOT NULL, posted_block INTEGER NOT NULL, updated_block INTEGER NOT NULL)",
            "CREATE TABLE deals (deal_id INTEGER PRIMARY KEY, bid_id INTEGER NOT NULL, "
            "slot INTEGER NOT NULL, hoster TEXT NOT NULL, status INTEGER NOT NULL, "
            "start_epoch INTEGER NOT NULL, end_epoch INTEGER NOT NULL, paid_through INTEGER NOT NULL, "
            "paid_epochs INTEGER NOT NULL, collateral TEXT NOT NULL, "
            "failed_epoch INTEGER NOT NULL DEFAULT 0, "
            "faults INTEGER NOT NULL DEFAULT 0, challenge_open INTEGER NOT NULL DEFAULT 0, "
            "challenge_epoch INTEGER NOT NULL DEFAULT 0, challenge_due INTEGER NOT NULL DEFAULT 0, "
            "updated_block INTEGER NOT NULL)",
            "CREATE INDEX deals_by_hoster ON deals (hoster, status)",
            "CREATE INDEX deals_by_status ON deals (status)",
            "CREATE INDEX deals_by_bid ON deals (bid_id)",
            "CREATE TABLE reservations (bid_id INTEGER NOT NULL, slot INTEGER NOT NULL, "
            "hoster TEXT NOT NULL, "
            "expires_at INTEGER NOT NULL, updated_block INTEGER NOT NULL, PRIMARY KEY (bid_id, slot))",
            "CREATE INDEX reservations_by_hoster ON reservations (hoster)",
            "CREATE TABLE nodes (role INTEGER NOT NULL, address TEXT NOT NULL, endpoint TEXT NOT NULL, "
            "status INTEGER NOT NULL, stake TEXT NOT NULL, capacity INTEGER NOT NULL, "
            "updated_block INTEGER NOT NULL, PRIMARY KEY (role, address))",
        ],
    ),
]


@dataclass(frozen=True)
class IndexedBid:
    bid_id: int
    client: str
    size: int
    slot_count: int
    price_per_epoch: int
    duration_epochs: int
    cids: list[bytes]  # one (replicas) or one per slot
    roots: list[bytes]  # possession roots, as cids
    origins: list[str]
    open_slots: int
    closed_slots: int
    posted_block: int

    def cid_of_slot(self, slot: int) -> bytes:
        return self.cids[0] if len(self.cids) == 1 else self.cids[slot]

    def root_of_slot(self, slot: int) -> bytes:
        if not self.roots:
            return b"\x00" * 32
        return self.roots[0] if len(self.roots) == 1 else self.roots[slot]

    def open_slot_indexes(self) -> list[int]:
        return [i for i in range(self.slot_count) if self.open_slots >> i & 1]


@dataclass(frozen=True)
class IndexedDeal:
    deal_id: int
    bid_id: int
    slot: int
    hoster: str
    status: DealStatus
    start_epoch: int
    end_epoch: int  # last payable epoch, fixed at fill (moves only with extendDeal)
    paid_through: int
    paid_epochs: int
    collateral: int
    failed_epoch: int = 0  # epoch of the last missed proof (0: none); no epoch at or before it is paid
    faults: int = 0
    challenge_open: bool = False
    challenge_epoch: int = 0
    challenge_due: int = 0


@dataclass(frozen=True)
class IndexedReservation:
    bid_id: int
    slot: int
    hoster: str
    expires_at: int  # unix time


@dataclass(frozen=True)
class IndexedNode:
    role: Role
    address: str
    endpoint: str
    status: NodeStatus
    stake: int
    capacity: int


@functools.cache
def _market_topics(events: tuple[str, ...]) -> list[str]:
    """topic0 (hex) of each named Market event."""
    return [
        "0x" + bytes(event_abi_to_log_topic(cast(ABIEvent, item))).hex()
        for item in load_artifact("Market").abi
        if item.get("type") == "event" and item.get("name") in events
    ]


SAVE_EMPTY_EVERY = 64  # blocks without events between checkpoint writes (see MarketIndex.apply)


class MarketIndex:
    """The market as of the checkpoint, in ``db``; fed by :meth:`sync`."""

    def __init__(self, db: StateDB, w3: Web3, deployment: Deployment, *, confirmations: int = 2) -> None:
        self.db = db
        self.w3 = w3
        self.deployment = deployment
        self.market = Market(w3, deployment.market)
        self.follower = EventFollower(
            w3, [("Market", deployment.market, load_artifact("Market").abi)], confirmations=confirmations
        )
        db.migrate(MIGRATIONS)
        self._rewound_to: int | None = None  # the lowest block a reorg rewound to, until taken
        self._unsaved: Checkpoint | None = None  # the checkpoint after empty batches, not yet written
        self._saved_block = self.checkpoint().block

    # ------------------------------------------------------------ following

    def take_rewind(self) -> int | None:
        """The block the index last rewound to after a reorg (the lowest since the last call), or None.

        A reorg can be deeper than the confirmation depth (the follower rewinds ``rewind_depth``
        blocks): whoever keeps its own records of mined transactions rechecks them from here."""
        rewound, self._rewound_to = self._rewound_to, None
        return rewound

    def keep_rewind(self, block: int | None) -> None:
        """Put back what :meth:`take_rewind` returned when the recheck could not run."""
        if block is not None:
            self._rewound_to = block if self._rewound_to is None else min(self._rewound_to, block)

    def checkpoint(self) -> Checkpoint:
        if self._unsaved is not None:
            return self._unsaved
        row = self.db.query_one("SELECT block, block_hash FROM chain_checkpoint WHERE id = 1")
        if row is None:
            return EventFollower.genesis(self.deployment.block)
        return Checkpoint(row["block"], bytes(row["block_hash"]))

    def sync(self, *, max_batches: int | None = None, head: int | None = None) -> list[ChainEvent]:
        """Apply confirmed batches until caught up; returns the events applied (in order).
        ``head``: the latest block number, when the caller has just read it (one call fewer)."""
        applied: list[ChainEvent] = []
        batches = 0
        while max_batches is None or batches < max_batches:
            result = self.follower.poll(self.checkpoint(), head=head)
            head = None  # later polls read it again
            if result is None:
                break
            if isinstance(result, Rewind):
                self._rewind(result.checkpoint)
                continue
            self.apply(result)
            applied.extend(result.events)
            batches += 1
            if result.head is not None and result.checkpoint.block >= result.head:
                break  # caught up with the head the poll saw: no second poll to learn that
        return applied

    def unapplied_deals(self, events: tuple[str, ...]) -> frozenset[int]:
        """The deals named (first indexed argument, ``dealId``) by Market ``events`` in the blocks
        after the checkpoint up to the node's latest: what the index has not applied yet (its
        confirmations, the blocks since the last sync). One ``eth_getLogs`` over those few blocks,
        without web3's formatters. Thread-safe; read the index after calling it."""
        first = self.checkpoint().block + 1
        head = head_number(self.w3)
        if head < first:
            return frozenset()
        query = {"address": self.deployment.market, "fromBlock": hex(first), "toBlock": hex(head),
                 "topics": [_market_topics(events)]}  # fmt: skip
        logs = rpc_guard(
            f"reading logs of blocks {first}-{head}", lambda: raw_call(self.w3, "eth_getLogs", [query])
        )
        return frozenset(int(str(log["topics"][1]), 16) for log in logs if len(log["topics"]) > 1)

    def apply(self, batch: Batch) -> None:
        """Apply a batch's events and move the checkpoint in one transaction. A batch without
        events moves it in memory only, written with the next events or every
        :data:`SAVE_EMPTY_EVERY` blocks: an idle chain costs no write (and no fsync) per block, and
        a restart merely reads those empty blocks' logs again."""
        if not batch.events:
            self._unsaved = batch.checkpoint
            if batch.checkpoint.block - self._saved_block < SAVE_EMPTY_EVERY:
                return
        with self.db.transaction() as conn:
            for event in batch.events:
                _APPLY.get(event.name, _ignore)(conn, event)
            self._save_checkpoint(conn, batch.checkpoint)

    def _save_checkpoint(self, conn: sqlite3.Connection, cp: Checkpoint) -> None:
        self._unsaved, self._saved_block = None, cp.block
        conn.execute(
            "INSERT INTO chain_checkpoint (id, block, block_hash) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET block = excluded.block, block_hash = excluded.block_hash",
            (cp.block, cp.block_hash),
        )

    def _rewind(self, cp: Checkpoint) -> None:
        """Rebuild every row changed after ``cp.block`` from the views at that block; if the node
        no longer serves that block's state, follow the market again from its deployment."""
        self._rewound_to = cp.block if self._rewound_to is None else min(self._rewound_to, cp.block)
        try:
            self._rebuild_at(cp)
        except ScatterError:
            with self.db.transaction() as conn:
                for table in ("bids", "deals", "reservations", "nodes"):
                    conn.execute(f"DELETE FROM {table}")
                self._save_checkpoint(conn, EventFollower.genesis(self.deployment.block))

    def _rebuild_at(self, cp: Checkpoint) -> None:
        at = max(cp.block, self.deployment.block)
        with self.db.transaction() as conn:
            for row in conn.execute(
                "SELECT bid_id FROM bids WHERE updated_block > ?", (cp.block,)
            ).fetchall():
                self._reload_bid(conn, row[0], at)
            for row in conn.execute(
                "SELECT deal_id FROM deals WHERE updated_block > ?", (cp.block,)
            ).fetchall():
                self._reload_deal(conn, row[0], at)
            for row in conn.execute(
                "SELECT bid_id, slot FROM reservations WHERE updated_block > ?", (cp.block,)
            ).fetchall():
                self._reload_reservation(conn, row[0], row[1], at)
            for row in conn.execute(
                "SELECT role, address FROM nodes WHERE updated_block > ?", (cp.block,)
            ).fetchall():
                self._reload_node(conn, Role(row[0]), row[1], at)
            self._save_checkpoint(conn, cp)

    def _reload_bid(self, conn: sqlite3.Connection, bid_id: int, block: int) -> None:
        b = self.market.get_bid(bid_id, block=block)
        if int(b.client, 16) == 0:  # no client: the bid does not exist at this block
            conn.execute("DELETE FROM bids WHERE bid_id = ?", (bid_id,))
            return
        conn.execute(
            "UPDATE bids SET duration_epochs = ?, open_slots = ?, closed_slots = ?, updated_block = ? "
            "WHERE bid_id = ?",
            (b.duration_epochs, b.open_slots, b.closed_slots, block, bid_id),
        )

    def _reload_deal(self, conn: sqlite3.Connection, deal_id: int, block: int) -> None:
        d = self.market.get_deal(deal_id, block=block)
        if d.status == DealStatus.NONE:
            conn.execute("DELETE FROM deals WHERE deal_id = ?", (deal_id,))
            return
        c = self.market.challenge_of(deal_id, block=block)
        conn.execute(
            "UPDATE deals SET status = ?, end_epoch = ?, paid_through = ?, paid_epochs = ?, collateral = ?, "
            "failed_epoch = ?, faults = ?, challenge_open = ?, challenge_epoch = ?, challenge_due = ?, "
            "updated_block = ? WHERE deal_id = ?",
            (int(d.status), d.end_epoch, d.paid_through, d.paid_epochs, str(d.collateral), d.failed_epoch,
             d.faults, int(c.open), c.requested_epoch, c.due_epoch, block, deal_id),
        )  # fmt: skip

    def _reload_reservation(self, conn: sqlite3.Connection, bid_id: int, slot: int, block: int) -> None:
        fn = self.market.contract.functions.reservationOf(bid_id, slot)
        raw = rpc_guard(f"Market.reservationOf at block {block}", lambda: fn.call(block_identifier=block))
        r = reservation_from_named(bid_id, slot, named_output(self.market.abi, "reservationOf", raw))
        if not r.held:
            conn.execute("DELETE FROM reservations WHERE bid_id = ? AND slot = ?", (bid_id, slot))
            return
        conn.execute(
            "UPDATE reservations SET hoster = ?, expires_at = ?, updated_block = ? "
            "WHERE bid_id = ? AND slot = ?",
            (r.hoster, r.expires_at, block, bid_id, slot),
        )

    def _reload_node(self, conn: sqlite3.Connection, role: Role, address: str, block: int) -> None:
        fn = self.market.contract.functions.node(int(role), address)
        raw = rpc_guard(f"Market.node at block {block}", lambda: fn.call(block_identifier=block))
        n = named_output(self.market.abi, "node", raw)
        if NodeStatus(n["status"]) == NodeStatus.NONE:
            conn.execute("DELETE FROM nodes WHERE role = ? AND address = ?", (int(role), address))
            return
        conn.execute(
            "UPDATE nodes SET endpoint = ?, status = ?, stake = ?, capacity = ?, updated_block = ? "
            "WHERE role = ? AND address = ?",
            (n["endpoint"], int(n["status"]), str(n["stake"]), n["capacity"], block, int(role), address),
        )

    # ---------------------------------------------------------------- reads

    def bid(self, bid_id: int) -> IndexedBid | None:
        row = self.db.query_one("SELECT * FROM bids WHERE bid_id = ?", (bid_id,))
        return _bid(row) if row else None

    def open_bids(self) -> Iterator[IndexedBid]:
        for row in self.db.query("SELECT * FROM bids WHERE open_slots != 0 ORDER BY bid_id"):
            yield _bid(row)

    def deal(self, deal_id: int) -> IndexedDeal | None:
        row = self.db.query_one("SELECT * FROM deals WHERE deal_id = ?", (deal_id,))
        return _deal(row) if row else None

    def deals(self, *, hoster: str | None = None, status: DealStatus | None = None) -> list[IndexedDeal]:
        sql, params = "SELECT * FROM deals WHERE 1 = 1", list[object]()
        if hoster is not None:
            sql += " AND hoster = ?"
            params.append(Web3.to_checksum_address(hoster))
        if status is not None:
            sql += " AND status = ?"
            params.append(int(status))
        return [_deal(r) for r in self.db.query(sql + " ORDER BY deal_id", params)]

    def deals_of_bid(self, bid_id: int) -> list[IndexedDeal]:
        return [
            _deal(r)
            for r in self.db.query("SELECT * FROM deals WHERE bid_id = ? ORDER BY deal_id", (bid_id,))
        ]

    def open_challenges(self, *, hoster: str | None = None) -> list[IndexedDeal]:
        """Active deals with an open challenge (of ``hoster`` if given), earliest due first."""
        sql = "SELECT * FROM deals WHERE status = 1 AND challenge_open = 1"
        params: list[object] = []
        if hoster is not None:
            sql += " AND hoster = ?"
            params.append(Web3.to_checksum_address(hoster))
        return [_deal(r) for r in self.db.query(sql + " ORDER BY challenge_due, deal_id", params)]

    def reservation(self, bid_id: int, slot: int) -> IndexedReservation | None:
        row = self.db.query_one("SELECT * FROM reservations WHERE bid_id = ? AND slot = ?", (bid_id, slot))
        return _reservation_row(row) if row else None

    def reservations(
        self, *, hoster: str | None = None, bid_id: int | None = None
    ) -> list[IndexedReservation]:
        sql, params = "SELECT * FROM reservations WHERE 1 = 1", list[object]()
        if hoster is not None:
            sql += " AND hoster = ?"
            params.append(Web3.to_checksum_address(hoster))
        if bid_id is not None:
            sql += " AND bid_id = ?"
            params.append(bid_id)
        return [_reservation_row(r) for r in self.db.query(sql + " ORDER BY bid_id, slot", params)]

    def nodes(self, role: Role, *, active_only: bool = True) -> list[IndexedNode]:
        sql = "SELECT * FROM nodes WHERE role = ?" + (" AND status = 1" if active_only else "")
        return [_node(r) for r in self.db.query(sql + " ORDER BY address", (int(role),))]

    def node(self, role: Role, address: str) -> IndexedNode | None:
        row = self.db.query_one(
            "SELECT * FROM nodes WHERE role = ? AND address = ?",
            (int(role), Web3.to_checksum_address(address)),
        )
        return _node(row) if row else None


# ------------------------------------------------------------- row mapping


def _bid(row: sqlite3.Row) -> IndexedBid:
    return IndexedBid(
        bid_id=row["bid_id"],
        client=row["client"],
        size=row["size"],
        slot_count=row["slot_count"],
        price_per_epoch=int(row["price_per_epoch"]),
        duration_epochs=row["duration_epochs"],
        cids=[bytes.fromhex(c) for c in json.loads(row["cids"])],
        roots=[bytes.fromhex(c) for c in json.loads(row["roots"])],
        origins=list(json.loads(row["origins"])),
        open_slots=row["open_slots"],
        closed_slots=row["closed_slots"],
        posted_block=row["posted_block"],
    )


def _deal(row: sqlite3.Row) -> IndexedDeal:
    return IndexedDeal(
        deal_id=row["deal_id"],
        bid_id=row["bid_id"],
        slot=row["slot"],
        hoster=row["hoster"],
        status=DealStatus(row["status"]),
        start_epoch=row["start_epoch"],
        end_epoch=row["end_epoch"],
        paid_through=row["paid_through"],
        paid_epochs=row["paid_epochs"],
        collateral=int(row["collateral"]),
        failed_epoch=row["failed_epoch"],
        faults=row["faults"],
        challenge_open=bool(row["challenge_open"]),
        challenge_epoch=row["challenge_epoch"],
        challenge_due=row["challenge_due"],
    )


def _reservation_row(row: sqlite3.Row) -> IndexedReservation:
    return IndexedReservation(row["bid_id"], row["slot"], row["hoster"], row["expires_at"])


def _node(row: sqlite3.Row) -> IndexedNode:
    return IndexedNode(
        role=Role(row["role"]),
        address=row["address"],
        endpoint=row["endpoint"],
        status=NodeStatus(row["status"]),
        stake=int(row["stake"]),
        capacity=row["capacity"],
    )


# ------------------------------------------------------ event application
#
# Each handler reads only the event's own args (no RPC: fast backfill).


def _ignore(conn: sqlite3.Connection, e: ChainEvent) -> None:
    """Events the index does not track (Credited, Withdrawn, ProofSkipped, ...)."""


def _bid_posted(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    roots = [bytes(r).hex() for r in a["roots"]]
    conn.execute(
        "INSERT OR REPLACE INTO bids VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            a["bidId"], a["client"], a["size"], a["slotCount"], str(a["pricePerEpoch"]), a["durationEpochs"],
            json.dumps([bytes(c).hex() for c in a["cids"]]), json.dumps(roots),
            json.dumps(list(a["origins"])),
            (1 << a["slotCount"]) - 1, e.block, e.block,
        ),
    )  # fmt: skip


def _slot_bits(conn: sqlite3.Connection, bid_id: int, block: int, *, open_: int = 0, close: int = 0,
               clear: int = 0) -> None:  # fmt: skip
    conn.execute(
        "UPDATE bids SET open_slots = (open_slots & ~?) | ?, closed_slots = closed_slots | ?, "
        "updated_block = ? WHERE bid_id = ?",
        (clear | close, open_, close, block, bid_id),
    )


def _drop_reservation(conn: sqlite3.Connection, bid_id: int, slot: int) -> None:
    conn.execute("DELETE FROM reservations WHERE bid_id = ? AND slot = ?", (bid_id, slot))


def _slot_reserved(conn: sqlite3.Connection, e: ChainEvent) -> None:
    bid_id, slot = e.args["bidId"], e.args["slot"]
    expires = e.args["expiresAt"]
    conn.execute(
        "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?, ?)",
        (bid_id, slot, e.args["hoster"], expires, e.block),
    )
    conn.execute("UPDATE bids SET updated_block = ? WHERE bid_id = ?", (e.block, bid_id))


def _reservation_released(conn: sqlite3.Connection, e: ChainEvent) -> None:
    _drop_reservation(conn, e.args["bidId"], e.args["slot"])


def _slot_filled(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "INSERT OR REPLACE INTO deals (deal_id, bid_id, slot, hoster, status, start_epoch, end_epoch, "
        "paid_through, paid_epochs, collateral, updated_block) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (a["dealId"], a["bidId"], a["slot"], a["hoster"], int(DealStatus.ACTIVE), a["startEpoch"],
         a["endEpoch"], a["startEpoch"] - 1, str(a["collateral"]), e.block),
    )  # fmt: skip
    _drop_reservation(conn, a["bidId"], a["slot"])
    _slot_bits(conn, a["bidId"], e.block, clear=1 << a["slot"])


def _slot_cancelled(conn: sqlite3.Connection, e: ChainEvent) -> None:
    _drop_reservation(conn, e.args["bidId"], e.args["slot"])
    _slot_bits(conn, e.args["bidId"], e.block, close=1 << e.args["slot"])


def _slot_reopened(conn: sqlite3.Connection, e: ChainEvent) -> None:
    _slot_bits(conn, e.args["bidId"], e.block, open_=1 << e.args["slot"])


def _bid_extended(conn: sqlite3.Connection, e: ChainEvent) -> None:
    """Open slots' budgets grew (read them with ``slotEpochs``); live deals do not change."""
    conn.execute("UPDATE bids SET updated_block = ? WHERE bid_id = ?", (e.block, e.args["bidId"]))


def _deal_extended(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "UPDATE deals SET end_epoch = ?, collateral = CAST(CAST(collateral AS INTEGER) + ? AS TEXT), "
        "updated_block = ? WHERE deal_id = ?",
        (a["endEpoch"], int(a["addedCollateral"]), e.block, a["dealId"]),
    )


def _deal_settled(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "UPDATE deals SET paid_through = ?, paid_epochs = paid_epochs + ?, updated_block = ? "
        "WHERE deal_id = ?",
        (a["toEpoch"], a["toEpoch"] - a["fromEpoch"] + 1, e.block, a["dealId"]),
    )


def _proof_requested(conn: sqlite3.Connection, e: ChainEvent) -> None:
    epoch, due = e.args["challengeEpoch"], e.args["dueEpoch"]
    conn.execute(
        "UPDATE deals SET challenge_open = 1, challenge_epoch = ?, challenge_due = ?, updated_block = ? "
        "WHERE deal_id = ?",
        (epoch, due, e.block, e.args["dealId"]),
    )


def _proof_accepted(conn: sqlite3.Connection, e: ChainEvent) -> None:
    conn.execute(
        "UPDATE deals SET challenge_open = 0, updated_block = ? WHERE deal_id = ?",
        (e.block, e.args["dealId"]),
    )


def _proof_missed(conn: sqlite3.Connection, e: ChainEvent) -> None:
    """A fault: collateral slashed, failedEpoch set; a new challenge follows unless the deal ended
    (its own ProofRequested / DealFaulted event)."""
    deal_id, slashed = e.args["dealId"], int(e.args["slashed"])
    conn.execute(
        "UPDATE deals SET challenge_open = 0, failed_epoch = challenge_epoch, faults = ?, "
        "collateral = CAST(MAX(0, CAST(collateral AS INTEGER) - ?) AS TEXT), updated_block = ? "
        "WHERE deal_id = ?",
        (e.args["faults"], slashed, e.block, deal_id),
    )
    row = conn.execute("SELECT hoster FROM deals WHERE deal_id = ?", (deal_id,)).fetchone()
    if row and slashed:
        _stake_delta(conn, row[0], -slashed, e.block)


def _stake_delta(conn: sqlite3.Connection, hoster: str, delta: int, block: int) -> None:
    row = conn.execute("SELECT stake FROM nodes WHERE role = 0 AND address = ?", (hoster,)).fetchone()
    if row:
        conn.execute(
            "UPDATE nodes SET stake = ?, updated_block = ? WHERE role = 0 AND address = ?",
            (str(int(row[0]) + delta), block, hoster),
        )


def _deal_ended(status: DealStatus) -> Any:
    def apply(conn: sqlite3.Connection, e: ChainEvent) -> None:
        deal_id = e.args["dealId"]
        conn.execute(
            "UPDATE deals SET status = ?, challenge_open = 0, updated_block = ? WHERE deal_id = ?",
            (int(status), e.block, deal_id),
        )
        if status == DealStatus.FINISHED:
            row = conn.execute("SELECT bid_id, slot FROM deals WHERE deal_id = ?", (deal_id,)).fetchone()
            if row:
                _slot_bits(conn, row[0], e.block, close=1 << row[1])

    return apply


def _node_joined(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            a["role"],
            a["account"],
            a["endpoint"],
            int(NodeStatus.ACTIVE),
            str(a["stake"]),
            a["capacity"],
            e.block,
        ),
    )


def _node_updated(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "UPDATE nodes SET endpoint = ?, capacity = ?, updated_block = ? WHERE role = ? AND address = ?",
        (a["endpoint"], a["capacity"], e.block, a["role"], a["account"]),
    )


def _stake_added(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "UPDATE nodes SET stake = ?, updated_block = ? WHERE role = ? AND address = ?",
        (str(a["stake"]), e.block, a["role"], a["account"]),
    )


def _validator_slashed(conn: sqlite3.Connection, e: ChainEvent) -> None:
    validator, amount = e.args["validator"], int(e.args["amount"])
    row = conn.execute("SELECT stake FROM nodes WHERE role = 1 AND address = ?", (validator,)).fetchone()
    if row:
        conn.execute(
            "UPDATE nodes SET stake = ?, updated_block = ? WHERE role = 1 AND address = ?",
            (str(max(0, int(row[0]) - amount)), e.block, validator),
        )


def _exit_announced(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "UPDATE nodes SET status = ?, updated_block = ? WHERE role = ? AND address = ?",
        (int(NodeStatus.EXITING), e.block, a["role"], a["account"]),
    )


def _node_exited(conn: sqlite3.Connection, e: ChainEvent) -> None:
    conn.execute("DELETE FROM nodes WHERE role = ? AND address = ?", (e.args["role"], e.args["account"]))


_APPLY = {
    "BidPosted": _bid_posted,
    "SlotReserved": _slot_reserved,
    "ReservationReleased": _reservation_released,
    "SlotFilled": _slot_filled,
    "SlotCancelled": _slot_cancelled,
    "SlotReopened": _slot_reopened,
    "BidExtended": _bid_extended,
    "DealExtended": _deal_extended,
    "DealSettled": _deal_settled,
    "ProofRequested": _proof_requested,
    "ProofAccepted": _proof_accepted,
    "ProofMissed": _proof_missed,
    "DealFaulted": _deal_ended(DealStatus.FAULTED),
    "DealFinished": _deal_ended(DealStatus.FINISHED),
    "ValidatorSlashed": _validator_slashed,
    "NodeJoined": _node_joined,
    "NodeUpdated": _node_updated,
    "StakeAdded": _stake_added,
    "ExitAnnounced": _exit_announced,
    "NodeExited": _node_exited,
}
