"""Durable daemon state in SQLite (WAL).

One database file per daemon. Every change that must survive a crash happens
inside :meth:`StateDB.transaction`, and anything that leaves the process
(a transaction sent, a signature served) is recorded there *before* it leaves.
Schemas are versioned: each module contributes numbered migrations that run
once, in order.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from scatter.errors import ScatterValueError

Migration = tuple[str, int, Sequence[str]]
"""(component, version, SQL statements): applied once, in version order per component."""


WAL_LIMIT_BYTES = 1 << 20


class StateDB:
    """A SQLite database in WAL mode, shared by the threads of one daemon."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a committed row survives power loss
        self._conn.execute("PRAGMA foreign_keys=ON")
        # The WAL is checkpointed every 256 pages and cut back to 1 MiB after each checkpoint:
        # a daemon that writes its chain checkpoint every block keeps a small, bounded file
        # (SQLite's defaults let it reach 4 MiB and never shrink).
        self._conn.execute("PRAGMA wal_autocheckpoint=256")
        self._conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the migrations not yet applied, each component's in version order."""
        with self.transaction() as conn:
            for component, version, statements in sorted(migrations, key=lambda m: (m[0], m[1])):
                row = conn.execute(
                    "SELECT version FROM schema_versions WHERE component = ?", (component,)
                ).fetchone()
                current = row[0] if row else 0
                if version <= current:
                    continue
                if version != current + 1:
                    raise ScatterValueError(f"{component} schema jumps from {current} to {version}")
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); re-entrant within a thread."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self._conn.close()
