"""Walking DAGs held in a block source: links, depth-first order, scopes, paths.

Used by the stores (pin, gc, CAR export) and the gateway (``dag-scope``,
``entity-bytes``, UnixFS path resolution). Raw, dag-pb and dag-cbor blocks have
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
from scatter.ipfs.cid import CODEC_DAG_CBOR, CODEC_DAG_PB, CODEC_RAW, cid_bytes, cid_str
from scatter.ipfs.dagpb import PBNode, UnixFSData, UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.errors import BlockNotFoundError, DagFormatError, UnsupportedCIDError
from scatter.ipfs.hamt import DEFAULT_FANOUT, hamt_index, slot_name

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
    """The CIDs a block links to, in order (dag-cbor: depth-first through its maps and lists)."""
    code = cid.codec.code
    if code == CODEC_RAW:
        return []
    if code == CODEC_DAG_PB:
        return [link.cid for link in decode_node(data).links]
    if code == CODEC_DAG_CBOR:
        return _cbor_links(_decode_cbor(cid, data))
    raise UnsupportedCIDError(f"cannot follow links of codec {cid.codec.name}; only raw, dag-pb and dag-cbor")


def _decode_cbor(cid: CID, data: bytes) -> object:
    """A dag-cbor block as Python values, links (tag 42) as CIDs."""
    from scatter.ipfs.car import decode_dag_cbor

    try:
        return decode_dag_cbor(data)
    except ScatterValueError as exc:
        raise DagFormatError(f"dag-cbor block {cid_str(cid)} does not decode: {exc}") from None


def _cbor_links(value: object) -> list[CID]:
    out: list[CID] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, CID):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return out


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
        if cid.codec.code == CODEC_DAG_CBOR:
            if scope is DagScope.ALL:  # not UnixFS: its entity is the block itself
                stack.extend((c, 0) for c in reversed(links_of(cid, data)))
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
    value: object = None  # inside a dag-cbor block: the value reached so far
    for name in segments:
        if value is not None or cid.codec.code == CODEC_DAG_CBOR:
            if value is None:
                data = source.get(cid)
                passed.append(Block(cid, data))
                value = _decode_cbor(cid, data)
            value = _cbor_step(cid, value, name)
            if isinstance(value, CID):
                cid, value = value, None
            continue
        if cid.codec.code != CODEC_DAG_PB:
            raise ScatterValueError(f"path segment {name!r} under {cid_str(cid)}, which is not a directory")
        data = source.get(cid)
        passed.append(Block(cid, data))
        node = decode_node(data)
        ufs = decode_unixfs(node.data) if node.data is not None else None
        if ufs is not None and ufs.type is UnixFSType.HAMT_SHARD:
            cid = _hamt_lookup(cid, node, ufs.fanout or DEFAULT_FANOUT, name, source, passed)
            continue
        if ufs is None or ufs.type is not UnixFSType.DIRECTORY:
            raise ScatterValueError(f"cannot resolve {name!r}: {cid_str(cid)} is not a directory")
        for link in node.links:
            if link.name == name:
                cid = link.cid
                break
        else:
            raise BlockNotFoundError(f"no entry {name!r} in directory {cid_str(cid)}")
    if value is not None:
        raise ScatterValueError(f"path ends inside dag-cbor block {cid_str(cid)}, not at a link")
    return passed, cid


def _cbor_step(cid: CID, value: object, name: str) -> object:
    """One path segment inside a dag-cbor value: a map key, or a list index."""
    if isinstance(value, dict) and name in value:
        return value[name]
    if isinstance(value, list) and name.isdigit() and int(name) < len(value):
        return value[int(name)]
    raise BlockNotFoundError(f"no field {name!r} in dag-cbor block {cid_str(cid)}")


def _hamt_lookup(
    root: CID, node: PBNode, fanout: int, name: str, source: BlockSource, passed: list[Block]
) -> CID:
    """The entry ``name`` of the sharded directory ``root`` (whose block is already in ``passed``);
    the sub-shards walked on the way are appended to ``passed``."""
    level = 0
    while True:
        prefix = slot_name(hamt_index(name, level, fanout), fanout)
        for link in node.links:
            if link.name == prefix + name:
                return link.cid
            if link.name == prefix:  # a sub-shard: one level down
                data = source.get(link.cid)
                passed.append(Block(link.cid, data))
                node = decode_node(data)
                level += 1
                break
        else:
            raise BlockNotFoundError(f"no entry {name!r} in sharded directory {cid_str(root)}")


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
