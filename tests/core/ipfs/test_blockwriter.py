"""The embedded store's bulk write path: ``add_file`` and ``put_many`` in durable batches."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import scatter.ipfs._blockwriter as bw
from scatter.ipfs import Block, EmbeddedBlockStore, export_bytes, import_file
from scatter.ipfs.errors import BlockIntegrityError

DATA = random.Random(2).randbytes(3 * 262144 + 1000)  # 4 leaves and a root


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


@pytest.mark.parametrize("cid_version", [0, 1])
def test_add_file_stores_pins_and_gives_the_importers_cid(tmp_path: Path, cid_version: int) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(DATA)
    store = EmbeddedBlockStore(tmp_path / "store")
    result = store.add_file(src, cid_version=cid_version)
    assert result.root == import_file(src, cid_version=cid_version).root
    assert store.pins() == [result.root]
    assert store.missing(result.root) == []
    assert export_bytes(result.root, store) == DATA
    assert store.stat().block_count == result.block_count == 5
    assert _files(tmp_path / "store" / "tmp") == []


def test_add_file_without_pin_leaves_blocks_for_gc(tmp_path: Path) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(DATA)
    store = EmbeddedBlockStore(tmp_path / "store", durable=False)
    store.add_file(src, pin=False)
    assert store.pins() == []
    assert store.gc().removed_blocks == 5


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-per-file"])
def test_every_block_file_is_synced_before_it_is_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    """The rule that keeps a block file complete or absent after a power loss."""
    synced: set[str] = set()
    renamed: list[str] = []
    store = EmbeddedBlockStore(tmp_path / "store")
    tmp_dir = tmp_path / "store" / "tmp"

    def fake_syncfs(directory: Path) -> bool:
        if syncfs:  # syncfs flushes every file written so far
            synced.update(str(p) for p in tmp_dir.iterdir())
        return syncfs

    def fake_fsync(path: Path | str) -> None:
        synced.add(str(path))

    real_replace = os.replace

    def checked_replace(src: str | Path, dst: str | Path) -> None:
        if Path(src).parent == tmp_dir and Path(dst).suffix == ".data":
            assert str(src) in synced, f"{src} renamed into place before it was synced"
            renamed.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(bw, "sync_filesystem", fake_syncfs)
    monkeypatch.setattr(bw, "fsync_path", fake_fsync)
    monkeypatch.setattr(bw, "COMMIT_BYTES", 262144)  # several batches, one in flight at a time
    monkeypatch.setattr(os, "replace", checked_replace)
    src = tmp_path / "f.bin"
    src.write_bytes(DATA)
    store.add_file(src)
    assert len(renamed) == 5


def test_put_many_verifies_and_keeps_nothing_of_a_refused_call(tmp_path: Path) -> None:
    store = EmbeddedBlockStore(tmp_path / "store")
    good = [Block.from_data(os.urandom(1000)) for _ in range(3)]
    forged = Block(good[0].cid, b"not the bytes")
    with pytest.raises(BlockIntegrityError):
        store.put_many([*good[1:], forged])
    assert store.stat().block_count == 0
    assert _files(tmp_path / "store" / "tmp") == []
    assert store.put_many(good) == 3
    assert all(store.get(b.cid) == b.data for b in good)


def test_a_write_error_on_the_writer_thread_reaches_the_caller(tmp_path: Path) -> None:
    store = EmbeddedBlockStore(tmp_path / "store")
    (tmp_path / "store" / "tmp").rmdir()  # the writer cannot create its files
    with pytest.raises(FileNotFoundError):
        store.put_many(Block.from_data(os.urandom(100)) for _ in range(50))
