"""UnixFS directories, byte-identical to Kubo's ``ipfs add -r`` (boxo's ``unixfs/io``).

A directory is one dag-pb node (UnixFS ``Directory``) linking to its entries by
name, links sorted by name (bytewise), each link's ``Tsize`` the cumulative size of
the entry's DAG. Files are imported as :mod:`scatter.ipfs.unixfs` imports them
(CIDv0 with dag-pb leaves, or CIDv1 with raw leaves); symlinks become UnixFS
``Symlink`` nodes; hidden entries (names starting with ``.``) are skipped, as
``ipfs add -r`` does without ``--hidden``.

A directory whose node would be large is sharded, as Kubo shards: when the
estimated size of its links (name bytes plus CID bytes, summed) reaches
:data:`SHARD_THRESHOLD` (256 KiB, Kubo's ``UnixFSShardingSizeThreshold``), it
becomes a HAMT of ``HAMTShard`` nodes with fanout 256 keyed by ``murmur3-x64-64``
of each name (:mod:`scatter.ipfs.hamt`): a slot holding one entry links to it as
``XX<name>``; a slot where several names collide links to a sub-shard ``XX``
that splits them on the next 8 bits of their hashes.

Blocks go to ``sink`` children first, the root last; memory holds one
directory's link list at a time (per level of the tree being walked).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs.block import Block
from scatter.ipfs.cid import CODEC_DAG_PB, cid_bytes, hash_multihash, make_cid
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs
from scatter.ipfs.hamt import DEFAULT_FANOUT, hamt_index, slot_name
from scatter.ipfs.unixfs import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_LINKS, import_file
from scatter.ipfs.varint import uvarint

__all__ = ["SHARD_THRESHOLD", "DirectoryImportResult", "import_directory"]

#: A directory whose links' estimated size is over this many bytes is sharded (Kubo's default).
SHARD_THRESHOLD: Final = 256 * 1024
_HASH_MURMUR3: Final = 0x22  # the multicodec of murmur3-x64-64, in a HAMTShard's hashType


@dataclass(frozen=True, slots=True)
class DirectoryImportResult:
    """Outcome of importing a directory tree."""

    root: CID
    size: int  # bytes of file content
    block_count: int
    files: int
    directories: int


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    cid: CID
    tsize: int  # cumulative size of the entry's DAG (encoded bytes)


class _Importer:
    def __init__(
        self,
        sink: Callable[[Block], object] | None,
        cid_version: int,
        chunk_size: int,
        max_links: int,
        hidden: bool,
        shard_threshold: int,
        progress: Callable[[int], object] | None,
    ) -> None:
        if cid_version not in (0, 1):
            raise ScatterValueError(f"cid_version must be 0 or 1, not {cid_version!r}")
        self.sink = sink
        self.cid_version = cid_version
        self.chunk_size = chunk_size
        self.max_links = max_links
        self.hidden = hidden
        self.shard_threshold = shard_threshold
        self.progress = progress
        self.size = self.blocks = self.files = self.directories = 0

    def _emit(self, data: bytes) -> tuple[CID, int]:
        block = Block(make_cid(self.cid_version, CODEC_DAG_PB, hash_multihash(data)), data)
        self.blocks += 1
        if self.sink is not None:
            self.sink(block)
        return block.cid, len(data)

    def entry(self, path: Path, name: str) -> _Entry:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            target = os.fsencode(os.readlink(path))
            cid, size = self._emit(
                encode_node(PBNode((), encode_unixfs(UnixFSData(UnixFSType.SYMLINK, target))))
            )
            return _Entry(name, cid, size)
        if stat.S_ISDIR(mode):
            return self.directory(path, name)
        if not stat.S_ISREG(mode):
            raise ScatterValueError(f"{path} is neither a file, a directory nor a symlink; not imported")
        return self.file(path, name)

    def file(self, path: Path, name: str) -> _Entry:
        tsize = 0

        def take(block: Block) -> None:
            nonlocal tsize
            tsize += len(block.data)  # every block of the file's DAG, as often as it is linked
            self.blocks += 1
            if self.sink is not None:
                self.sink(block)

        result = import_file(
            path,
            take,
            cid_version=self.cid_version,
            chunk_size=self.chunk_size,
            max_links=self.max_links,
            progress=self.progress,
        )
        self.size += result.size
        self.files += 1
        return _Entry(name, result.root, tsize)

    def directory(self, path: Path, name: str) -> _Entry:
        with os.scandir(path) as it:
            names = sorted((e.name for e in it if self.hidden or not e.name.startswith(".")), key=os.fsencode)
        entries = [self.entry(path / n, n) for n in names]
        self.directories += 1
        estimate = sum(len(os.fsencode(e.name)) + len(cid_bytes(e.cid)) for e in entries)
        if estimate >= self.shard_threshold:  # boxo: estimatedSize + change >= HAMTShardingSize
            cid, size = self._shard(entries, 0)
        else:
            links = tuple(PBLink(e.cid, e.name, e.tsize) for e in entries)
            cid, size = self._emit(
                encode_node(PBNode(links, encode_unixfs(UnixFSData(UnixFSType.DIRECTORY))))
            )
            size += sum(e.tsize for e in entries)
        return _Entry(name, cid, size)

    def _shard(self, entries: list[_Entry], level: int) -> tuple[CID, int]:
        """One HAMT node over ``entries`` (their names' hashes agree on the first ``level`` bytes)."""
        slots: dict[int, list[_Entry]] = {}
        for e in entries:
            slots.setdefault(hamt_index(e.name, level), []).append(e)
        links: list[PBLink] = []
        total = 0
        bitfield = 0
        for index in sorted(slots):
            bitfield |= 1 << index
            group = slots[index]
            if len(group) == 1:
                links.append(PBLink(group[0].cid, slot_name(index) + group[0].name, group[0].tsize))
                total += group[0].tsize
            else:
                sub, sub_size = self._shard(group, level + 1)
                links.append(PBLink(sub, slot_name(index), sub_size))
                total += sub_size
        bits = bitfield.to_bytes(DEFAULT_FANOUT // 8, "big").lstrip(b"\0")
        data = (
            b"\x08" + uvarint(int(UnixFSType.HAMT_SHARD))
            + b"\x12" + uvarint(len(bits)) + bits
            + b"\x28" + uvarint(_HASH_MURMUR3)
            + b"\x30" + uvarint(DEFAULT_FANOUT)
        )  # fmt: skip
        cid, size = self._emit(encode_node(PBNode(tuple(links), data)))
        return cid, size + total


def import_directory(
    path: str | os.PathLike[str],
    sink: Callable[[Block], object] | None = None,
    *,
    cid_version: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    hidden: bool = False,
    shard_threshold: int = SHARD_THRESHOLD,
    progress: Callable[[int], object] | None = None,
) -> DirectoryImportResult:
    """Import the directory tree at ``path`` as ``ipfs add -r [--cid-version=1]`` does; every
    block goes to ``sink`` (children before parents, the root last). ``hidden``: include
    names starting with ``.`` (``--hidden``)."""
    p = Path(path)
    if not p.is_dir():
        raise ScatterValueError(f"{p} is not a directory")
    imp = _Importer(sink, cid_version, chunk_size, max_links, hidden, shard_threshold, progress)
    root = imp.directory(p, p.name)
    return DirectoryImportResult(root.cid, imp.size, imp.blocks, imp.files, imp.directories)
