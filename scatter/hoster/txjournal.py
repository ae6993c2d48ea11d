"""A durable journal of the hoster's transactions: no transaction is ever sent twice.

Each transaction is built (gas estimated: a revert costs nothing and is raised
here), given the next nonce, signed, and **written to SQLite before it is
broadcast**. After a crash, :meth:`TxJournal.reconcile` looks at every row not
yet final: a receipt settles it; otherwise the very same signed bytes are
broadcast again (same hash: the node treats it as one transaction); a nonce
the chain has used for something else marks it dropped. Callers ask
:meth:`TxJournal.live` before sending, so there is at most one transaction in
flight per (kind, subject): one accept per bid, one settlement per deal.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from scatter.chain.tx import rpc_guard
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
REBROADCAST_AFTER = 30.0  # seconds before a sent, unmined transaction is broadcast again

PENDING = ("signed", "sent")  # may still be mined ("sent": broadcast again by reconcile)
FINAL = ("mined", "reverted", "dropped")


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

    def __init__(self, db: StateDB, w3: Web3, account: LocalAccount) -> None:
        self.db = db
        self.w3 = w3
        self.account = account
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

    def count_by_status(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.query("SELECT status, COUNT(*) FROM txs GROUP BY status")}

    # ----------------------------------------------------------------- writes

    def send(self, kind: str, subject: str, fn: ContractFunction, value: int = 0) -> TxRecord:
        """Build, sign, record, then broadcast ``fn``; a revert in estimation raises ContractError."""
        label = f"{kind} {subject}"
        params: TxParams = {"from": self.account.address, "value": Wei(value)}
        params.update(self._fee_fields(label))  # type: ignore[typeddict-item]
        tx: dict[str, Any] = dict(rpc_guard(label, lambda: fn.build_transaction(params)))
        return self._sign_record_broadcast(kind, subject, tx, label)

    def _sign_record_broadcast(self, kind: str, subject: str, tx: dict[str, Any], label: str) -> TxRecord:
        with self._lock:
            tx["nonce"] = self._next_nonce(label)
            signed = self.account.sign_transaction(tx)
            now = time.time()
            with self.db.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO txs (kind, subject, nonce, tx_hash, raw, status, created, updated) "
                    "VALUES (?, ?, ?, ?, ?, 'signed', ?, ?)",
                    (kind, subject, tx["nonce"], bytes(signed.hash), bytes(signed.raw_transaction), now, now),
                )
                row_id = int(cur.lastrowid or 0)
            crash_point(f"{kind}_signed")
            self._broadcast(row_id, bytes(signed.raw_transaction), label)
        crash_point(f"{kind}_sent")
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
                              "gas": gas, **self._fee_fields(label)}  # fmt: skip
        return self._sign_record_broadcast(kind, subject, tx, label)

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

    def _broadcast(self, row_id: int, raw: bytes, label: str) -> None:
        try:
            rpc_guard(label, lambda: self.w3.eth.send_raw_transaction(raw))
        except Exception as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text or "nonce too low" in text:
                pass  # the node has it (or has mined it): the receipt will tell
            elif isinstance(exc, (ConnectionError, TimeoutError)):
                raise  # stays 'signed': reconcile broadcasts it again
            else:
                self._set(row_id, "dropped", error=str(exc).splitlines()[0][:300])
                self._nonce = None  # re-read: the dropped nonce is free again
                raise

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
        from the blocks since the last pass. Rows never broadcast, or sent long ago and
        still unmined, are broadcast again, byte for byte.
        """
        done: list[tuple[TxRecord, TxReceipt | None]] = []
        with self._lock:
            self._nonce = None  # the first send after each pass reads the chain's nonce again
        rows = self.db.query("SELECT * FROM txs WHERE status IN ('signed', 'sent') ORDER BY nonce")
        if not rows:
            return done
        me = self.account.address
        latest_nonce = int(rpc_guard("reading the nonce", lambda: self.w3.eth.get_transaction_count(me)))
        pending_nonce = int(
            rpc_guard("reading the nonce", lambda: self.w3.eth.get_transaction_count(me, "pending"))
        )
        now = time.time()
        used = [_record(row) for row in rows if row["nonce"] < latest_nonce]
        found = self._scan_receipts({rec.tx_hash for rec in used}) if used else {}
        for row in rows:
            rec = _record(row)
            if rec.nonce < latest_nonce:
                receipt = found.get(rec.tx_hash)
                if receipt is None or rec.kind == "accept":  # accepts need their logs
                    receipt = self.receipt(rec)
                if receipt is not None:
                    self._mined(rec, receipt)
                else:
                    self._set(rec.id, "dropped", error="nonce used by another transaction")
                done.append((rec, receipt))
            elif (
                rec.status == "signed"
                or rec.nonce >= pending_nonce
                or now - row["updated"] > REBROADCAST_AFTER
            ):
                # never sent, no longer in the node's pool (a reorg, a restart), or long unmined
                self._broadcast(rec.id, bytes(row["raw"]), f"{rec.kind} {rec.subject}")
                self._set(rec.id, "sent")  # touches `updated`
        return done

    def wait(self, rec: TxRecord, *, timeout: float = 60.0, interval: float = 0.05) -> TxReceipt | None:
        """Block until ``rec`` is mined (receipt) or ``timeout``; records the outcome."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            receipt = self.receipt(rec)
            if receipt is not None:
                self._mined(rec, receipt)
                return receipt
            time.sleep(interval)
        return None

    def _block_hash(self, number: int) -> bytes:
        try:
            block = rpc_guard(f"reading block {number}", lambda: self.w3.eth.get_block(number))
        except BlockNotFound:  # above the head after a reorg
            return b""
        return bytes(block["hash"] or b"")

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
