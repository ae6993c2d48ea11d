"""A block: a CID and the bytes it addresses."""

from __future__ import annotations

from dataclasses import dataclass

from multiformats import CID

from scatter.ipfs.cid import (
    CODEC_DAG_PB,
    CODEC_RAW,
    MAX_BLOCK_SIZE,
    check_supported,
    cid_str,
    hash_multihash,
    make_cid,
)
from scatter.ipfs.errors import BlockIntegrityError, BlockTooLargeError

__all__ = ["Block", "verify_block"]


@dataclass(frozen=True, slots=True)
class Block:
    """An IPFS block. Construct with :meth:`from_data` to compute the CID, or
    directly when the CID comes from elsewhere (then call :meth:`verify`)."""

    cid: CID
    data: bytes

    @classmethod
    def from_data(cls, data: bytes, *, codec: int = CODEC_RAW, cid_version: int = 1) -> Block:
        """Hash ``data`` (sha2-256) and wrap it in a block of the given codec."""
        if cid_version == 0 and codec != CODEC_DAG_PB:
            raise BlockIntegrityError("CIDv0 can only address dag-pb blocks; use cid_version=1")
        return cls(make_cid(cid_version, codec, hash_multihash(data)), data)

    def verify(self, *, max_size: int = MAX_BLOCK_SIZE) -> Block:
        """Return ``self`` if the bytes hash to the CID, else raise :class:`BlockIntegrityError`."""
        verify_block(self.cid, self.data, max_size=max_size)
        return self

    def __repr__(self) -> str:
        return f"Block({cid_str(self.cid)}, {len(self.data)} bytes)"


def verify_block(cid: CID, data: bytes | memoryview, *, max_size: int = MAX_BLOCK_SIZE) -> None:
    """Check that ``data`` is the block ``cid`` names: supported codec and hash, size, digest."""
    check_supported(cid)
    if len(data) > max_size:
        raise BlockTooLargeError(f"block {cid_str(cid)} is {len(data)} bytes, over the {max_size}-byte limit")
    if hash_multihash(data, cid.hashfun.code) != bytes(cid.digest):
        raise BlockIntegrityError(f"block data does not hash to {cid_str(cid)}: rejected")
