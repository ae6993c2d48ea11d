"""Scatter's block size limit is Kubo's: 1 MiB, everywhere a block is made or taken."""

from __future__ import annotations

import io

import pytest

from scatter.errors import ScatterValueError
from scatter.ipfs import Block, import_bytes, read_car, write_car
from scatter.ipfs.cid import MAX_BLOCK_SIZE
from scatter.ipfs.errors import BlockTooLargeError
from scatter.ipfs.unixfs import UnixFSImporter

KUBO_BLOCK_LIMIT = 1024 * 1024  # boxo's bitswap and Kubo's `block put` / `dag import` limit


def test_the_limit_is_kubos() -> None:
    assert MAX_BLOCK_SIZE == KUBO_BLOCK_LIMIT


def test_a_block_one_byte_over_kubos_limit_is_refused_in_a_car() -> None:
    big = Block.from_data(bytes(KUBO_BLOCK_LIMIT + 1))
    out = io.BytesIO()
    write_car(out, [big.cid], [big])
    out.seek(0)
    _roots, blocks = read_car(out)
    with pytest.raises(BlockTooLargeError):
        list(blocks)
    with pytest.raises(BlockTooLargeError):
        big.verify()


def test_a_block_of_exactly_kubos_limit_is_taken() -> None:
    block = Block.from_data(bytes(KUBO_BLOCK_LIMIT))
    assert block.verify() is block


def test_chunks_are_bounded_by_kubos_limit() -> None:
    root, blocks = import_bytes(bytes(3 * KUBO_BLOCK_LIMIT), chunk_size=KUBO_BLOCK_LIMIT)  # raw leaves
    assert max(len(b.data) for b in blocks) == KUBO_BLOCK_LIMIT
    with pytest.raises(ScatterValueError, match="Kubo"):
        UnixFSImporter(chunk_size=KUBO_BLOCK_LIMIT + 1)
    with pytest.raises(ScatterValueError, match="Kubo"):
        UnixFSImporter(cid_version=0, chunk_size=KUBO_BLOCK_LIMIT)  # its dag-pb leaf would exceed it
    assert root is not None
