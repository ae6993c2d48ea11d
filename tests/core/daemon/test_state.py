"""StateDB: WAL, versioned migrations, atomic transactions."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.daemon.state import StateDB
from scatter.errors import ScatterValueError


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "s.db")
    v1 = ("thing", 1, ["CREATE TABLE t (x INTEGER)"])
    v2 = ("thing", 2, ["ALTER TABLE t ADD COLUMN y INTEGER"])
    db.migrate([v2, v1])
    db.migrate([v1, v2])  # already applied: nothing runs twice
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
    assert [r[1] for r in db.query("PRAGMA table_info(t)")] == ["x", "y"]
    with pytest.raises(ScatterValueError, match="jumps"):
        db.migrate([("other", 2, ["SELECT 1"])])


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "s.db")
    db.migrate([("t", 1, ["CREATE TABLE t (x INTEGER)"])])
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("crash mid-way")
    assert db.query("SELECT * FROM t") == []
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (2)")
    db.close()
    assert [r[0] for r in StateDB(tmp_path / "s.db").query("SELECT x FROM t")] == [2]
