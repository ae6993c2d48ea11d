"""``scatter validator status``: what a validator's state directory says, plus its live health.

Reads ``validator.json`` (written atomically at start: address, API URL, pid) and
the SQLite state (read only), then asks the running daemon's ``/healthz``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import httpx

from scatter.daemon.state import StateDB
from scatter.errors import ScatterValueError

INFO_FILE = "validator.json"
INFO_VERSION = 1


def write_info(state_dir: Path, info: dict[str, Any]) -> None:
    """Write ``validator.json`` atomically (temp file, rename)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=state_dir, delete=False, suffix=".tmp") as tmp:
        json.dump({"version": INFO_VERSION, **info}, tmp, indent=2, sort_keys=True)
    Path(tmp.name).replace(state_dir / INFO_FILE)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _optional(db: StateDB, sql: str) -> list[Any]:
    """Rows of a table a daemon creates on its first run (empty before)."""
    try:
        return db.query(sql)
    except sqlite3.OperationalError:
        return []


def read_status(state_dir: Path) -> dict[str, Any]:
    path = state_dir / "validator.db"
    if not path.exists():
        raise ScatterValueError(
            f"no validator state in {state_dir}; give --state-dir of a validator that has run "
            "(or --dev N in a directory where `scatter dev` runs)"
        )
    info: dict[str, Any] = {}
    if (state_dir / INFO_FILE).exists():
        info = json.loads((state_dir / INFO_FILE).read_text())
    db = StateDB(path)
    try:
        identity = db.query_one("SELECT signer, chain_id, market FROM ledger_identity WHERE id = 1")
        verdicts = db.query_one("SELECT COUNT(*), COALESCE(SUM(ok), 0), MAX(epoch) FROM verdicts")
        sigs = db.query_one("SELECT COUNT(*), COALESCE(SUM(to_epoch > from_epoch), 0) FROM signatures")
        checkpoint = db.query_one("SELECT block FROM chain_checkpoint WHERE id = 1")
        faults = _optional(db, "SELECT kind, state, COUNT(*) AS n FROM reports GROUP BY kind, state")
        unknown = _optional(db, "SELECT label, COUNT(*) AS n FROM unknown_epochs GROUP BY label")
        deals = db.query_one("SELECT COUNT(*) FROM deals WHERE status = 1")
    finally:
        db.close()
    report: dict[str, Any] = {
        "address": identity[0] if identity else info.get("address"),
        "chain_id": identity[1] if identity else None,
        "market": identity[2] if identity else None,
        "api": info.get("api"),
        "endpoint": info.get("endpoint"),
        "running": _alive(info.get("pid")),
        "checkpoint_block": checkpoint[0] if checkpoint else None,
        "active_deals": deals[0] if deals else 0,
        "verdicts": {"ok": verdicts[1], "fail": verdicts[0] - verdicts[1]} if verdicts else {},
        "last_epoch_checked": verdicts[2] if verdicts else None,
        "signatures": {"total": sigs[0], "ranges": sigs[1]} if sigs else {},
        "fault_reports": {f"{r['kind']}/{r['state']}": r["n"] for r in faults},  # requestProof, audits...
        "unknown_epochs": {str(r["label"]): r["n"] for r in unknown},
    }
    if report["running"] and info.get("api"):
        try:
            report["health"] = httpx.get(info["api"] + "/healthz", timeout=2.0, trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            report["health"] = {"status": "unreachable"}
    return report
