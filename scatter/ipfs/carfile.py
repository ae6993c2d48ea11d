"""The blocks of a CAR file on disk, read where they lie.

A hoster receives each shard as a CAR spooled to a file. Checking the shard's DAG and copying
it into the store can read the blocks straight from that file: the CAR is read once, every
block verified against its CID, and its position kept (multihash -> offset, length). Before
this, every upload was first imported into a scratch block store (one file per block, removed
afterwards), which cost about as much as the upload's own store write.
"""

from __future__ import annotations

from pathlib import Path

from multiformats import CID

from scatter.ipfs.abc import BlockSource
from scatter.ipfs.car import CARV2_PRAGMA, read_car
from scatter.ipfs.cid import MAX_BLOCK_SIZE, cid_str
from scatter.ipfs.errors import BlockNotFoundError


class CarV2Error(Exception):
    """A CAR v2 file: its blocks sit in a wrapped payload; read it through :func:`read_car`."""


class CarBlocks(BlockSource):
    """The blocks of the CAR v1 file at ``path`` (verified once, at open). Close it when done."""

    def __init__(self, path: Path, *, max_block_size: int = MAX_BLOCK_SIZE) -> None:
        self._file = path.open("rb")
        try:
            if self._file.read(len(CARV2_PRAGMA)) == CARV2_PRAGMA:
                raise CarV2Error(f"{path.name} is a CAR v2")
            self._file.seek(0)
            self.roots, blocks = read_car(self._file, max_block_size=max_block_size)
            self._where: dict[bytes, tuple[int, int]] = {}
            for block in blocks:  # read_car verifies each block against its CID
                end = self._file.tell()
                self._where[bytes(block.cid.digest)] = (end - len(block.data), len(block.data))
        except BaseException:
            self._file.close()
            raise

    def get(self, cid: CID) -> bytes:
        where = self._where.get(bytes(cid.digest))
        if where is None:
            raise BlockNotFoundError(f"block {cid_str(cid)} is not in the CAR")
        offset, length = where
        self._file.seek(offset)
        return self._file.read(length)

    def has(self, cid: CID) -> bool:
        return bytes(cid.digest) in self._where

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CarBlocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
