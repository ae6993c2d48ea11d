"""The client's upload cache (``.scatter/uploads``): an upload that can no longer finish leaves nothing.

An unfinished upload keeps its encoded shards (as large as the file times n/k) so that
running it again resumes. Once its bid is cancelled (``scatter cancel``, not only
``scatter upload --abort``) or its file entry removed, it can never finish: its cache goes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scatter.client import FillTimeoutError, Scatter
from scatter.errors import ScatterConnectionError
from tests.integration.sdk.conftest import StoredFile
from tests.integration.sdk.test_cli import run  # noqa: F401  (the CLI fixture)

pytestmark = pytest.mark.integration


def _unfinished(sdk: Scatter, src: Path, **kwargs: object) -> int:
    src.write_bytes(os.urandom(200_000))
    with pytest.raises(FillTimeoutError) as info:
        sdk.upload(src, duration="10m", timeout=0.2, **kwargs)  # type: ignore[arg-type]
    return info.value.bid_id


def test_cancelling_a_bid_deletes_its_unfinished_upload_and_only_that_one(
    sdk: Scatter, tmp_path: Path
) -> None:
    gone = _unfinished(sdk, tmp_path / "a.bin")
    kept = _unfinished(sdk, tmp_path / "b.bin")
    directory = {s.bid_id: s.directory for s in sdk.pending_uploads()}
    assert set(directory) == {gone, kept} and all(d.is_dir() for d in directory.values())

    result = sdk.cancel(gone)

    assert result.cancelled_slots == (0, 1, 2, 3, 4, 5)
    assert not directory[gone].exists()
    assert directory[kept].is_dir()
    assert [s.bid_id for s in sdk.pending_uploads()] == [kept]


def test_scatter_cancel_on_the_command_line_leaves_an_empty_upload_cache(  # type: ignore[no-untyped-def]
    run,  # noqa: F811
    tmp_path: Path,
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(300_000))
    done = run("upload", str(src), "--timeout", "1s", "--duration", "10m")
    assert done.returncode == 1, done.stderr
    cache = tmp_path / ".scatter" / "uploads"
    [bid_id] = [p["bid_id"] for p in json.loads(run("ls", "--pending", "--json").stdout)]
    assert any(cache.iterdir())

    cancelled = run("cancel", str(bid_id), "--json")

    assert cancelled.returncode == 0, cancelled.stderr
    assert list(cache.iterdir()) == []
    assert json.loads(run("ls", "--pending", "--json").stdout) == []


def test_removing_a_file_gives_up_the_unfinished_upload_of_its_new_version(
    sdk: Scatter, stored_file: StoredFile, tmp_path: Path
) -> None:
    new_bid = _unfinished(sdk, tmp_path / "v2.bin", replaces=stored_file.file_id)
    [session] = sdk.pending_uploads()

    sdk.rm(stored_file.file_id)

    assert not session.directory.exists() and sdk.pending_uploads() == []
    bid = sdk.market.get_bid(new_bid)
    assert bid.open_slot_indexes() == [] and bid.escrow == 0  # its escrow came back too


def test_removing_a_file_deletes_a_new_version_encoded_but_never_bid(
    sdk: Scatter, stored_file: StoredFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "v2.bin"
    src.write_bytes(os.urandom(200_000))

    def chain_down(*_a: object, **_k: object) -> int:
        raise ScatterConnectionError("the node went away")

    monkeypatch.setattr(sdk.market, "bid", chain_down)
    with pytest.raises(ScatterConnectionError):
        sdk.upload(src, replaces=stored_file.file_id)
    [session] = sdk.pending_uploads()
    assert session.bid_id is None
    monkeypatch.undo()

    sdk.rm(stored_file.file_id)

    assert not session.directory.exists() and sdk.pending_uploads() == []


def test_a_session_left_by_an_older_release_bids_with_recomputed_roots(
    sdk: Scatter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its manifest (version 2) holds roots of possession format 1, which the market refuses: the
    # bid still to post carries the roots of the current format, computed from the session's CARs.
    src = tmp_path / "old.bin"
    src.write_bytes(os.urandom(200_000))
    sent: list[list[bytes]] = []

    def chain_down(*_a: object, roots: list[bytes], **_k: object) -> int:
        sent.append(list(roots))
        raise ScatterConnectionError("the node went away")

    monkeypatch.setattr(sdk.market, "bid", chain_down)
    with pytest.raises(ScatterConnectionError):
        sdk.upload(src, duration="10m")
    [session] = sdk.pending_uploads()
    path = session.directory / "manifest.json"
    obj = json.loads(path.read_text())
    obj["version"] = 2
    for entry in obj["shards"]:
        entry["root"] = entry["root"][:42] + "5a010203" + "00" * 8
    path.write_text(json.dumps(obj))

    with pytest.raises(ScatterConnectionError):
        sdk.upload(src, duration="10m")

    assert len(sent) == 2 and sent[1] == sent[0]
    assert json.loads(path.read_text())["version"] == 3
    sdk.abort_upload(session=session)
