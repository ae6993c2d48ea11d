"""An in-memory block store (tests, small tools). Not bounded: do not use for big DAGs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from multiformats import CID

from scatter.ipfs._local import LocalBlockStore
from scatter.ipfs.abc import StoreStat
from scatter.ipfs.block import Block
from scatter.ipfs.cid import cid_str
from scatter.ipfs.errors import BlockNotFoundError

__all__ = ["MemoryBlockStore"]


class MemoryBlockStore(LocalBlockStore):
    """Blocks in a dict keyed by multihash, as Kubo keys its blockstore."""

    def __init__(self) -> None:
        self._blocks: dict[bytes, bytes] = {}
        self._codecs: dict[bytes, CID] = {}
        self._pins: dict[bytes, CID] = {}
        self._lock = threading.Lock()

    def get(self, cid: CID) -> bytes:
        try:
            return self._blocks[bytes(cid.digest)]
        except KeyError:
            raise BlockNotFoundError(f"block {cid_str(cid)} not found", cid=cid) from None

    def has(self, cid: CID) -> bool:
        return bytes(cid.digest) in self._blocks

    def _write(self, block: Block) -> None:
        key = bytes(block.cid.digest)
        with self._lock:
            self._blocks.setdefault(key, block.data)
            self._codecs.setdefault(key, block.cid)

    def _delete_key(self, key: bytes) -> int:
        with self._lock:
            self._codecs.pop(key, None)
            return len(self._blocks.pop(key, b""))

    def _keys(self) -> Iterator[bytes]:
        return iter(list(self._blocks))

    def _write_pin(self, cid: CID) -> None:
        self._pins[bytes(cid)] = cid

    def _remove_pin(self, cid: CID) -> bool:
        return self._pins.pop(bytes(cid), None) is not None

    def pins(self) -> list[CID]:
        return list(self._pins.values())

    def stat(self) -> StoreStat:
        return StoreStat(len(self._blocks), sum(len(b) for b in self._blocks.values()))

    def iter_cids(self) -> Iterator[CID]:
        return iter(list(self._codecs.values()))
