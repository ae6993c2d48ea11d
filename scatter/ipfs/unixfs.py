"""Streaming UnixFS file importer, byte-identical to Kubo's ``ipfs add``.

Layout: fixed-size chunks, balanced DAG of at most ``max_links`` links per node,
as go-unixfs/boxo's ``balanced`` builder builds it:

* a file of one chunk is that chunk's leaf (a raw block with raw leaves);
* otherwise the tree has the smallest depth that fits, every node left of the
  last leaf's path is full, and nodes on that path may have a single child;
* leaves are raw blocks (CIDv1, ``--cid-version=1``, the default here) or UnixFS
  ``File`` dag-pb nodes (CIDv0, Kubo's default); inner nodes are UnixFS ``File``
  nodes with ``filesize`` and one ``blocksizes`` entry per child.

Memory is bounded: one partial chunk plus one pending link list per tree level
(at most ``max_links`` entries each, about 5 levels for a petabyte).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs.block import Block
from scatter.ipfs.cid import CODEC_DAG_PB, CODEC_RAW, MAX_BLOCK_SIZE, hash_multihash, make_cid
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_LINKS",
    "ImportResult",
    "UnixFSImporter",
    "import_bytes",
    "import_file",
    "import_stream",
]

DEFAULT_CHUNK_SIZE = 262144
DEFAULT_MAX_LINKS = 174


@dataclass(frozen=True, slots=True)
class _Link:
    cid: CID
    tsize: int  # cumulative size of the child's DAG (encoded bytes)
    filesize: int  # file bytes below the child


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Outcome of importing one file."""

    root: CID
    size: int
    block_count: int


class UnixFSImporter:
    """Incremental importer: feed bytes with :meth:`write`, end with :meth:`finish`.

    ``write`` returns the blocks completed so far (leaves and any inner nodes that
    became full); ``finish`` returns the remaining ones with the root last. Every
    block is returned exactly once, in an order where children precede parents.
    """

    def __init__(
        self,
        cid_version: int = 1,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_links: int = DEFAULT_MAX_LINKS,
        *,
        raw_leaves: bool | None = None,
    ) -> None:
        if cid_version not in (0, 1):
            raise ScatterValueError(f"cid_version must be 0 or 1, not {cid_version!r}")
        if max_links < 2:
            raise ScatterValueError("max_links must be at least 2")
        if raw_leaves is None:
            raw_leaves = cid_version == 1
        # a raw leaf is the chunk itself; a dag-pb leaf wraps it in a few bytes of UnixFS framing
        largest = MAX_BLOCK_SIZE if raw_leaves else MAX_BLOCK_SIZE - 1024
        if not 1 <= chunk_size <= largest:
            raise ScatterValueError(f"chunk_size must be between 1 and {largest} bytes (Kubo's block limit)")
        if raw_leaves and cid_version == 0:
            raise ScatterValueError("raw leaves need CIDv1; use cid_version=1")
        self.cid_version = cid_version
        self.chunk_size = chunk_size
        self.max_links = max_links
        self.raw_leaves = raw_leaves
        self._buf = bytearray()
        self._levels: list[list[_Link]] = []
        self._leaves = 0
        self._size = 0
        self._blocks = 0
        self._root: CID | None = None

    # ------------------------------------------------------------ public

    def write(self, data: bytes | bytearray | memoryview) -> list[Block]:
        """Add file bytes; return the blocks this completed (possibly none)."""
        if self._root is not None:
            raise ScatterValueError("importer already finished; create a new UnixFSImporter")
        out: list[Block] = []
        chunk = self.chunk_size
        if not self._buf and len(data) == chunk and isinstance(data, bytes):
            self._leaf(data, out)
            return out
        mv = memoryview(data).cast("B")
        if self._buf:
            need = chunk - len(self._buf)
            self._buf += mv[:need]
            mv = mv[need:]
            if len(self._buf) < chunk:
                return out
            self._leaf(bytes(self._buf), out)
            self._buf.clear()
        while len(mv) >= chunk:
            self._leaf(mv[:chunk].tobytes(), out)
            mv = mv[chunk:]
        if len(mv):
            self._buf += mv
        return out

    def finish(self) -> list[Block]:
        """Flush the last chunk and the pending inner nodes; the root is the last block."""
        if self._root is not None:
            raise ScatterValueError("importer already finished")
        out: list[Block] = []
        if self._buf or self._leaves == 0:
            self._leaf(bytes(self._buf), out)
            self._buf.clear()
        if self._leaves == 1 and len(self._levels) == 1:
            self._root = self._levels[0][0].cid
            self._levels.clear()
            return out
        level = 0
        while level < len(self._levels):
            link = self._inner(self._levels[level], out)
            self._levels[level] = []
            if level == len(self._levels) - 1:
                self._root = link.cid
                break
            self._push(level + 1, link, out)
            level += 1
        self._levels.clear()
        return out

    @property
    def root(self) -> CID:
        """The root CID; available after :meth:`finish`."""
        if self._root is None:
            raise ScatterValueError("the root is known only after finish()")
        return self._root

    @property
    def size(self) -> int:
        """File bytes written so far."""
        return self._size

    @property
    def block_count(self) -> int:
        """Blocks returned so far (identical chunks count each time)."""
        return self._blocks

    # ------------------------------------------------------------ internals

    def _leaf(self, data: bytes, out: list[Block]) -> None:
        n = len(data)
        if self.raw_leaves:
            block = Block(make_cid(1, CODEC_RAW, hash_multihash(data)), data)
            tsize = n
        else:
            enc = encode_node(PBNode((), encode_unixfs(UnixFSData(UnixFSType.FILE, data or None, n))))
            block = Block(make_cid(self.cid_version, CODEC_DAG_PB, hash_multihash(enc)), enc)
            tsize = len(enc)
        out.append(block)
        self._blocks += 1
        self._leaves += 1
        self._size += n
        self._push(0, _Link(block.cid, tsize, n), out)

    def _push(self, level: int, link: _Link, out: list[Block]) -> None:
        if level == len(self._levels):
            self._levels.append([])
        pending = self._levels[level]
        if len(pending) == self.max_links:
            full = self._inner(pending, out)
            self._levels[level] = pending = []
            self._push(level + 1, full, out)
        pending.append(link)

    def _inner(self, links: list[_Link], out: list[Block]) -> _Link:
        filesize = sum(link.filesize for link in links)
        data = encode_unixfs(
            UnixFSData(UnixFSType.FILE, None, filesize, tuple(link.filesize for link in links))
        )
        node = PBNode(tuple(PBLink(link.cid, "", link.tsize) for link in links), data)
        enc = encode_node(node)
        block = Block(make_cid(self.cid_version, CODEC_DAG_PB, hash_multihash(enc)), enc)
        out.append(block)
        self._blocks += 1
        return _Link(block.cid, len(enc) + sum(link.tsize for link in links), filesize)


def import_bytes(
    data: bytes,
    cid_version: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
) -> tuple[CID, list[Block]]:
    """Import an in-memory file; return the root CID and every block (root last)."""
    imp = UnixFSImporter(cid_version, chunk_size, max_links)
    blocks = imp.write(data)
    blocks += imp.finish()
    return imp.root, blocks


def import_stream(
    stream: BinaryIO,
    sink: Callable[[Block], object] | None = None,
    *,
    cid_version: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    progress: Callable[[int], object] | None = None,
) -> ImportResult:
    """Import a binary stream chunk by chunk, handing each block to ``sink``.

    ``progress`` is called with the number of bytes read after each read.
    """
    imp = UnixFSImporter(cid_version, chunk_size, max_links)
    while True:
        data = stream.read(chunk_size)
        if not data:
            break
        for block in imp.write(data):
            if sink is not None:
                sink(block)
        if progress is not None:
            progress(len(data))
    for block in imp.finish():
        if sink is not None:
            sink(block)
    return ImportResult(imp.root, imp.size, imp.block_count)


def import_file(
    path: str | os.PathLike[str],
    sink: Callable[[Block], object] | None = None,
    *,
    cid_version: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    progress: Callable[[int], object] | None = None,
) -> ImportResult:
    """Import a file from disk with bounded memory (see :func:`import_stream`)."""
    p = Path(path)
    if p.is_dir():
        raise ScatterValueError(f"{p} is a directory; give a file (directories are not imported)")
    try:
        f = p.open("rb", buffering=0)
    except FileNotFoundError:
        raise ScatterValueError(f"no such file: {p}") from None
    with f:
        return import_stream(
            f,
            sink,
            cid_version=cid_version,
            chunk_size=chunk_size,
            max_links=max_links,
            progress=progress,
        )
