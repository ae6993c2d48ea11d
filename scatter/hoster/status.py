"""``scatter hoster status``: what the daemon recorded in its state directory, and its block store
on disk beside what is pinned (read-only). Keys are snake_case; amounts of wei are integers
named ``*_wei``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scatter.daemon.state import StateDB
from scatter.hoster.gc import live_cids, store_usage
from scatter.hoster.state import HosterState
from scatter.ipfs.cid import cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore


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
        # amounts of wei as integers (older daemons wrote them as strings)
        **{k: int(v) for k, v in facts.items() if k.endswith("_wei")},
        "running": _running(state_dir),
        "deals": state.counts(),
        "pending_transactions": int(pending[0][0]) if pending else 0,
        "store": _store(state, state_dir),
    }


def _store(state: HosterState, state_dir: Path) -> dict[str, int] | None:
    """The embedded store on disk beside what its pins reach (None with a Kubo store)."""
    if not (state_dir / "blocks" / "store.json").exists():
        return None
    store = EmbeddedBlockStore(state_dir / "blocks")
    try:
        usage = store_usage(store, state_dir / "tmp")
        live = live_cids(state)
        strays = sum(1 for cid in store.pins() if cid_str(cid) not in live)
    finally:
        store.close()
    return {**usage.to_json(), "stray_pins": strays}


def _has_txs(db: StateDB) -> bool:
    return db.query_one("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'txs'") is not None
