"""Upload sessions survive a restart: saved atomically, loaded back, versioned, found per account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scatter.errors import ScatterValueError
from scatter.sdk.session import SlotState, UploadSession, list_sessions, sessions_root


def _session(root: Path, **kw: object) -> UploadSession:
    sid = UploadSession.session_id(root / "f.bin", 10, 123, "3/6", 31337, "0xAbC", "0xDeF")
    base = dict(
        directory=sessions_root(root) / sid,
        source=str(root / "f.bin"),
        size=10,
        mtime_ns=123,
        shards="3/6",
        chain_id=31337,
        market="0xAbC",
        client="0xDeF",
    )
    base.update(kw)
    return UploadSession(**base)  # type: ignore[arg-type]


def test_session_round_trips_with_slot_progress(tmp_path: Path) -> None:
    s = _session(tmp_path, stage="posted", bid_id=7, bid_block=42)
    s.slots[0] = SlotState(hoster="0x1", pushed=True, deal_id=3, filled=False)
    s.slots[5] = SlotState(hoster="0x2", pushed=True, deal_id=9, filled=True)
    s.save()
    back = UploadSession.load(s.directory)
    assert back == s
    assert [x.source for x in list_sessions(tmp_path)] == [s.source]


def test_session_id_depends_on_file_chain_market_and_account(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    base = UploadSession.session_id(f, 10, 123, "3/6", 1, "0xa", "0xb")
    assert base == UploadSession.session_id(f, 10, 123, "3/6", 1, "0xA", "0xB")  # address case ignored
    others = {
        UploadSession.session_id(f, 11, 123, "3/6", 1, "0xa", "0xb"),
        UploadSession.session_id(f, 10, 124, "3/6", 1, "0xa", "0xb"),
        UploadSession.session_id(f, 10, 123, "4/8", 1, "0xa", "0xb"),
        UploadSession.session_id(f, 10, 123, "3/6", 2, "0xa", "0xb"),
        UploadSession.session_id(f, 10, 123, "3/6", 1, "0xc", "0xb"),
        UploadSession.session_id(f, 10, 123, "3/6", 1, "0xa", "0xc"),
    }
    assert base not in others and len(others) == 6


def test_session_of_unknown_version_is_refused_with_advice(tmp_path: Path) -> None:
    s = _session(tmp_path)
    s.save()
    data = json.loads(s.path.read_text())
    data["version"] = 1  # a session of the Market version 1 release
    s.path.write_text(json.dumps(data))
    with pytest.raises(ScatterValueError, match=r"format version 1.*upload again"):
        UploadSession.load(s.directory)
    assert list_sessions(tmp_path) == []


def test_remove_deletes_the_directory(tmp_path: Path) -> None:
    s = _session(tmp_path)
    s.save()
    (s.directory / "shard-000.car").write_bytes(b"x")
    s.remove()
    assert not s.directory.exists()
