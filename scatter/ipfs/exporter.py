"""Rebuild a UnixFS file's bytes from its root CID and a block source.

Every block is verified against its CID (``verify=True``), and the DAG is
checked for consistency: each node's ``blocksizes`` must match what its
children produce, and the total must equal the root's ``filesize``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.block import verify_block
from scatter.ipfs.cid import CODEC_DAG_PB, CODEC_RAW, cid_str
from scatter.ipfs.dagpb import UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.errors import DagFormatError, UnsupportedCIDError

__all__ = ["export_bytes", "export_file", "iter_file"]


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
    """Write the file to a stream or path; return its size. A path is written atomically."""
    if isinstance(out, str | os.PathLike):
        dest = Path(out)
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            with tmp.open("wb") as f:
                n = export_file(root, source, f, verify=verify)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return n
    n = 0
    for piece in iter_file(root, source, verify=verify):
        out.write(piece)
        n += len(piece)
    return n
