"""Walking DAGs held in a block source: links, depth-first order, scopes, paths.

Used by the stores (pin, gc, CAR export) and the gateway (``dag-scope``,
``entity-bytes``, UnixFS path resolution). Only raw and dag-pb blocks have
known link layouts here; traversal is iterative, so depth is no concern.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.cid import CODEC_DAG_PB, CODEC_RAW, cid_bytes, cid_str
from scatter.ipfs.dagpb import UnixFSData, UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.errors import BlockNotFoundError, DagFormatError, UnsupportedCIDError

__all__ = ["ByteRange", "DagScope", "file_size", "links_of", "missing_blocks", "resolve_path", "walk_dag"]


class DagScope(StrEnum):
    """How much of a DAG a CAR response carries (the Trustless Gateway's ``dag-scope``)."""

    BLOCK = "block"
    ENTITY = "entity"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Half-open range ``[start, end)`` of a file's bytes (``end`` None: to the end)."""

    start: int
    end: int | None = None


def links_of(cid: CID, data: bytes) -> list[CID]:
    """The CIDs a block links to, in order."""
    code = cid.codec.code
    if code == CODEC_RAW:
        return []
    if code == CODEC_DAG_PB:
        return [link.cid for link in decode_node(data).links]
    raise UnsupportedCIDError(f"cannot follow links of codec {cid.codec.name}; only raw and dag-pb")


def _unixfs(data: bytes | None) -> UnixFSData | None:
    if data is None:
        return None
    try:
        return decode_unixfs(data)
    except DagFormatError:
        return None  # plain dag-pb, not UnixFS


def _get(source: BlockSource, cid: CID, verify: bool) -> bytes:
    data = source.get(cid)
    if verify:
        verify_block(cid, data)
    return data


def walk_dag(
    root: CID,
    source: BlockSource,
    *,
    scope: DagScope = DagScope.ALL,
    byte_range: ByteRange | None = None,
    verify: bool = False,
    dedupe: bool = True,
) -> Iterator[Block]:
    """Yield the blocks of the DAG under ``root`` in depth-first pre-order.

    ``scope`` BLOCK yields the root only; ENTITY the blocks that make up the
    root's UnixFS entity (a whole file, or a directory node without its
    children); ALL the whole DAG. ``byte_range`` (files only, with ENTITY or ALL)
    keeps only the leaves and inner nodes needed for those bytes.
    """
    seen: set[bytes] = set()
    # (cid, file offset of the node's first byte)
    stack: list[tuple[CID, int]] = [(root, 0)]
    while stack:
        cid, offset = stack.pop()
        if dedupe:
            key = cid_bytes(cid)
            if key in seen:
                continue
            seen.add(key)
        data = _get(source, cid, verify)
        yield Block(cid, data)
        if scope is DagScope.BLOCK or cid.codec.code == CODEC_RAW:
            continue
        if cid.codec.code != CODEC_DAG_PB:
            raise UnsupportedCIDError(f"cannot follow links of codec {cid.codec.name}")
        node = decode_node(data)
        ufs = _unixfs(node.data)
        links = [link.cid for link in node.links]
        if ufs is not None and ufs.type is UnixFSType.DIRECTORY and scope is DagScope.ENTITY:
            continue  # the directory node is the entity; its children are not
        if ufs is not None and ufs.type is UnixFSType.HAMT_SHARD and scope is DagScope.ENTITY:
            width = len(f"{max((ufs.fanout or 256) - 1, 1):X}")
            shards = [link.cid for link in node.links if link.name is not None and len(link.name) == width]
            stack.extend((c, 0) for c in reversed(shards))
            continue
        if ufs is not None and ufs.type in (UnixFSType.FILE, UnixFSType.RAW) and byte_range is not None:
            if links and len(ufs.blocksizes) != len(links):
                raise DagFormatError(
                    f"UnixFS node {cid_str(cid)} has {len(links)} links but {len(ufs.blocksizes)} blocksizes"
                )
            pos = offset + len(ufs.data or b"")
            keep: list[tuple[CID, int]] = []
            for child, size in zip(links, ufs.blocksizes, strict=True):
                if pos + size > byte_range.start and (byte_range.end is None or pos < byte_range.end):
                    keep.append((child, pos))
                pos += size
            stack.extend(reversed(keep))
            continue
        stack.extend((c, 0) for c in reversed(links))


def file_size(root: CID, source: BlockSource) -> int | None:
    """The byte size of the UnixFS file at ``root`` (None if it is not a file)."""
    if root.codec.code == CODEC_RAW:
        return len(source.get(root))
    ufs = _unixfs(decode_node(source.get(root)).data)
    if ufs is None or ufs.type not in (UnixFSType.FILE, UnixFSType.RAW):
        return None
    if ufs.filesize is not None:
        return ufs.filesize
    return len(ufs.data or b"") + sum(ufs.blocksizes)


def resolve_path(root: CID, segments: Sequence[str], source: BlockSource) -> tuple[list[Block], CID]:
    """Follow UnixFS directory links by name; return the blocks passed and the target CID."""
    passed: list[Block] = []
    cid = root
    for name in segments:
        if cid.codec.code != CODEC_DAG_PB:
            raise ScatterValueError(f"path segment {name!r} under {cid_str(cid)}, which is not a directory")
        data = source.get(cid)
        passed.append(Block(cid, data))
        node = decode_node(data)
        ufs = decode_unixfs(node.data) if node.data is not None else None
        if ufs is None or ufs.type is not UnixFSType.DIRECTORY:
            kind = (
                "a HAMT-sharded directory (not supported)"
                if ufs and ufs.type is UnixFSType.HAMT_SHARD
                else "not a directory"
            )
            raise ScatterValueError(f"cannot resolve {name!r}: {cid_str(cid)} is {kind}")
        for link in node.links:
            if link.name == name:
                cid = link.cid
                break
        else:
            raise BlockNotFoundError(f"no entry {name!r} in directory {cid_str(cid)}")
    return passed, cid


def missing_blocks(root: CID, source: BlockSource, *, limit: int | None = None) -> list[CID]:
    """Blocks of the DAG under ``root`` that ``source`` does not hold.

    Reads only dag-pb nodes; raw leaves are checked with ``has``. Does not
    descend below a missing node. Stops after ``limit`` gaps if given.
    """
    gaps: list[CID] = []
    seen: set[bytes] = set()
    stack = [root]
    while stack and (limit is None or len(gaps) < limit):
        cid = stack.pop()
        key = bytes(cid.digest)
        if key in seen:
            continue
        seen.add(key)
        if cid.codec.code == CODEC_RAW:
            if not source.has(cid):
                gaps.append(cid)
            continue
        try:
            data = source.get(cid)
        except BlockNotFoundError:
            gaps.append(cid)
            continue
        stack.extend(reversed(links_of(cid, data)))
    return gaps
