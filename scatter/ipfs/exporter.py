"""Rebuild a UnixFS file's bytes from its root CID and a block source.

Every block is verified against its CID (``verify=True``), and the DAG is
checked for consistency: each node's ``blocksizes`` must match what its
children produce, and the total must equal the root's ``filesize``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs._output import open_output
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.block import verify_block
from scatter.ipfs.cid import CODEC_DAG_PB, CODEC_RAW, cid_str
from scatter.ipfs.dagpb import UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.errors import DagFormatError, UnsupportedCIDError

__all__ = [
    "export_bytes",
    "export_file",
    "export_tree",
    "is_directory",
    "iter_directory",
    "iter_file",
    "write_tar",
]


def _expect(cid: CID, got: int, want: int | None) -> None:
    if want is not None and got != want:
        raise DagFormatError(f"UnixFS node {cid_str(cid)} declares {want} bytes but its DAG holds {got}")


def iter_file(root: CID, source: BlockSource, *, verify: bool = True) -> Iterator[bytes]:
    """Yield the file's bytes in order, piece by piece (bounded memory)."""
    # Each frame: (cid, expected size or None, bytes produced before this node started)
    produced = 0
    # stack entries: ("enter", cid, expected) or ("check", cid, expected, start)
    stack: list[tuple[CID, int | None, int, bool]] = [(root, None, 0, False)]
    while stack:
        cid, expected, start, closing = stack.pop()
        if closing:
            _expect(cid, produced - start, expected)
            continue
        data = source.get(cid)
        if verify:
            verify_block(cid, data)
        code = cid.codec.code
        if code == CODEC_RAW:
            _expect(cid, len(data), expected)
            produced += len(data)
            yield data
            continue
        if code != CODEC_DAG_PB:
            raise UnsupportedCIDError(f"{cid_str(cid)} is {cid.codec.name}, not a UnixFS file")
        node = decode_node(data)
        if node.data is None:
            raise DagFormatError(f"{cid_str(cid)} is a dag-pb node without UnixFS data")
        ufs = decode_unixfs(node.data)
        if ufs.type in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD):
            raise ScatterValueError(f"{cid_str(cid)} is a directory, not a file")
        if ufs.type not in (UnixFSType.FILE, UnixFSType.RAW):
            raise ScatterValueError(f"{cid_str(cid)} is a UnixFS {ufs.type.name.lower()}, not a file")
        if node.links and len(ufs.blocksizes) != len(node.links):
            raise DagFormatError(
                f"UnixFS node {cid_str(cid)} has {len(node.links)} links but {len(ufs.blocksizes)} blocksizes"
            )
        declared = ufs.filesize
        if declared is not None and node.links:
            _expect(cid, len(ufs.data or b"") + sum(ufs.blocksizes), declared)
        want = expected if expected is not None else declared
        stack.append((cid, want, produced, True))
        if ufs.data:
            produced += len(ufs.data)
            yield ufs.data
        for link, size in zip(reversed(node.links), reversed(ufs.blocksizes), strict=True):
            stack.append((link.cid, size, 0, False))


def export_bytes(root: CID, source: BlockSource, *, verify: bool = True) -> bytes:
    """The whole file in memory (small files and tests)."""
    return b"".join(iter_file(root, source, verify=verify))


def export_file(
    root: CID, source: BlockSource, out: BinaryIO | str | os.PathLike[str], *, verify: bool = True
) -> int:
    """Write the file to a stream or path; return its size. A regular file is written atomically;
    ``-`` is stdout, and a FIFO or device is written in place (:func:`~scatter.ipfs._output.open_output`)."""
    if isinstance(out, str | os.PathLike):
        with open_output(out) as f:
            return export_file(root, source, f, verify=verify)
    n = 0
    for piece in iter_file(root, source, verify=verify):
        out.write(piece)
        n += len(piece)
    return n


# ---------------------------------------------------------------- directories


def iter_directory(root: CID, source: BlockSource, *, verify: bool = True) -> Iterator[tuple[str, CID]]:
    """``(name, cid)`` of each entry of the UnixFS directory ``root`` (plain or HAMT-sharded),
    in link order. Raises ``ScatterValueError`` if ``root`` is not a directory."""
    data = source.get(root)
    if verify:
        verify_block(root, data)
    kind = _unixfs_type(root, data)
    if kind is UnixFSType.DIRECTORY:
        for link in decode_node(data).links:
            yield _entry_name(root, link.name or ""), link.cid
        return
    if kind is not UnixFSType.HAMT_SHARD:
        raise ScatterValueError(f"{cid_str(root)} is not a directory")
    stack = [(root, data)]
    while stack:
        cid, block = stack.pop()
        node = decode_node(block)
        ufs = decode_unixfs(node.data or b"")
        width = len(f"{(ufs.fanout or 256) - 1:X}")
        subs: list[tuple[CID, bytes]] = []
        for link in node.links:
            name = link.name or ""
            if len(name) == width:
                sub = source.get(link.cid)
                if verify:
                    verify_block(link.cid, sub)
                subs.append((link.cid, sub))
            else:
                yield _entry_name(cid, name[width:]), link.cid
        stack.extend(reversed(subs))


def _unixfs_type(cid: CID, data: bytes) -> UnixFSType | None:
    if cid.codec.code != CODEC_DAG_PB:
        return None
    node = decode_node(data)
    return decode_unixfs(node.data).type if node.data is not None else None


def _entry_name(directory: CID, name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise DagFormatError(f"directory {cid_str(directory)} has an unsafe entry name {name[:60]!r}")
    return name


def export_tree(root: CID, source: BlockSource, dest: str | os.PathLike[str], *, verify: bool = True) -> int:
    """Write the UnixFS file or directory ``root`` to the new path ``dest`` (directories as
    directories, symlinks as symlinks, each file verified); return the file bytes written."""
    out = Path(dest)
    if out.exists() or out.is_symlink():
        raise ScatterValueError(f"{out} exists; give a new path to export a directory to")
    data = source.get(root)
    kind = _unixfs_type(root, data)
    if kind is UnixFSType.SYMLINK:
        target = decode_unixfs(decode_node(data).data or b"").data or b""
        out.symlink_to(os.fsdecode(target))
        return 0
    if kind not in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD):
        return export_file(root, source, out, verify=verify)
    out.mkdir()
    return sum(
        export_tree(cid, source, out / name, verify=verify)
        for name, cid in iter_directory(root, source, verify=verify)
    )


def is_directory(root: CID, source: BlockSource) -> bool:
    """Whether ``root`` is a UnixFS directory (plain or sharded)."""
    return _unixfs_type(root, source.get(root)) in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD)


def write_tar(root: CID, source: BlockSource, out: BinaryIO, *, name: str | None = None) -> int:
    """Stream the UnixFS file or directory ``root`` as a tar archive (as ``ipfs get -a``: the top
    entry is named by the CID, or ``name``); each file verified as it is read. Returns the
    file bytes archived."""
    import tarfile

    from scatter.chunkio import ChunkReader
    from scatter.ipfs.dag import file_size

    total = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        stack = [(name or cid_str(root), root)]
        while stack:
            path, cid = stack.pop()
            info = tarfile.TarInfo(path)
            info.mode = 0o644
            kind = _unixfs_type(cid, source.get(cid))
            if kind in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                entries = list(iter_directory(cid, source, verify=True))
                stack.extend((f"{path}/{n}", c) for n, c in reversed(entries))
            elif kind is UnixFSType.SYMLINK:
                info.type = tarfile.SYMTYPE
                info.linkname = os.fsdecode(
                    decode_unixfs(decode_node(source.get(cid)).data or b"").data or b""
                )
                tar.addfile(info)
            else:
                info.size = file_size(cid, source) or 0
                tar.addfile(info, io.BufferedReader(ChunkReader(iter_file(cid, source))))
                total += info.size
    return total
