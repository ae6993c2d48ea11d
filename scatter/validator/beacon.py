"""Chain time and chain randomness for the validator (its only block-level chain reads).

- :meth:`EpochBeacon.head` — the latest block's number and timestamp: the
  validator's clock is the chain's, as the Market's ``currentEpoch`` is.
- :meth:`EpochBeacon.randomness` — the hash of the first block at or after the
  start of an epoch, once that block has ``confirmations`` blocks on top
  (None before). Found by binary search on timestamps from the previous
  epoch's block; remembered in SQLite (table ``epoch_randomness``), so every
  restart uses the same value for the same epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from web3 import Web3

from scatter.chain.tx import latest_head, rpc_guard
from scatter.daemon.state import Migration, StateDB

MIGRATIONS: Final[list[Migration]] = [
    (
        "validator_beacon",
        1,
        [
            "CREATE TABLE epoch_randomness (epoch INTEGER PRIMARY KEY, block INTEGER NOT NULL, "
            "block_hash BLOB NOT NULL)"
        ],
    )
]


@dataclass(frozen=True)
class Head:
    number: int
    timestamp: int


@dataclass(frozen=True)
class EpochRandomness:
    epoch: int
    block: int
    block_hash: bytes


class EpochBeacon:
    def __init__(
        self, w3: Web3, db: StateDB, *, genesis: int, epoch_seconds: int, confirmations: int, first_block: int
    ) -> None:
        self.w3 = w3
        self.db = db
        self.genesis = genesis
        self.epoch_seconds = epoch_seconds
        self.confirmations = confirmations
        self.first_block = first_block
        db.migrate(MIGRATIONS)

    def epoch_at(self, timestamp: int) -> int:
        return max(0, (timestamp - self.genesis) // self.epoch_seconds)

    def epoch_start(self, epoch: int) -> int:
        return self.genesis + epoch * self.epoch_seconds

    def head(self) -> Head:
        return Head(*latest_head(self.w3))

    def _timestamp(self, number: int) -> int:
        block = rpc_guard(f"reading block {number}", lambda: self.w3.eth.get_block(number))
        return int(block["timestamp"])

    def randomness(self, epoch: int, head: Head | None = None) -> EpochRandomness | None:
        row = self.db.query_one("SELECT block, block_hash FROM epoch_randomness WHERE epoch = ?", (epoch,))
        if row is not None:
            return EpochRandomness(epoch, row[0], bytes(row[1]))
        head = head or self.head()
        start = self.epoch_start(epoch)
        if head.timestamp < start:
            return None
        lo = self.first_block
        prev = self.db.query_one(
            "SELECT block FROM epoch_randomness WHERE epoch < ? ORDER BY epoch DESC LIMIT 1", (epoch,)
        )
        if prev is not None:
            lo = max(lo, prev[0])
        hi = head.number  # timestamp(hi) >= start
        if self._timestamp(lo) >= start:
            hi = lo
        while hi - lo > 1:  # invariant: timestamp(lo) < start <= timestamp(hi)
            mid = (lo + hi) // 2
            if self._timestamp(mid) >= start:
                hi = mid
            else:
                lo = mid
        if head.number < hi + self.confirmations:
            return None
        block = rpc_guard(f"reading block {hi}", lambda: self.w3.eth.get_block(hi))
        found = EpochRandomness(epoch, hi, bytes(block["hash"] or b""))
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO epoch_randomness VALUES (?, ?, ?)",
                (epoch, found.block, found.block_hash),
            )
        return found
