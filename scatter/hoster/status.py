"""``scatter hoster status``: what the daemon recorded in its state directory (read-only)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scatter.daemon.state import StateDB
from scatter.hoster.state import HosterState


def _running(state_dir: Path) -> bool:
    try:
        info = json.loads((state_dir / "hoster.json").read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def read_status(db: StateDB, state_dir: Path) -> dict[str, Any]:
    state = HosterState(db)
    facts = state.facts()
    pending = db.query("SELECT COUNT(*) FROM txs WHERE status IN ('signed', 'sent')") if _has_txs(db) else []
    return {
        **facts,
        "running": _running(state_dir),
        "deals": state.counts(),
        "pending_transactions": int(pending[0][0]) if pending else 0,
    }


def _has_txs(db: StateDB) -> bool:
    return db.query_one("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'txs'") is not None
