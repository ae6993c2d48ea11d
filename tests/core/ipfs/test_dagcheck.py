"""The hoster's shard check: bounded work on hostile DAGs, sizes that must add up, the root."""

from __future__ import annotations

import random
import time

import pytest
from multiformats import CID

from scatter.formats import possession
from scatter.formats.possession import reference_root
from scatter.ipfs.block import Block
from scatter.ipfs.cid import CODEC_DAG_PB
from scatter.ipfs.dagcheck import DagCheckError, check_shard_cache, check_shard_dag, root_of_cid
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs
from scatter.ipfs.errors import BlockNotFoundError
from scatter.ipfs.memory import MemoryBlockStore
from scatter.ipfs.unixfs import import_bytes

DATA = random.Random(7).randbytes(700_000)


def _file_node(children: list[tuple[CID, int]], *, filesize: int | None = None, data: bytes = b"") -> Block:
    sizes = tuple(size for _, size in children)
    total = len(data) + sum(sizes) if filesize is None else filesize
    ufs = UnixFSData(UnixFSType.FILE, data=data or None, filesize=total, blocksizes=sizes)
    node = PBNode(links=tuple(PBLink(cid, "", size) for cid, size in children), data=encode_unixfs(ufs))
    return Block.from_data(encode_node(node), codec=CODEC_DAG_PB)


def _store(blocks: list[Block]) -> MemoryBlockStore:
    store = MemoryBlockStore()
    for block in blocks:
        store.put(block)
    return store


def test_an_honest_shard_passes_and_gives_the_reference_root() -> None:
    root, blocks = import_bytes(DATA, chunk_size=64 * 1024, max_links=4)  # three levels of nodes
    store = _store(blocks)
    want = reference_root(DATA)
    assert check_shard_dag(store, root, len(DATA)) == want
    assert check_shard_dag(store, root, len(DATA), expected_root=want) == want
    assert root_of_cid(store, root) == (len(DATA), want)
    assert possession.root_of_cid(store, root) == (len(DATA), want)  # the SDK's import path
    with pytest.raises(DagCheckError, match="over the 1000-byte limit"):
        root_of_cid(store, root, max_size=1000)


def test_a_raw_single_block_file() -> None:
    block = Block.from_data(b"x" * 1000)
    store = _store([block])
    assert root_of_cid(store, block.cid) == (1000, reference_root(b"x" * 1000))


def test_a_dag_bomb_is_refused_quickly_in_one_line() -> None:
    # 3 levels of 174 links, all to one child: 174**3 leaves of 256 KiB (1.3 TB) from 4 blocks.
    leaf = Block.from_data(bytes(256 * 1024))
    low = _file_node([(leaf.cid, len(leaf.data))] * 174)
    # Lying sizes: each level claims its children are as small as a leaf.
    mid = _file_node([(low.cid, len(leaf.data))] * 174)
    top = _file_node([(mid.cid, len(leaf.data))] * 174)
    store = _store([leaf, low, mid, top])
    started = time.perf_counter()
    with pytest.raises(DagCheckError) as info:
        check_shard_dag(store, top.cid, 174 * len(leaf.data))
    assert time.perf_counter() - started < 1.0
    assert "\n" not in str(info.value)
    assert "holds" in str(info.value)


def test_a_dag_bomb_with_honest_sizes_is_refused_by_its_size() -> None:
    leaf = Block.from_data(b"\x01" * 1024)
    low = _file_node([(leaf.cid, 1024)] * 174)
    mid = _file_node([(low.cid, 174 * 1024)] * 174)
    top = _file_node([(mid.cid, 174 * 174 * 1024)] * 174)
    store = _store([leaf, low, mid, top])
    with pytest.raises(DagCheckError, match="but the slot says"):
        check_shard_dag(store, top.cid, 4096)


def test_repeated_tiny_blocks_are_refused_even_when_sizes_add_up() -> None:
    # 174 * 174 one-byte leaves, all one block: the size is true, the walk would be 30k visits.
    leaf = Block.from_data(b"\x02")
    low = _file_node([(leaf.cid, 1)] * 174)
    top = _file_node([(low.cid, 174)] * 174)
    store = _store([leaf, low, top])
    with pytest.raises(DagCheckError, match="repeats blocks"):
        check_shard_dag(store, top.cid, 174 * 174)


def test_unique_blocks_beyond_the_bound_are_refused_before_hashing() -> None:
    root, blocks = import_bytes(DATA, chunk_size=64 * 1024)
    store = _store(blocks)
    with pytest.raises(DagCheckError, match="exceed"):
        check_shard_dag(store, root, len(DATA), max_unique_bytes=len(DATA) // 2)


def test_a_tampered_blocksize_is_refused() -> None:
    a, b = Block.from_data(b"a" * 300), Block.from_data(b"b" * 200)
    lying = _file_node([(a.cid, 300), (b.cid, 201)])
    store = _store([a, b, lying])
    with pytest.raises(DagCheckError, match="declares a 201-byte child"):
        check_shard_dag(store, lying.cid, 501)


def test_a_tampered_filesize_is_refused() -> None:
    a, b = Block.from_data(b"a" * 300), Block.from_data(b"b" * 200)
    lying = _file_node([(a.cid, 300), (b.cid, 200)], filesize=400)
    store = _store([a, b, lying])
    with pytest.raises(DagCheckError, match="filesize 400"):
        check_shard_dag(store, lying.cid, 400)


def test_a_file_of_another_size_is_refused() -> None:
    root, blocks = import_bytes(DATA[:5000])
    with pytest.raises(DagCheckError, match="5000 bytes, but the slot says 5001"):
        check_shard_dag(_store(blocks), root, 5001)


def test_a_missing_block_raises_not_found() -> None:
    root, blocks = import_bytes(DATA, chunk_size=64 * 1024)
    store = _store([b for b in blocks if b.cid != blocks[3].cid])
    with pytest.raises(BlockNotFoundError):
        check_shard_dag(store, root, len(DATA))


def test_a_wrong_root_is_refused() -> None:
    root, blocks = import_bytes(DATA[:9999])
    good = reference_root(DATA[:9999])
    bad = bytes([good[0] ^ 1]) + good[1:]
    with pytest.raises(DagCheckError, match="possession root"):
        check_shard_dag(_store(blocks), root, 9999, expected_root=bad)


def test_an_empty_child_link_is_refused() -> None:
    a, empty = Block.from_data(b"a" * 300), Block.from_data(b"")
    node = _file_node([(a.cid, 300), (empty.cid, 0)])
    with pytest.raises(DagCheckError, match="empty child"):
        check_shard_dag(_store([a, empty, node]), node.cid, 300)


def test_the_cache_from_the_check_proves_segments() -> None:
    from scatter.formats.possession import build_proof, challenge_indices, verify_proof

    root, blocks = import_bytes(DATA, chunk_size=64 * 1024)
    want = reference_root(DATA)
    cache = check_shard_cache(_store(blocks), root, len(DATA), expected_root=want)
    assert cache.root == want
    seed = bytes(range(32))
    proof = build_proof(
        lambda o, n: DATA[o : o + n], len(DATA), challenge_indices(seed, len(DATA)), cache=cache
    )
    assert verify_proof(want, len(DATA), seed, proof)
