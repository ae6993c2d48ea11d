"""The rules a CAR must pass before anything reaches the hoster's store, each named by its reason,
and what stays on disk: the slot's DAG only, and nothing at all when the CAR is refused."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from multiformats import CID

from scatter.formats.possession import possession_root
from scatter.hoster.content import UploadRejected, import_checked_car
from scatter.hoster.possess import dag_overhead_limit
from scatter.ipfs.block import Block
from scatter.ipfs.car import write_car
from scatter.ipfs.cid import CODEC_DAG_PB, cid_str
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.unixfs import import_bytes


@dataclass(frozen=True)
class Shard:
    data: bytes
    root: CID
    blocks: list[Block]

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def possession(self) -> bytes:
        return possession_root(self.data)


def shard(data: bytes) -> Shard:
    root, blocks = import_bytes(data, cid_version=1)
    return Shard(data, root, list(blocks))


def car(roots: list[CID], blocks: list[Block]) -> bytes:
    buf = io.BytesIO()
    write_car(buf, roots, blocks)
    return buf.getvalue()


def take(tmp_path: Path, store: EmbeddedBlockStore, body: bytes, slot: Shard, *, size: int | None = None,
         cid: str | None = None) -> None:  # fmt: skip
    path = tmp_path / "upload.car"
    path.write_bytes(body)
    import_checked_car(store, tmp_path / "work", path, cid or cid_str(slot.root),
                       slot.size if size is None else size, slot.possession)  # fmt: skip


def refusal(
    tmp_path: Path, store: EmbeddedBlockStore, body: bytes, slot: Shard, **kw: object
) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        take(tmp_path, store, body, slot, **kw)  # type: ignore[arg-type]
    assert store.stat().block_count == 0 and store.pins() == []  # nothing kept
    assert not (tmp_path / "work").exists()  # the scratch store is gone
    return info.value


@pytest.fixture()
def store(tmp_path: Path) -> EmbeddedBlockStore:
    return EmbeddedBlockStore(tmp_path / "blocks", durable=False)


@pytest.fixture(scope="module")
def slot() -> Shard:
    return shard(os.urandom(600_000))  # three leaves and a root


def test_only_the_slots_dag_is_kept_from_a_car_with_extra_blocks(
    tmp_path: Path, store: EmbeddedBlockStore, slot: Shard
) -> None:
    extras = [Block.from_data(os.urandom(20_000)), *shard(os.urandom(300_000)).blocks]
    take(tmp_path, store, car([slot.root], [*slot.blocks, *extras]), slot)
    assert store.pins() == [slot.root]
    assert all(store.has(b.cid) for b in slot.blocks)
    assert not any(store.has(b.cid) for b in extras)
    assert store.stat().size_bytes == sum(len(b.data) for b in slot.blocks)


def test_a_car_v2_is_taken_like_a_car_v1(tmp_path: Path, store: EmbeddedBlockStore, slot: Shard) -> None:
    from tests.core.ipfs.test_carfile import car_v2

    take(tmp_path, store, car_v2(car([slot.root], slot.blocks)), slot)
    assert store.pins() == [slot.root]
    assert not (tmp_path / "work").exists()  # its scratch store is gone


def test_a_car_whose_root_is_not_the_slots_cid_is_refused_for_its_root(
    tmp_path: Path, store: EmbeddedBlockStore, slot: Shard
) -> None:
    other = shard(os.urandom(600_000))
    err = refusal(tmp_path, store, car([other.root], other.blocks), slot)
    assert err.status == 400 and str(err).startswith(f"CAR root is {cid_str(other.root)}, the slot names")
    # the slot's DAG in a CAR that also names another root: refused for its roots too
    err = refusal(tmp_path, store, car([slot.root, other.root], [*slot.blocks, *other.blocks]), slot)
    assert err.status == 400 and str(err).startswith("CAR root is ")


def test_a_dag_of_another_size_is_refused_for_its_size(
    tmp_path: Path, store: EmbeddedBlockStore, slot: Shard
) -> None:
    err = refusal(tmp_path, store, car([slot.root], slot.blocks), slot, size=slot.size + 1)
    assert err.status == 422 and f"is {slot.size} bytes, but the slot says {slot.size + 1}" in str(err)


def test_a_car_missing_a_leaf_is_refused_and_leaves_no_block_file(
    tmp_path: Path, store: EmbeddedBlockStore, slot: Shard
) -> None:
    leaf = slot.blocks[1]
    err = refusal(tmp_path, store, car([slot.root], [b for b in slot.blocks if b is not leaf]), slot)
    assert (
        err.status == 400 and str(err) == f"the DAG of {cid_str(slot.root)} lacks block {cid_str(leaf.cid)}"
    )
    assert str(tmp_path) not in str(err)  # the reason names no path on the hoster


def test_a_dag_padded_beyond_the_bound_is_refused_for_its_block_bytes(
    tmp_path: Path, store: EmbeddedBlockStore
) -> None:
    data = os.urandom(1 << 20)
    leaves = [Block.from_data(data[i : i + (1 << 18)]) for i in range(0, len(data), 1 << 18)]
    ufs = UnixFSData(UnixFSType.FILE, filesize=len(data), blocksizes=tuple(len(b.data) for b in leaves))
    links = tuple(PBLink(b.cid, "x" * 12_000, len(b.data)) for b in leaves)
    root = Block.from_data(encode_node(PBNode(links, encode_unixfs(ufs))), codec=CODEC_DAG_PB)
    bomb = Shard(data, root.cid, [*leaves, root])
    assert sum(len(b.data) for b in bomb.blocks) > dag_overhead_limit(len(data))
    err = refusal(tmp_path, store, car([root.cid], bomb.blocks), bomb)
    assert err.status == 422 and "unique blocks exceed" in str(err)
