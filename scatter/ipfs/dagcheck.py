"""Checks a hoster runs on a shard's DAG before committing to it, with work bounded by the slot.

A client names a CID, a ``size`` and a possession root. Walking the UnixFS DAG
naively costs what the DAG *expands* to, which a hostile client can make huge
with few unique blocks (a "DAG bomb": levels of links that all point at one
child, with sizes that lie). :func:`check_shard_dag` therefore works in two passes:

1. **Structure**, over unique blocks only: each is fetched once and verified
   against its CID; their total length must stay within ``max_unique_bytes``
   (about ``size`` plus a per-block allowance); each node's declared sizes
   (``blocksizes``, ``filesize``) must equal the bytes really under it (computed
   bottom-up from the unique blocks, never by expanding); the file must be
   ``size`` bytes; no link may hold zero bytes, and the expanded walk may not
   visit many more blocks than there are (so pass 2 costs O(size)).
2. **Content**: the file's bytes are streamed (every block verified again) into
   the possession tree, whose root is returned and compared with ``expected_root``.

A missing block raises :class:`~scatter.ipfs.errors.BlockNotFoundError` (fetch it
and retry); a block failing its CID or not parsing raises the IPFS layer's
``BlockIntegrityError`` / ``DagFormatError``; anything else :class:`DagCheckError`
(a ``DagFormatError``). All are one line; all but the first are
``ScatterIntegrityError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from multiformats import CID

from scatter.formats.possession import CACHE_LEVEL, PossessionCache, PossessionRoot
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.block import verify_block
from scatter.ipfs.cid import CODEC_DAG_PB, CODEC_RAW, cid_bytes, cid_str
from scatter.ipfs.dagpb import UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.errors import DagFormatError
from scatter.ipfs.exporter import iter_file

__all__ = ["DagCheckError", "check_shard_cache", "check_shard_dag", "default_max_unique_bytes", "root_of_cid"]

#: Allowance for DAG overhead (links, protobuf framing, dag-pb leaves): 1/16 of the size.
_OVERHEAD_DIVISOR = 16
#: Fixed allowance on top (a root node, small files).
_OVERHEAD_FIXED = 64 * 1024
#: Duplicate leaf visits allowed per this many file bytes (dedup of 256 KiB leaves passes).
_BYTES_PER_EXTRA_VISIT = 4096


class DagCheckError(DagFormatError):
    """The DAG is not an acceptable shard: too big, inconsistent sizes, wrong size or root."""


def default_max_unique_bytes(size: int) -> int:
    """The bound on the unique blocks' total for a ``size``-byte file: size + size/16 + 64 KiB."""
    return size + size // _OVERHEAD_DIVISOR + _OVERHEAD_FIXED


@dataclass(slots=True)
class _Node:
    own: int  # bytes this block contributes itself (raw data, or UnixFS inline data)
    children: list[bytes]  # child keys, in order
    declared: list[int]  # blocksizes, one per child
    filesize: int | None
    cid: CID


def _scan(root: CID, source: BlockSource, bound: int) -> dict[bytes, _Node]:
    """Pass 1: fetch and verify each unique block once, within ``bound`` bytes in total."""
    nodes: dict[bytes, _Node] = {}
    total = 0
    stack = [root]
    while stack:
        cid = stack.pop()
        key = cid_bytes(cid)
        if key in nodes:
            continue
        data = source.get(cid)
        total += len(data)
        if total > bound:
            raise DagCheckError(
                f"DAG {cid_str(root)}: its unique blocks exceed {bound} bytes, too many for the slot; refused"
            )
        verify_block(cid, data)
        code = cid.codec.code
        if code == CODEC_RAW:
            nodes[key] = _Node(len(data), [], [], None, cid)
            continue
        if code != CODEC_DAG_PB:
            raise DagCheckError(f"block {cid_str(cid)} is {cid.codec.name}, not part of a UnixFS file")
        pb = decode_node(data)
        if pb.data is None:
            raise DagCheckError(f"block {cid_str(cid)} is dag-pb without UnixFS data, not part of a file")
        ufs = decode_unixfs(pb.data)
        if ufs.type not in (UnixFSType.FILE, UnixFSType.RAW):
            raise DagCheckError(f"block {cid_str(cid)} is a UnixFS {ufs.type.name.lower()}, not a file")
        if len(ufs.blocksizes) != len(pb.links):
            raise DagCheckError(
                f"UnixFS node {cid_str(cid)} has {len(pb.links)} links but {len(ufs.blocksizes)} blocksizes"
            )
        if any(b == 0 for b in ufs.blocksizes):
            raise DagCheckError(f"UnixFS node {cid_str(cid)} links to an empty child; refused")
        children = [cid_bytes(link.cid) for link in pb.links]
        nodes[key] = _Node(len(ufs.data or b""), children, list(ufs.blocksizes), ufs.filesize, cid)
        stack.extend(link.cid for link in reversed(pb.links))
    return nodes


def _check_sizes(root: CID, nodes: dict[bytes, _Node], size: int) -> None:
    """Each node's declared sizes against the bytes really under it, bottom-up over unique nodes."""
    true_size: dict[bytes, int] = {}
    visits: dict[bytes, int] = {}
    # Iterative post-order over the unique DAG (content addressing rules out cycles).
    stack: list[tuple[bytes, bool]] = [(cid_bytes(root), False)]
    while stack:
        key, done = stack.pop()
        if key in true_size:
            continue
        node = nodes[key]
        if not done:
            stack.append((key, True))
            stack.extend((c, False) for c in node.children if c not in true_size)
            continue
        for child, declared in zip(node.children, node.declared, strict=True):
            if true_size[child] != declared:
                raise DagCheckError(
                    f"UnixFS node {cid_str(node.cid)} declares a {declared}-byte child "
                    f"{cid_str(nodes[child].cid)} that holds {true_size[child]} bytes; refused"
                )
        total = node.own + sum(node.declared)
        if node.filesize is not None and node.filesize != total:
            raise DagCheckError(
                f"UnixFS node {cid_str(node.cid)} declares filesize {node.filesize} but holds {total} bytes"
            )
        true_size[key] = total
        visits[key] = 1 + sum(visits[c] for c in node.children)
    got = true_size[cid_bytes(root)]
    if got != size:
        raise DagCheckError(f"file {cid_str(root)} is {got} bytes, but the slot says {size}; refused")
    allowed = len(nodes) + size // _BYTES_PER_EXTRA_VISIT
    if visits[cid_bytes(root)] > allowed:
        raise DagCheckError(
            f"file {cid_str(root)} repeats blocks {visits[cid_bytes(root)]} times over "
            f"{len(nodes)} unique blocks (at most {allowed} visits); refused"
        )


def _checked_builder(
    source: BlockSource,
    cid: CID,
    size: int,
    max_unique_bytes: int | None,
    expected_root: bytes | None,
    keep_level: int | None,
) -> PossessionRoot:
    if size <= 0:
        raise DagCheckError(f"a shard has at least one byte, not {size}")
    bound = default_max_unique_bytes(size) if max_unique_bytes is None else max_unique_bytes
    nodes = _scan(cid, source, bound)
    _check_sizes(cid, nodes, size)
    builder = PossessionRoot(keep_level=keep_level)
    for piece in iter_file(cid, source, verify=True):
        builder.update(piece)
    if builder.size != size:  # the store changed under us between the passes
        raise DagCheckError(f"file {cid_str(cid)} streamed {builder.size} bytes, expected {size}")
    root = builder.finish()
    if expected_root is not None and root != bytes(expected_root):
        raise DagCheckError(
            f"file {cid_str(cid)} has possession root 0x{root.hex()}, "
            f"not the slot's 0x{bytes(expected_root).hex()}"
        )
    return builder


def check_shard_dag(
    source: BlockSource,
    cid: CID,
    size: int,
    max_unique_bytes: int | None = None,
    *,
    expected_root: bytes | None = None,
) -> bytes:
    """Check the UnixFS file at ``cid`` is a sound ``size``-byte shard; return its possession root.

    Work and memory are bounded by ``size``: the unique blocks may total at most
    ``max_unique_bytes`` (default :func:`default_max_unique_bytes`) before anything
    is hashed. With ``expected_root`` (the slot's ``bytes32``), a different root raises.
    """
    return _checked_builder(source, cid, size, max_unique_bytes, expected_root, None).finish()


def check_shard_cache(
    source: BlockSource,
    cid: CID,
    size: int,
    max_unique_bytes: int | None = None,
    *,
    expected_root: bytes | None = None,
    level: int = CACHE_LEVEL,
) -> PossessionCache:
    """:func:`check_shard_dag`, returning the shard's :class:`PossessionCache` (its ``root``
    is the possession root) from the same pass: what a hoster keeps to answer challenges."""
    return _checked_builder(source, cid, size, max_unique_bytes, expected_root, level).cache()


def root_of_cid(source: BlockSource, cid: CID, *, max_size: int | None = None) -> tuple[int, bytes]:
    """``(size, possession root)`` of a UnixFS file already in ``source``, by streaming its bytes.

    The size is the root's declared one, checked as :func:`check_shard_dag` does
    (so a lying DAG costs no more than its declared size); ``max_size`` refuses
    larger files before reading them.
    """
    data = source.get(cid)
    verify_block(cid, data)
    if cid.codec.code == CODEC_RAW:
        size = len(data)
    elif cid.codec.code == CODEC_DAG_PB:
        pb = decode_node(data)
        if pb.data is None:
            raise DagCheckError(f"{cid_str(cid)} is dag-pb without UnixFS data, not a file")
        ufs = decode_unixfs(pb.data)
        size = ufs.filesize if ufs.filesize is not None else len(ufs.data or b"") + sum(ufs.blocksizes)
    else:
        raise DagCheckError(f"{cid_str(cid)} is {cid.codec.name}, not a UnixFS file")
    if max_size is not None and size > max_size:
        raise DagCheckError(f"file {cid_str(cid)} is {size} bytes, over the {max_size}-byte limit")
    return size, check_shard_dag(source, cid, size)
