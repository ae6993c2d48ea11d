"""CarBlocks: a CAR file's blocks read where they lie, each verified once when the file is opened."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from multiformats import CID

from scatter.ipfs.block import Block
from scatter.ipfs.car import CARV2_PRAGMA, write_car
from scatter.ipfs.carfile import CarBlocks, CarV2Error
from scatter.ipfs.errors import BlockIntegrityError, BlockNotFoundError
from scatter.ipfs.unixfs import import_bytes


def car_v1(roots: list[CID], blocks: list[Block]) -> bytes:
    buf = io.BytesIO()
    write_car(buf, roots, blocks)
    return buf.getvalue()


def car_v2(payload: bytes) -> bytes:
    """A CAR v2 wrapping ``payload`` (a CAR v1), with no index."""
    data_offset = len(CARV2_PRAGMA) + 40
    header = bytes(16) + data_offset.to_bytes(8, "little") + len(payload).to_bytes(8, "little") + bytes(8)
    return CARV2_PRAGMA + header + payload


def test_every_block_is_read_back_from_the_file(tmp_path: Path) -> None:
    root, blocks = import_bytes(os.urandom(700_000), cid_version=1)
    path = tmp_path / "x.car"
    path.write_bytes(car_v1([root], list(blocks)))
    with CarBlocks(path) as car:
        assert car.roots == [root]
        for block in blocks:
            assert car.has(block.cid) and car.get(block.cid) == block.data
        # found by multihash, as in a block store: the same block under its CIDv0
        v0 = CID("base58btc", 0, "dag-pb", root.digest)
        assert car.get(v0) == next(b.data for b in blocks if b.cid == root)
        stranger = Block.from_data(b"not in this CAR")
        assert not car.has(stranger.cid)
        with pytest.raises(BlockNotFoundError):
            car.get(stranger.cid)


def test_a_tampered_block_is_refused_when_the_file_is_opened(tmp_path: Path) -> None:
    root, blocks = import_bytes(os.urandom(300_000), cid_version=1)
    body = bytearray(car_v1([root], list(blocks)))
    body[-10] ^= 0xFF  # inside the last block's data
    path = tmp_path / "x.car"
    path.write_bytes(bytes(body))
    with pytest.raises(BlockIntegrityError):
        CarBlocks(path)


def test_a_car_v2_is_left_to_the_streaming_reader(tmp_path: Path) -> None:
    root, blocks = import_bytes(os.urandom(1000), cid_version=1)
    path = tmp_path / "x.car"
    path.write_bytes(car_v2(car_v1([root], list(blocks))))
    with pytest.raises(CarV2Error):
        CarBlocks(path)
