"""A local index of the market, kept in the daemon's SQLite database.

Both daemons need the same view of the chain: bids with their CIDs and
origins (which live only in event logs), deals, and the registered nodes with
their endpoints. :class:`MarketIndex` applies each confirmed batch of events
from :class:`~scatter.chain.follower.EventFollower` and moves the checkpoint
in the same SQLite transaction, so a crash never applies a batch twice or
loses one. Events update the rows directly (fast backfill, no RPC per event).

After a reorg the follower rewinds to block B. Every row changed after B is
then rebuilt from the contract's views *at block B* (nodes keep that much
state), and rows created after B are dropped; replaying events from B + 1
brings the index back to the canonical chain.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from scatter.chain.artifacts import load_artifact
from scatter.chain.deployments import Deployment
from scatter.chain.follower import Batch, ChainEvent, Checkpoint, EventFollower, Rewind
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.tx import rpc_guard
from scatter.daemon.state import Migration, StateDB

MIGRATIONS: list[Migration] = [
    (
        "market_index",
        1,
        [
            "CREATE TABLE chain_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), block INTEGER NOT NULL, "
            "block_hash BLOB NOT NULL)",
            # wei amounts are TEXT: they exceed SQLite's 64-bit integers
            "CREATE TABLE bids (bid_id INTEGER PRIMARY KEY, client TEXT NOT NULL, size INTEGER NOT NULL, "
            "slot_count INTEGER NOT NULL, price_per_epoch TEXT NOT NULL, duration_epochs INTEGER NOT NULL, "
            "cids TEXT NOT NULL, origins TEXT NOT NULL, open_slots INTEGER NOT NULL, "
            "closed_slots INTEGER NOT NULL, posted_block INTEGER NOT NULL, updated_block INTEGER NOT NULL)",
            "CREATE TABLE deals (deal_id INTEGER PRIMARY KEY, bid_id INTEGER NOT NULL, "
            "slot INTEGER NOT NULL, "
            "hoster TEXT NOT NULL, status INTEGER NOT NULL, start_epoch INTEGER NOT NULL, "
            "slot_offset INTEGER NOT NULL, paid_through INTEGER NOT NULL, paid_epochs INTEGER NOT NULL, "
            "collateral TEXT NOT NULL, updated_block INTEGER NOT NULL)",
            "CREATE INDEX deals_by_hoster ON deals (hoster, status)",
            "CREATE INDEX deals_by_status ON deals (status)",
            "CREATE TABLE nodes (role INTEGER NOT NULL, address TEXT NOT NULL, endpoint TEXT NOT NULL, "
            "status INTEGER NOT NULL, stake TEXT NOT NULL, capacity INTEGER NOT NULL, "
            "updated_block INTEGER NOT NULL, PRIMARY KEY (role, address))",
        ],
    )
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
    origins: list[str]
    open_slots: int
    closed_slots: int
    posted_block: int

    def cid_of_slot(self, slot: int) -> bytes:
        return self.cids[0] if len(self.cids) == 1 else self.cids[slot]

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
    slot_offset: int
    paid_through: int
    paid_epochs: int
    collateral: int

    def end_epoch(self, duration_epochs: int) -> int:
        return self.start_epoch + duration_epochs - self.slot_offset - 1


@dataclass(frozen=True)
class IndexedNode:
    role: Role
    address: str
    endpoint: str
    status: NodeStatus
    stake: int
    capacity: int


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

    # ------------------------------------------------------------ following

    def checkpoint(self) -> Checkpoint:
        row = self.db.query_one("SELECT block, block_hash FROM chain_checkpoint WHERE id = 1")
        if row is None:
            return EventFollower.genesis(self.deployment.block)
        return Checkpoint(row["block"], bytes(row["block_hash"]))

    def sync(self, *, max_batches: int | None = None) -> list[ChainEvent]:
        """Apply confirmed batches until caught up; returns the events applied (in order)."""
        applied: list[ChainEvent] = []
        batches = 0
        while max_batches is None or batches < max_batches:
            result = self.follower.poll(self.checkpoint())
            if result is None:
                break
            if isinstance(result, Rewind):
                self._rewind(result.checkpoint)
                continue
            self.apply(result)
            applied.extend(result.events)
            batches += 1
        return applied

    def apply(self, batch: Batch) -> None:
        with self.db.transaction() as conn:
            for event in batch.events:
                _APPLY.get(event.name, _ignore)(conn, event)
            self._save_checkpoint(conn, batch.checkpoint)

    def _save_checkpoint(self, conn: sqlite3.Connection, cp: Checkpoint) -> None:
        conn.execute(
            "INSERT INTO chain_checkpoint (id, block, block_hash) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET block = excluded.block, block_hash = excluded.block_hash",
            (cp.block, cp.block_hash),
        )

    def _rewind(self, cp: Checkpoint) -> None:
        """Rebuild every row changed after ``cp.block`` from the views at that block."""
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
                "SELECT role, address FROM nodes WHERE updated_block > ?", (cp.block,)
            ).fetchall():
                self._reload_node(conn, Role(row[0]), row[1], at)
            self._save_checkpoint(conn, cp)

    def _view(self, name: str, *args: Any, block: int) -> Any:
        fn = getattr(self.market.contract.functions, name)(*args)
        return rpc_guard(f"Market.{name} at block {block}", lambda: fn.call(block_identifier=block))

    def _reload_bid(self, conn: sqlite3.Connection, bid_id: int, block: int) -> None:
        b = self._view("getBid", bid_id, block=block)
        if int(b[0], 16) == 0:  # no client: the bid does not exist at this block
            conn.execute("DELETE FROM bids WHERE bid_id = ?", (bid_id,))
            return
        conn.execute(
            "UPDATE bids SET duration_epochs = ?, open_slots = ?, closed_slots = ?, updated_block = ? "
            "WHERE bid_id = ?",
            (b[4], b[5], b[6], block, bid_id),
        )

    def _reload_deal(self, conn: sqlite3.Connection, deal_id: int, block: int) -> None:
        d = self._view("getDeal", deal_id, block=block)
        if DealStatus(d[3]) == DealStatus.NONE:
            conn.execute("DELETE FROM deals WHERE deal_id = ?", (deal_id,))
            return
        conn.execute(
            "UPDATE deals SET status = ?, paid_through = ?, paid_epochs = ?, updated_block = ? "
            "WHERE deal_id = ?",
            (int(d[3]), d[5], d[6], block, deal_id),
        )

    def _reload_node(self, conn: sqlite3.Connection, role: Role, address: str, block: int) -> None:
        n = self._view("node", int(role), address, block=block)
        if NodeStatus(n[4]) == NodeStatus.NONE:
            conn.execute("DELETE FROM nodes WHERE role = ? AND address = ?", (int(role), address))
            return
        conn.execute(
            "UPDATE nodes SET endpoint = ?, status = ?, stake = ?, capacity = ?, updated_block = ? "
            "WHERE role = ? AND address = ?",
            (n[5], int(n[4]), str(n[0]), n[2], block, int(role), address),
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
        slot_offset=row["slot_offset"],
        paid_through=row["paid_through"],
        paid_epochs=row["paid_epochs"],
        collateral=int(row["collateral"]),
    )


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


def _ignore(conn: sqlite3.Connection, e: ChainEvent) -> None:
    """Events the index does not track (Credited, Withdrawn)."""


def _bid_posted(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "INSERT OR REPLACE INTO bids VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            a["bidId"], a["client"], a["size"], a["slotCount"], str(a["pricePerEpoch"]), a["durationEpochs"],
            json.dumps([bytes(c).hex() for c in a["cids"]]), json.dumps(list(a["origins"])),
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


def _slot_accepted(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    row = conn.execute("SELECT duration_epochs FROM bids WHERE bid_id = ?", (a["bidId"],)).fetchone()
    budget = a["endEpoch"] - a["startEpoch"] + 1
    offset = (row[0] - budget) if row else 0
    conn.execute(
        "INSERT OR REPLACE INTO deals VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (a["dealId"], a["bidId"], a["slot"], a["hoster"], int(DealStatus.ACTIVE), a["startEpoch"], offset,
         a["startEpoch"] - 1, str(a["collateral"]), e.block),
    )  # fmt: skip
    _slot_bits(conn, a["bidId"], e.block, clear=1 << a["slot"])


def _slot_cancelled(conn: sqlite3.Connection, e: ChainEvent) -> None:
    _slot_bits(conn, e.args["bidId"], e.block, close=1 << e.args["slot"])


def _slot_reopened(conn: sqlite3.Connection, e: ChainEvent) -> None:
    _slot_bits(conn, e.args["bidId"], e.block, open_=1 << e.args["slot"])


def _bid_extended(conn: sqlite3.Connection, e: ChainEvent) -> None:
    conn.execute(
        "UPDATE bids SET duration_epochs = ?, updated_block = ? WHERE bid_id = ?",
        (e.args["durationEpochs"], e.block, e.args["bidId"]),
    )


def _deal_settled(conn: sqlite3.Connection, e: ChainEvent) -> None:
    a = e.args
    conn.execute(
        "UPDATE deals SET paid_through = ?, paid_epochs = paid_epochs + ?, updated_block = ? "
        "WHERE deal_id = ?",
        (a["toEpoch"], a["toEpoch"] - a["fromEpoch"] + 1, e.block, a["dealId"]),
    )


def _deal_ended(status: DealStatus) -> Any:
    def apply(conn: sqlite3.Connection, e: ChainEvent) -> None:
        deal_id = e.args["dealId"]
        conn.execute(
            "UPDATE deals SET status = ?, updated_block = ? WHERE deal_id = ?",
            (int(status), e.block, deal_id),
        )
        if status == DealStatus.FINISHED:
            row = conn.execute("SELECT bid_id, slot FROM deals WHERE deal_id = ?", (deal_id,)).fetchone()
            if row:
                _slot_bits(conn, row[0], e.block, close=1 << row[1])
        if status == DealStatus.FAULTED:  # the collateral left the hoster's stake
            hoster = e.args["hoster"]
            row = conn.execute("SELECT stake FROM nodes WHERE role = 0 AND address = ?", (hoster,)).fetchone()
            if row:
                conn.execute(
                    "UPDATE nodes SET stake = ?, updated_block = ? WHERE role = 0 AND address = ?",
                    (str(int(row[0]) - e.args["slashed"]), e.block, hoster),
                )

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
    "SlotAccepted": _slot_accepted,
    "SlotCancelled": _slot_cancelled,
    "SlotReopened": _slot_reopened,
    "BidExtended": _bid_extended,
    "DealSettled": _deal_settled,
    "DealFaulted": _deal_ended(DealStatus.FAULTED),
    "DealFinished": _deal_ended(DealStatus.FINISHED),
    "NodeJoined": _node_joined,
    "NodeUpdated": _node_updated,
    "StakeAdded": _stake_added,
    "ExitAnnounced": _exit_announced,
    "NodeExited": _node_exited,
}
