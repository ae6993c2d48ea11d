"""A durable journal of the hoster's transactions: no transaction is ever sent twice.

Each transaction is built (gas estimated: a revert costs nothing and is raised
here), given the next nonce, signed, and **written to SQLite before it is
broadcast**. After a crash, :meth:`TxJournal.reconcile` looks at every row not
yet final: a receipt settles it; otherwise the very same signed bytes are
broadcast again (same hash: the node treats it as one transaction); a nonce
the chain has used for something else marks it dropped. Callers ask
:meth:`TxJournal.live` before sending, so there is at most one transaction in
flight per (kind, subject): one reserve or fill per slot, one settlement per deal.

A transaction stuck because its fees are too low (the base fee rose above its
``maxFeePerGas``, or its tip is below the network's) is **replaced**: the same
nonce, call, value and gas, signed again with both fees raised to the current
ones and by at least 12.5 % (nodes want 10 % to replace), and recorded as a new
row of the same (kind, subject) before it is broadcast. The old row stays
``sent``; whichever of the two the chain mines is found by its receipt and the
other is dropped as replaced. ``max_fee_per_gas_cap`` bounds what a replacement
may pay: above it, the row is re-broadcast unchanged and waits for fees to fall
(a node that refuses it for its fees meanwhile, as anvil does below the base fee,
does not make it dropped).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from scatter.chain.tx import rpc_guard
from scatter.daemon.logs import log_event
from scatter.daemon.state import Migration, StateDB
from scatter.errors import ScatterError
from scatter.hoster.failpoints import crash_point

MIGRATIONS: list[Migration] = [
    (
        "hoster_txjournal",
        1,
        [
            "CREATE TABLE txs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, "
            "nonce INTEGER NOT NULL, tx_hash BLOB NOT NULL, raw BLOB NOT NULL, status TEXT NOT NULL, "
            "block INTEGER, error TEXT, created REAL NOT NULL, updated REAL NOT NULL)",
            "CREATE INDEX txs_by_subject ON txs (kind, subject, status)",
            "CREATE INDEX txs_by_status ON txs (status)",
        ],
    ),
    ("hoster_txjournal", 2, ["ALTER TABLE txs ADD COLUMN block_hash BLOB"]),
]
REBROADCAST_AFTER = 30.0  # seconds before a sent, unmined transaction is broadcast again (or replaced)
# A replacement raises both fees by at least old * BUMP_NUM // BUMP_DEN + 1 (geth and anvil want +10 %).
BUMP_NUM, BUMP_DEN = 9, 8
# How nodes refuse a transaction whose fees are too low for now (it may fit later: not dropped).
FEE_TOO_LOW = ("less than block base fee", "underpriced", "fee cap too low", "feecap too low")

log = logging.getLogger("scatter.hoster")

NEEDS_LOGS = frozenset({"reserve", "fill"})  # kinds whose callers read the receipt's events
PENDING = ("signed", "sent")  # may still be mined ("sent": broadcast again by reconcile)


@dataclass(frozen=True)
class TxRecord:
    id: int
    kind: str
    subject: str
    nonce: int
    tx_hash: bytes
    status: str
    block: int | None
    error: str | None


def _record(row: sqlite3.Row) -> TxRecord:
    return TxRecord(row["id"], row["kind"], row["subject"], row["nonce"], bytes(row["tx_hash"]),
                    row["status"], row["block"], row["error"])  # fmt: skip


class TxJournal:
    """Signs and sends the account's transactions, recording each before it leaves."""

    def __init__(
        self, db: StateDB, w3: Web3, account: LocalAccount, *, max_fee_per_gas_cap: int | None = None,
        rebroadcast_after: float = REBROADCAST_AFTER, on_bump: Callable[[TxRecord], None] | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.w3 = w3
        self.account = account
        self.max_fee_per_gas_cap = max_fee_per_gas_cap  # wei; None: replacements pay what it takes
        self.rebroadcast_after = rebroadcast_after
        self.on_bump = on_bump  # called with each replacement recorded and broadcast
        self._capped: set[int] = set()  # rows whose replacement the cap prevented (warned once)
        self._lock = threading.Lock()  # nonces are handed out one at a time
        self._nonce: int | None = None  # next nonce; this journal is the key's only sender
        self._fees: tuple[float, dict[str, int]] | None = None
        self._scan_from: int | None = None  # next block whose receipts reconcile reads
        self._chain_id: int | None = None
        db.migrate(MIGRATIONS)

    @property
    def address(self) -> str:
        return str(self.account.address)

    # ----------------------------------------------------------------- reads

    def live(self, kind: str, subject: str, *, confirmed_block: int | None = None) -> TxRecord | None:
        """A transaction of (kind, subject) that is pending, or mined above ``confirmed_block``."""
        rows = self.db.query(
            "SELECT * FROM txs WHERE kind = ? AND subject = ? AND status IN ('signed', 'sent', 'mined') "
            "ORDER BY id DESC",
            (kind, subject),
        )
        for row in rows:
            rec = _record(row)
            if rec.status in PENDING:
                return rec
            if confirmed_block is None or rec.block is None or rec.block > confirmed_block:
                return rec
        return None

    def live_subjects(self, kind: str, *, confirmed_block: int) -> set[str]:
        """Subjects of ``kind`` with a transaction pending or mined above ``confirmed_block``."""
        rows = self.db.query(
            "SELECT subject FROM txs WHERE kind = ? AND (status IN ('signed', 'sent') "
            "OR (status = 'mined' AND block > ?))",
            (kind, confirmed_block),
        )
        return {r[0] for r in rows}

    def last(self, kind: str, subject: str) -> TxRecord | None:
        row = self.db.query_one(
            "SELECT * FROM txs WHERE kind = ? AND subject = ? ORDER BY id DESC LIMIT 1", (kind, subject)
        )
        return _record(row) if row else None

    def pending(self) -> list[TxRecord]:
        return [_record(r) for r in self.db.query("SELECT * FROM txs WHERE status IN ('signed', 'sent')")]

    # ----------------------------------------------------------------- writes

    def send(self, kind: str, subject: str, fn: ContractFunction, value: int = 0) -> TxRecord:
        """Build, sign, record, then broadcast ``fn``; a revert in estimation raises ContractError."""
        label = f"{kind} {subject}"
        params: TxParams = {"from": self.account.address, "value": Wei(value)}
        params.update(self._send_fees(label))  # type: ignore[typeddict-item]
        tx: dict[str, Any] = dict(rpc_guard(label, lambda: fn.build_transaction(params)))
        return self._sign_record_broadcast(kind, subject, tx, label)

    def _sign_record_broadcast(self, kind: str, subject: str, tx: dict[str, Any], label: str) -> TxRecord:
        with self._lock:
            tx["nonce"] = self._next_nonce(label)
            signed = self.account.sign_transaction(tx)
            row_id = self._insert(kind, subject, tx["nonce"], signed)
            crash_point(f"{kind}_signed")
            self._broadcast(row_id, bytes(signed.raw_transaction), label)
        crash_point(f"{kind}_sent")
        return self._row(row_id)

    def _insert(self, kind: str, subject: str, nonce: int, signed: SignedTransaction) -> int:
        """Record a signed transaction as 'signed': always before it is broadcast."""
        now = time.time()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO txs (kind, subject, nonce, tx_hash, raw, status, created, updated) "
                "VALUES (?, ?, ?, ?, ?, 'signed', ?, ?)",
                (kind, subject, nonce, bytes(signed.hash), bytes(signed.raw_transaction), now, now),
            )
            return int(cur.lastrowid or 0)

    def _row(self, row_id: int) -> TxRecord:
        row = self.db.query_one("SELECT * FROM txs WHERE id = ?", (row_id,))
        assert row is not None
        return _record(row)

    def send_call(
        self, kind: str, subject: str, to: str, data: bytes, *, gas: int, value: int = 0
    ) -> TxRecord:
        """The hot path for pre-encoded calls with a known gas limit: no estimation, no web3 building.

        The caller must have checked that the call succeeds (a revert is mined and costs its gas).
        """
        label = f"{kind} {subject}"
        if self._chain_id is None:
            self._chain_id = int(rpc_guard(label, lambda: self.w3.eth.chain_id))
        tx: dict[str, Any] = {"type": 2, "chainId": self._chain_id, "to": to, "data": data, "value": value,
                              "gas": gas, **self._send_fees(label)}  # fmt: skip
        return self._sign_record_broadcast(kind, subject, tx, label)

    def _send_fees(self, label: str) -> dict[str, int]:
        """The fees of a new transaction: the current ones, held at ``max_fee_per_gas_cap``
        (above it the transaction waits in the pool until the base fee falls)."""
        fees = self._fee_fields(label)
        cap = self.max_fee_per_gas_cap
        if cap is None or fees["maxFeePerGas"] <= cap:
            return fees
        return {"maxFeePerGas": cap, "maxPriorityFeePerGas": min(fees["maxPriorityFeePerGas"], cap)}

    def _fee_fields(self, label: str) -> dict[str, int]:
        """EIP-1559 fees, read at most every few seconds: twice the base fee plus the suggested tip."""
        now = time.monotonic()
        if self._fees is None or now - self._fees[0] > 3.0:
            block = rpc_guard(label, lambda: self.w3.eth.get_block("latest"))
            base = int(block.get("baseFeePerGas") or 0)
            tip = int(rpc_guard(label, lambda: self.w3.eth.max_priority_fee))
            self._fees = (now, {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip})
        return self._fees[1]

    def _next_nonce(self, label: str) -> int:
        if self._nonce is None:
            chain = int(
                rpc_guard(label, lambda: self.w3.eth.get_transaction_count(self.account.address, "pending"))
            )
            row = self.db.query_one("SELECT MAX(nonce) FROM txs WHERE status IN ('signed', 'sent')")
            mine = row[0] + 1 if row is not None and row[0] is not None else 0
            self._nonce = max(chain, mine)
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def _broadcast(self, row_id: int, raw: bytes, label: str, *, fees_may_fall: bool = False) -> bool:
        """Send ``raw``; True if the node has it. A refusal drops the row and raises, except
        that with ``fees_may_fall`` (reconcile sending it again) a refusal for fees too low
        (some nodes evict and refuse what is below the base fee) keeps it: False."""
        try:
            rpc_guard(label, lambda: self.w3.eth.send_raw_transaction(raw))
        except Exception as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text or "nonce too low" in text:
                pass  # the node has it (or has mined it): the receipt will tell
            elif fees_may_fall and any(m in text for m in FEE_TOO_LOW):
                log_event(log, "transaction waits for lower fees", logging.DEBUG, label=label,
                          error=str(exc).splitlines()[0][:300])  # fmt: skip
                return False
            elif isinstance(exc, (ConnectionError, TimeoutError)):
                raise  # stays 'signed': reconcile broadcasts it again
            else:
                self._set(row_id, "dropped", error=str(exc).splitlines()[0][:300])
                self._nonce = None  # re-read: the dropped nonce is free again
                raise
        return True

    def _set(self, row_id: int, status: str, *, block: int | None = None, error: str | None = None,
             only_from: tuple[str, ...] | None = None, block_hash: bytes | None = None) -> None:  # fmt: skip
        sql = (
            "UPDATE txs SET status = ?, block = COALESCE(?, block), error = COALESCE(?, error), updated = ?, "
        )
        sql += "block_hash = COALESCE(?, block_hash) WHERE id = ?"
        args: list[object] = [status, block, error, time.time(), block_hash, row_id]
        if only_from:
            sql += f" AND status IN ({','.join('?' * len(only_from))})"
            args.extend(only_from)
        with self.db.transaction() as conn:
            conn.execute(sql, args)

    def receipt(self, rec: TxRecord) -> TxReceipt | None:
        try:
            return rpc_guard(
                f"receipt of {rec.kind} {rec.subject}",
                lambda: self.w3.eth.get_transaction_receipt(HexBytes(rec.tx_hash)),
            )
        except TransactionNotFound:
            return None
        except Exception as exc:  # some nodes answer "unknown transaction" as an RPC error
            if isinstance(exc.__cause__, (TransactionNotFound, Web3RPCError)):
                return None
            raise

    def _mined(self, rec: TxRecord, receipt: TxReceipt) -> None:
        status = "mined" if receipt["status"] == 1 else "reverted"
        self._set(rec.id, status, block=int(receipt["blockNumber"]), block_hash=bytes(receipt["blockHash"]))

    def _block_receipts(self, number: int) -> list[Any] | None:
        """All receipts of one block (``eth_getBlockReceipts``), or None if the node lacks it."""
        try:
            result = rpc_guard(
                f"receipts of block {number}",
                lambda: self.w3.provider.make_request("eth_getBlockReceipts", [hex(number)]),  # type: ignore[arg-type]
            )
        except ScatterError:
            return None
        receipts = result.get("result") if isinstance(result, dict) else None
        return receipts if isinstance(receipts, list) else None

    def _scan_receipts(self, wanted: set[bytes]) -> dict[bytes, TxReceipt]:
        """Status, block and block hash of ``wanted`` transactions mined since the last scan:
        one ``eth_getBlockReceipts`` per new block instead of one lookup per transaction."""
        head = int(rpc_guard("reading the block number", lambda: self.w3.eth.block_number))
        start, self._scan_from = self._scan_from, head + 1
        found: dict[bytes, TxReceipt] = {}
        if start is None or head - start > 256:
            return found  # first pass, or far behind: per-transaction lookups
        for number in range(start, head + 1):
            receipts = self._block_receipts(number)
            if receipts is None:
                return found
            for r in receipts:
                tx_hash = bytes.fromhex(str(r["transactionHash"])[2:])
                if tx_hash in wanted:
                    found[tx_hash] = cast(TxReceipt, {
                        "status": int(r["status"], 16), "blockNumber": int(r["blockNumber"], 16),
                        "blockHash": HexBytes(r["blockHash"]), "transactionHash": HexBytes(tx_hash),
                    })  # fmt: skip
        return found

    def reconcile(self) -> list[tuple[TxRecord, TxReceipt | None]]:
        """Settle every pending row from the chain; returns the rows that became final.

        Rows whose nonce the chain has used are mined (or replaced): their receipts come
        from the blocks since the last pass. Of the rows of a nonce still open, the latest
        signed one is acted on: broadcast if never sent or no longer in the node's pool;
        if sent long ago and still unmined, replaced with higher fees when its fees are
        below the current ones (see :meth:`_bump`), otherwise broadcast again byte for byte.
        """
        done: list[tuple[TxRecord, TxReceipt | None]] = []
        with self._lock:
            self._nonce = None  # the first send after each pass reads the chain's nonce again
        rows = self.db.query("SELECT * FROM txs WHERE status IN ('signed', 'sent') ORDER BY nonce, id")
        if not rows:
            return done
        me = self.account.address
        latest_nonce = int(rpc_guard("reading the nonce", lambda: self.w3.eth.get_transaction_count(me)))
        pending_nonce = int(
            rpc_guard("reading the nonce", lambda: self.w3.eth.get_transaction_count(me, "pending"))
        )
        now = time.time()
        used = [_record(row) for row in rows if row["nonce"] < latest_nonce]
        if used:
            done = self._settle_used(used)
        newest = {row["nonce"]: row for row in rows if row["nonce"] >= latest_nonce}  # by id: last wins
        fresh_fees = False
        for row in newest.values():
            rec = _record(row)
            label = f"{rec.kind} {rec.subject}"
            stale = now - row["updated"] > self.rebroadcast_after
            if rec.status == "sent" and stale:
                if not fresh_fees:
                    self._fees, fresh_fees = None, True  # compare with this block's fees
                if self._bump(rec, bytes(row["raw"]), label):
                    continue
            if not (rec.status == "signed" or rec.nonce >= pending_nonce or stale):
                continue
            # never sent, no longer in the node's pool (a reorg, a restart), or long unmined;
            # `updated` is the last time a node took it: refused for its fees, it grows stale
            taken = self._broadcast(rec.id, bytes(row["raw"]), label, fees_may_fall=True)
            if taken or rec.status == "signed":
                self._set(rec.id, "sent")  # touches `updated`
        return done

    def _settle_used(self, used: list[TxRecord]) -> list[tuple[TxRecord, TxReceipt | None]]:
        """Rows whose nonce the chain has used: mined or reverted (a receipt), else dropped.

        Of the rows of one nonce (an original and its replacements) at most one has a
        receipt; the others are dropped as replaced and not returned, so a caller sees one
        outcome per transaction it asked for.
        """
        found = self._scan_receipts({rec.tx_hash for rec in used})
        receipts: dict[int, TxReceipt | None] = {}
        for rec in used:
            receipt = found.get(rec.tx_hash)
            if receipt is None or rec.kind in NEEDS_LOGS:  # their outcome is in their events
                receipt = self.receipt(rec)
            receipts[rec.id] = receipt
            if receipt is not None:
                self._mined(rec, receipt)
        done: list[tuple[TxRecord, TxReceipt | None]] = []
        for rec in used:
            receipt = receipts[rec.id]
            if receipt is not None:
                done.append((rec, receipt))
                continue
            winner = self.db.query_one(
                "SELECT tx_hash FROM txs WHERE nonce = ? AND kind = ? AND subject = ? AND id != ? "
                "AND status IN ('mined', 'reverted')",
                (rec.nonce, rec.kind, rec.subject, rec.id),
            )
            if winner is not None:
                self._set(rec.id, "dropped", error="replaced by 0x" + bytes(winner[0]).hex())
                continue
            self._set(rec.id, "dropped", error="nonce used by another transaction")
            if not any(o.nonce == rec.nonce and o.id > rec.id for o in used):
                done.append((rec, None))  # the latest of its nonce stands for all
        return done

    def _bump(self, rec: TxRecord, raw: bytes, label: str) -> bool:
        """Replace ``rec`` (sent, long unmined) by the same transaction with higher fees,
        if its fees are below the current ones; True if a replacement was made.

        Both fees become max(current, old * 9/8 + 1). The replacement is recorded as a new
        row of the same (kind, subject, nonce) before it is broadcast; the old row stays
        'sent' until the chain uses the nonce. Above ``max_fee_per_gas_cap`` the max fee is
        held at the cap; if even the smallest valid replacement exceeds it, none is made
        (warned once per row) and the row is broadcast again unchanged.
        """
        old = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        if old.get("type") != 2:
            return False
        old_max, old_tip = int(old["maxFeePerGas"]), int(old["maxPriorityFeePerGas"])
        fees = self._fee_fields(label)
        if old_max >= fees["maxFeePerGas"] and old_tip >= fees["maxPriorityFeePerGas"]:
            return False  # its fees are fine: broadcast again as it is
        tip = max(fees["maxPriorityFeePerGas"], old_tip * BUMP_NUM // BUMP_DEN + 1)
        least = max(old_max * BUMP_NUM // BUMP_DEN + 1, tip)  # the smallest replacement nodes take
        max_fee = max(fees["maxFeePerGas"], least)
        cap = self.max_fee_per_gas_cap
        if cap is not None and max_fee > cap:
            if least > cap:
                if rec.id not in self._capped:
                    self._capped.add(rec.id)
                    log_event(log, "fee bump capped", logging.WARNING, kind=rec.kind, subject=rec.subject,
                              nonce=rec.nonce, tx="0x" + rec.tx_hash.hex(), max_fee_per_gas=old_max,
                              needed_wei=max_fee, cap_wei=cap)  # fmt: skip
                return False
            max_fee = cap
        tx = {k: v for k, v in old.items() if k not in ("v", "r", "s")}
        if not tx.get("to"):
            tx.pop("to", None)  # a contract creation
        tx.update(maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
        with self._lock:
            signed = self.account.sign_transaction(tx)
            row_id = self._insert(rec.kind, rec.subject, rec.nonce, signed)
            self._set(rec.id, "sent")  # touches `updated`: not replaced again before its time
            crash_point(f"{rec.kind}_bump_signed")
            try:
                self._broadcast(row_id, bytes(signed.raw_transaction), label, fees_may_fall=True)
            except (ConnectionError, TimeoutError):
                raise  # stays 'signed': the next pass broadcasts it
            except Exception as exc:  # refused (and dropped): the old row is still in flight
                log_event(log, "fee bump refused", logging.WARNING, kind=rec.kind, subject=rec.subject,
                          nonce=rec.nonce, error=str(exc).splitlines()[0][:300])  # fmt: skip
                return True
            self._set(row_id, "sent")
        new = self._row(row_id)
        log_event(log, "fee bumped", kind=rec.kind, subject=rec.subject, nonce=rec.nonce,
                  old_tx="0x" + rec.tx_hash.hex(), tx="0x" + new.tx_hash.hex(),
                  max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)  # fmt: skip
        if self.on_bump is not None:
            self.on_bump(new)
        return True

    def wait(self, rec: TxRecord, *, timeout: float = 60.0, interval: float = 0.05) -> TxReceipt | None:
        """Block until ``rec`` or a fee-bumped replacement of it is mined (its receipt) or
        ``timeout``; records the outcome of the one mined."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            versions = self.db.query(
                "SELECT * FROM txs WHERE kind = ? AND subject = ? AND nonce = ? AND id >= ? ORDER BY id DESC",
                (rec.kind, rec.subject, rec.nonce, rec.id),
            )
            for version in [_record(row) for row in versions] or [rec]:
                receipt = self.receipt(version)
                if receipt is not None:
                    self._mined(version, receipt)
                    return receipt
            time.sleep(interval)
        return None

    def _block_hash(self, number: int) -> bytes:
        def read() -> Any:
            try:
                return self.w3.eth.get_block(number)
            except BlockNotFound:  # above the head after a reorg
                return None

        block = rpc_guard(f"reading block {number}", read)
        return bytes(block["hash"] or b"") if block is not None else b""

    def recheck_mined(self, above: int) -> list[TxRecord]:
        """Rows mined above block ``above`` (not yet confirmed) whose block left the chain.

        One block-hash read per block; a row whose block changed is looked up again:
        mined elsewhere (kept, block updated) or gone (``dropped``, returned), so the
        action may be taken again on the canonical chain.
        """
        gone: list[TxRecord] = []
        rows = self.db.query("SELECT * FROM txs WHERE status = 'mined' AND block > ?", (above,))
        hashes: dict[int, bytes] = {}
        for row in rows:
            rec = _record(row)
            assert rec.block is not None
            if rec.block not in hashes:
                hashes[rec.block] = self._block_hash(rec.block)
            if row["block_hash"] is not None and bytes(row["block_hash"]) == hashes[rec.block]:
                continue
            receipt = self.receipt(rec)
            if receipt is None:
                self._set(rec.id, "dropped", error="reorganised away")
                gone.append(rec)
                self._nonce = None  # its nonce is free again
            else:
                self._mined(rec, receipt)
        return gone
