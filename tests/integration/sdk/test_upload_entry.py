"""The metadata entry of an upload, sent while its shards are pushed (it needs only the bid id).

Whatever the order in which the entry and the fills land, and wherever the upload
stops, running it again ends with exactly one entry naming the bid; giving the
upload up takes back an entry whose bid can store nothing, and keeps one whose
bid holds (or may still hold) shards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from multiformats import CID

from scatter.chain.market import Role
from scatter.chain.params import ETHER
from scatter.client import FillTimeoutError, HealthWarning, Scatter
from scatter.errors import ScatterConnectionError
from scatter.formats.pipeline import load_manifest
from scatter.hoster.possess import read_range
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.sdk.session import UploadSession
from tests.conftest import Chain
from tests.integration.sdk.conftest import HOSTER_BASE, fill_slot

pytestmark = pytest.mark.integration

TERMS: dict[str, Any] = {"duration": "10m", "price": "1gwei"}  # a collateral the test hosters afford


def _file(tmp_path: Path, name: str = "data.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(200_000))
    return path


def _unfinished(sdk: Scatter, src: Path, **kwargs: Any) -> UploadSession:
    with pytest.raises(FillTimeoutError):
        sdk.upload(src, timeout=0.2, **TERMS, **kwargs)
    [session] = [s for s in sdk.pending_uploads() if s.source == str(src.resolve())]
    return session


def _fill(chain: Chain, session: UploadSession, slots: range, tmp_path: Path) -> None:
    """What hosters do once they hold the shards: fill ``slots`` of the session's bid."""
    assert session.bid_id is not None
    manifest = load_manifest(session.directory)
    for slot in slots:
        entry = manifest.shards[slot]
        hoster = chain.market(HOSTER_BASE + slot)
        hoster.join(Role.HOSTER, f"http://127.0.0.1:{9000 + slot}", 1 << 30, ETHER)
        store = EmbeddedBlockStore(tmp_path / f"hoster{slot}", durable=False)
        with (session.directory / (entry.car or "")).open("rb") as car:
            store.import_car(car, pin=True)
        shard = read_range(store, CID.decode(entry.cid), 0, entry.size)
        address = chain.account(HOSTER_BASE + slot).address
        fill_slot(chain.w3, hoster, address, session.bid_id, slot, shard)


def test_resume_after_a_crash_between_sending_the_entry_and_recording_it_adds_no_second_entry(
    sdk: Scatter, tmp_path: Path
) -> None:
    src = _file(tmp_path)
    session = _unfinished(sdk, src)
    assert session.stage == "recorded" and session.file_id is not None
    data = json.loads(session.path.read_text())
    data.update(stage="recording", file_id=None)  # what a crash right after the entry was sent leaves
    session.path.write_text(json.dumps(data))

    again = _unfinished(sdk, src)

    assert again.file_id == session.file_id
    assert [f.file_id for f in sdk.ls(health=False)] == [session.file_id]


def test_an_upload_stopped_after_its_fills_but_before_its_entry_sends_the_entry_on_resume(
    sdk: Scatter, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _file(tmp_path)

    def fills_then_fails(_metadata: bytes) -> int:
        # Every slot is filled while the entry is on its way; then the entry is lost.
        [session] = sdk.pending_uploads()
        _fill(chain, session, range(6), tmp_path)
        raise ScatterConnectionError("the chain node went away")

    monkeypatch.setattr(sdk.files, "add", fills_then_fails)
    with pytest.raises(ScatterConnectionError):
        sdk.upload(src, timeout=60, **TERMS)
    [session] = sdk.pending_uploads()  # kept until the entry is recorded
    assert session.stage == "recording" and session.file_id is None
    monkeypatch.undo()

    done = sdk.upload(src, timeout=60, **TERMS)

    assert done.resumed and len(done.deals) == 6
    [f] = sdk.ls()
    assert f.file_id == done.file_id and f.health is not None and f.health.state == "healthy"
    assert sdk.pending_uploads() == []


def test_cancelling_an_unfilled_bid_takes_back_its_entry(sdk: Scatter, tmp_path: Path) -> None:
    session = _unfinished(sdk, _file(tmp_path))
    assert session.bid_id is not None

    result = sdk.cancel(session.bid_id)

    assert result.withdrawn_file == session.file_id
    assert sdk.ls() == [] and sdk.pending_uploads() == []


def test_cancelling_some_slots_keeps_the_entry_of_a_bid_still_open(sdk: Scatter, tmp_path: Path) -> None:
    session = _unfinished(sdk, _file(tmp_path))
    assert session.bid_id is not None

    result = sdk.cancel(session.bid_id, [0])

    assert result.withdrawn_file is None
    assert [f.file_id for f in sdk.ls(health=False)] == [session.file_id]


def test_aborting_an_upload_with_a_filled_slot_keeps_its_entry(
    sdk: Scatter, chain: Chain, tmp_path: Path
) -> None:
    src = _file(tmp_path)
    session = _unfinished(sdk, src)
    _fill(chain, session, range(1), tmp_path)

    result = sdk.abort_upload(src)

    assert result is not None and result.cancelled_slots == (1, 2, 3, 4, 5)
    assert result.withdrawn_file is None and sdk.pending_uploads() == []
    with pytest.warns(HealthWarning, match="fewer than the 3 needed"):  # in sight, not silently gone
        [f] = sdk.ls()
    assert f.file_id == session.file_id and f.health is not None and f.health.label == "1/6 LOST"


def test_aborting_a_new_version_takes_it_back_out_of_the_entry(sdk: Scatter, tmp_path: Path) -> None:
    first = _unfinished(sdk, _file(tmp_path, "a.bin"))
    assert first.file_id is not None
    before = sdk._metadata(first.file_id)
    src = _file(tmp_path, "b.bin")
    second = _unfinished(sdk, src, replaces=first.file_id)
    assert second.file_id == first.file_id
    assert sdk._metadata(first.file_id).current.bid_id == second.bid_id

    result = sdk.abort_upload(src)

    assert result is not None and result.withdrawn_file == first.file_id
    assert sdk._metadata(first.file_id) == before
    assert [s.bid_id for s in sdk.pending_uploads()] == [first.bid_id]
