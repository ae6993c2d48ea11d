"""Interfaces of the IPFS layer; implementations depend on these, not on each other."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from multiformats import CID

from scatter.ipfs.block import Block

__all__ = ["BlockSource", "BlockStore", "GcResult", "StoreStat"]


@dataclass(frozen=True, slots=True)
class StoreStat:
    """Size of a block store."""

    block_count: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class GcResult:
    """What a garbage collection removed."""

    removed_blocks: int
    freed_bytes: int


class BlockSource(ABC):
    """Anything blocks can be read from (a store, a CAR being read, a gateway)."""

    @abstractmethod
    def get(self, cid: CID) -> bytes:
        """The block's bytes; raises :class:`~scatter.ipfs.errors.BlockNotFoundError`."""

    @abstractmethod
    def has(self, cid: CID) -> bool:
        """Whether the block is held (never fetches)."""


class BlockStore(BlockSource):
    """A content-addressed block store with recursive pins and garbage collection.

    Implementations: :class:`~scatter.ipfs.embedded.EmbeddedBlockStore` (on disk,
    zero setup) and :class:`~scatter.ipfs.kubo.KuboBlockStore` (Kubo's RPC API).
    Every block written is verified against its CID first.
    """

    @abstractmethod
    def put(self, block: Block) -> None:
        """Verify and store one block (unpinned until a pin covers it)."""

    def put_many(self, blocks: Iterable[Block]) -> int:
        """Verify and store blocks; return how many were given."""
        n = 0
        for block in blocks:
            self.put(block)
            n += 1
        return n

    @abstractmethod
    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[CID]:
        """Import a CAR, verifying every block; pin its roots once complete. Returns the roots.

        Crash-safe: a root is pinned only after all of its DAG is stored.
        """

    @abstractmethod
    def export_car(self, root: CID, out: BinaryIO) -> int:
        """Write the DAG under ``root`` as a CAR v1 (depth-first order); return bytes written."""

    @abstractmethod
    def pin(self, cid: CID) -> None:
        """Pin ``cid`` recursively; its whole DAG must be held locally (nothing is fetched)."""

    @abstractmethod
    def unpin(self, cid: CID) -> None:
        """Remove the recursive pin on ``cid``; raises ``BlockNotFoundError`` if it is not pinned."""

    @abstractmethod
    def pins(self) -> list[CID]:
        """The recursively pinned roots."""

    @abstractmethod
    def gc(self) -> GcResult:
        """Delete every block that no pin reaches."""

    @abstractmethod
    def stat(self) -> StoreStat:
        """Number and total size of the blocks held."""

    def iter_cids(self) -> Iterator[CID]:
        """Every block held (optional; stores that cannot list raise NotImplementedError)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (connections, locks)."""

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
