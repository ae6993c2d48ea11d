"""Block stores: content addressing, pins that need a complete DAG, GC, export."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.errors import ScatterValueError
from scatter.ipfs import (
    Block,
    BlockStore,
    EmbeddedBlockStore,
    MemoryBlockStore,
    UnixFSImporter,
    export_bytes,
    import_bytes,
    write_car,
)
from scatter.ipfs.errors import BlockIntegrityError, BlockNotFoundError, DagFormatError

DATA = random.Random(1).randbytes(1_100_000)  # deterministic: test ids and xdist workers agree


@pytest.fixture(params=["embedded", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlockStore:
    if request.param == "embedded":
        return EmbeddedBlockStore(tmp_path / "store", durable=False)
    return MemoryBlockStore()


def _car_of(data: bytes) -> tuple[bytes, list[Block]]:
    root, blocks = import_bytes(data)
    out = io.BytesIO()
    write_car(out, [root], blocks)
    return out.getvalue(), blocks


def test_import_car_pins_the_root_and_export_gives_the_bytes_back(store: BlockStore) -> None:
    raw, blocks = _car_of(DATA)
    roots = store.import_car(io.BytesIO(raw))
    assert roots == [blocks[-1].cid]
    assert store.pins() == roots
    assert export_bytes(roots[0], store) == DATA


def test_export_car_is_depth_first_and_reimports(store: BlockStore, tmp_path: Path) -> None:
    raw, _blocks = _car_of(DATA)
    (root,) = store.import_car(io.BytesIO(raw))
    out = io.BytesIO()
    store.export_car(root, out)
    other = EmbeddedBlockStore(tmp_path / "other", durable=False)
    out.seek(0)
    assert other.import_car(out) == [root]
    assert export_bytes(root, other) == DATA


def test_put_rejects_a_block_that_does_not_match_its_cid(store: BlockStore) -> None:
    good = Block.from_data(b"hello")
    with pytest.raises(BlockIntegrityError):
        store.put(Block(good.cid, b"hellO"))
    assert not store.has(good.cid)


def test_pin_refuses_an_incomplete_dag(store: BlockStore) -> None:
    _, blocks = _car_of(DATA)
    store.put_many(blocks[1:])  # one leaf missing
    with pytest.raises(BlockNotFoundError, match="not held"):
        store.pin(blocks[-1].cid)
    assert store.pins() == []


def test_import_of_a_car_missing_blocks_pins_nothing_and_gc_cleans_up(store: BlockStore) -> None:
    root, blocks = import_bytes(DATA)
    out = io.BytesIO()
    write_car(out, [root], blocks[1:])
    with pytest.raises(BlockNotFoundError):
        store.import_car(io.BytesIO(out.getvalue()))
    assert store.pins() == []
    assert store.gc().removed_blocks == len(blocks) - 1
    assert store.stat().block_count == 0


def test_truncated_car_import_pins_nothing(store: BlockStore) -> None:
    raw, _ = _car_of(DATA)
    with pytest.raises(ScatterValueError):
        store.import_car(io.BytesIO(raw[: len(raw) // 2]))
    assert store.pins() == []


def test_gc_keeps_pinned_dags_and_removes_the_rest(store: BlockStore) -> None:
    raw, _blocks = _car_of(DATA)
    (root,) = store.import_car(io.BytesIO(raw))
    _, loose = import_bytes(os.urandom(300_000))
    store.put_many(loose)
    result = store.gc()
    assert result.removed_blocks == len(loose)
    assert result.freed_bytes == sum(len(b.data) for b in loose)
    assert export_bytes(root, store) == DATA
    store.unpin(root)
    store.gc()
    assert store.stat().block_count == 0


def test_unpin_of_an_unpinned_cid_says_so(store: BlockStore) -> None:
    with pytest.raises(BlockNotFoundError, match="not pinned"):
        store.unpin(import_bytes(b"x")[0])


def test_get_of_a_missing_block_raises_not_found(store: BlockStore) -> None:
    with pytest.raises(LookupError):
        store.get(import_bytes(b"absent")[0])


def test_embedded_store_survives_reopening(tmp_path: Path) -> None:
    raw, blocks = _car_of(DATA)
    EmbeddedBlockStore(tmp_path, durable=True).import_car(io.BytesIO(raw))
    reopened = EmbeddedBlockStore(tmp_path)
    assert reopened.pins() == [blocks[-1].cid]
    assert reopened.stat().block_count == len(blocks)


def test_embedded_store_refuses_an_unknown_format_version(tmp_path: Path) -> None:
    EmbeddedBlockStore(tmp_path)
    (tmp_path / "store.json").write_text('{"format": "scatter-blockstore", "version": 99}')
    with pytest.raises(ScatterValueError, match="upgrade"):
        EmbeddedBlockStore(tmp_path)


def test_exporter_rejects_a_dag_whose_sizes_lie(store: BlockStore) -> None:
    from scatter.ipfs.cid import CODEC_DAG_PB
    from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs

    leaf = Block.from_data(b"abc")
    node = encode_node(
        PBNode((PBLink(leaf.cid, "", 3),), encode_unixfs(UnixFSData(UnixFSType.FILE, None, 5, (5,))))
    )
    root = Block.from_data(node, codec=CODEC_DAG_PB)
    store.put_many([leaf, root])
    with pytest.raises(DagFormatError, match="declares 5 bytes"):
        export_bytes(root.cid, store)


@settings(max_examples=30, deadline=None)
@given(
    data=st.binary(max_size=4000),
    chunk=st.integers(1, 200),
    links=st.integers(2, 5),
    v=st.sampled_from([0, 1]),
)
def test_export_inverts_import_for_any_bytes_and_layout(data: bytes, chunk: int, links: int, v: int) -> None:
    store = MemoryBlockStore()
    imp = UnixFSImporter(v, chunk, links)
    for i in range(0, len(data), 333):
        store.put_many(imp.write(data[i : i + 333]))
    store.put_many(imp.finish())
    assert export_bytes(imp.root, store) == data
