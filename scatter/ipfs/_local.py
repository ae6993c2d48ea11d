"""Logic shared by the stores that hold blocks themselves (embedded on disk, in memory):
CAR import/export, pinning with completeness checks, and mark-and-sweep GC."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator
from typing import BinaryIO

from multiformats import CID

from scatter.ipfs.abc import BlockStore, GcResult
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.car import CarWriter, read_car
from scatter.ipfs.cid import CODEC_RAW, cid_str
from scatter.ipfs.dag import links_of, missing_blocks, walk_dag
from scatter.ipfs.errors import BlockNotFoundError


class LocalBlockStore(BlockStore):
    """A store with direct access to its blocks; subclasses provide the primitives."""

    # ------------------------------------------------------- primitives

    @abstractmethod
    def _write(self, block: Block) -> None:
        """Store an already verified block (idempotent, atomic)."""

    @abstractmethod
    def _delete_key(self, key: bytes) -> int:
        """Delete the block with multihash ``key``; return bytes freed."""

    @abstractmethod
    def _keys(self) -> Iterator[bytes]:
        """Multihashes of every block held."""

    @abstractmethod
    def _write_pin(self, cid: CID) -> None: ...

    @abstractmethod
    def _remove_pin(self, cid: CID) -> bool: ...

    def _shared(self) -> contextlib.AbstractContextManager[object]:
        """Held by writers (import, pin): they may run together, but never with GC."""
        return contextlib.nullcontext()

    def _exclusive(self) -> contextlib.AbstractContextManager[object]:
        """Held by GC."""
        return contextlib.nullcontext()

    def _sync(self) -> None:
        """Make every block written so far durable before a pin refers to them."""

    # ------------------------------------------------------- BlockStore

    def put(self, block: Block) -> None:
        verify_block(block.cid, block.data)
        self._write(block)

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[CID]:
        with self._shared():
            roots, blocks = read_car(stream)
            for block in blocks:  # read_car verified each one
                self._write(block)
            if pin:
                self._sync()
                for root in roots:
                    self._pin_locked(root)
            return roots

    def export_car(self, root: CID, out: BinaryIO) -> int:
        writer = CarWriter(out, [root])
        writer.write_blocks(walk_dag(root, self))
        return writer.finish()

    def missing(self, root: CID) -> list[CID]:
        """Blocks of the DAG under ``root`` that are not held (see :func:`missing_blocks`)."""
        return missing_blocks(root, self)

    def _pin_locked(self, cid: CID) -> None:
        gaps = self.missing(cid)
        if gaps:
            raise BlockNotFoundError(
                f"cannot pin {cid_str(cid)}: {len(gaps)} block(s) of its DAG are not held, "
                f"e.g. {cid_str(gaps[0])}; import the complete DAG first",
                cid=gaps[0],
            )
        self._write_pin(cid)

    def pin(self, cid: CID) -> None:
        with self._shared():
            self._sync()
            self._pin_locked(cid)

    def unpin(self, cid: CID) -> None:
        if not self._remove_pin(cid):
            raise BlockNotFoundError(f"{cid_str(cid)} is not pinned", cid=cid)

    def gc(self) -> GcResult:
        with self._exclusive():
            live: set[bytes] = set()
            stack = list(self.pins())
            while stack:
                cid = stack.pop()
                key = bytes(cid.digest)
                if key in live:
                    continue
                live.add(key)
                if cid.codec.code == CODEC_RAW:
                    continue
                try:
                    stack.extend(links_of(cid, self.get(cid)))
                except BlockNotFoundError:
                    continue
            removed = freed = 0
            for key in list(self._keys()):
                if key not in live:
                    freed += self._delete_key(key)
                    removed += 1
            return GcResult(removed, freed)
