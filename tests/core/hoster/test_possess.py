"""The hoster's possession caches across a format change: a cache file written by an older release
(SCPC version 1, 24-byte nodes of possession format 1) is rebuilt from the shard, never read as
format 2, and the proofs answer the slot's format-2 root."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from scatter.formats.possession import CACHE_LEVEL, PossessionCache, depth, verify_proof
from scatter.hoster.possess import ProofKeeper
from scatter.ipfs.cid import cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore
from tests.core.hoster.test_content_rules import Shard, shard

SEED = bytes(range(7, 39))


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[EmbeddedBlockStore]:
    blocks = EmbeddedBlockStore(tmp_path / "blocks", durable=False)
    yield blocks
    blocks.close()


def _held(store: EmbeddedBlockStore, size: int) -> Shard:
    s = shard(os.urandom(size))
    store.put_many(s.blocks)
    store.pin(s.root)
    return s


def _format_1_cache(size: int) -> bytes:
    """What an older release wrote: SCPC version 1, then one 24-byte node per 2**level segments."""
    level = min(CACHE_LEVEL, depth(size))
    count = -(-size // (128 << level))
    return struct.pack(">4sBBQ", b"SCPC", 1, level, size) + os.urandom(24 * count)


@pytest.mark.parametrize("size", [5000, 3 * (128 << 10) + 9])
def test_an_old_format_cache_on_disk_is_rebuilt_from_the_shard(
    tmp_path: Path, store: EmbeddedBlockStore, size: int
) -> None:
    s = _held(store, size)
    keeper = ProofKeeper(tmp_path / "possession", store)
    path = keeper.directory / f"{cid_str(s.root)}.pc"
    path.write_bytes(_format_1_cache(size))
    proof = keeper.prove(s.root, size, SEED)
    assert verify_proof(s.possession, size, SEED, proof)
    # The file now holds the current format, and a fresh keeper (a restart) reads it as is.
    rebuilt = PossessionCache.from_bytes(path.read_bytes())
    assert path.read_bytes()[4] == 2 and rebuilt.root == s.possession
    assert ProofKeeper(keeper.directory, store).prove(s.root, size, SEED) == proof


def test_a_cache_file_of_the_right_shape_but_another_version_is_not_trusted(
    tmp_path: Path, store: EmbeddedBlockStore
) -> None:
    # Node bytes that would parse as format 2 (the count fits) under a version byte of 1: rebuilt,
    # not read, so the proof is of the shard rather than of the stale nodes (2 MiB: the cap and
    # the upper siblings come from the kept level).
    size = (2 << 20) + 9
    s = _held(store, size)
    keeper = ProofKeeper(tmp_path / "possession", store)
    path = keeper.directory / f"{cid_str(s.root)}.pc"
    stale = PossessionCache.build(lambda o, n: os.urandom(n), size).to_bytes()
    path.write_bytes(stale[:4] + b"\x01" + stale[5:])
    assert verify_proof(s.possession, size, SEED, keeper.prove(s.root, size, SEED))
