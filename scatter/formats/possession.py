"""Possession tree, format version 2: the Merkle commitment a slot carries besides its CID.

The format (docs/trust.md, "Possession tree"; constants in
:mod:`~scatter.formats.possession_schema`): the shard's ``size`` bytes are cut into
``N = ceil(size / 128)`` segments, the last zero-padded; ``H(x) = keccak256(x)[:20]``;
leaf ``i`` is ``H(segment_i)``, a node is ``H(left || right)``; the tree has
``2**D`` leaves, ``D = max(1, ceil(log2 N))``, those past ``N`` being the zero
segment; the root is the top node followed by 12 zero bytes (a ``bytes32``). A
proof starts with the cap, the ``2**C`` nodes at height ``D - C`` (``C = min(3, D)``).

* :class:`PossessionRoot` streams bytes in and returns the root (memory O(log N));
  the hashing runs in C (:mod:`scatter.formats._merkle`: native SIMD if built, else
  WebAssembly) unless another :class:`Hasher` is given; :class:`ReferenceHasher` is
  the plain-Python mirror.
* :func:`challenge_indices`, :func:`build_proof` and :func:`verify_proof` are the
  challenge, the hoster's answer and the contract's check.
* :class:`PossessionCache` keeps one tree level (20 bytes per 128 KiB by default)
  so a proof re-reads only the 128 KiB around each challenged segment.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from eth_utils.crypto import keccak

from scatter.formats.errors import FormatError, TruncatedError, UnsupportedVersionError
from scatter.formats.possession_schema import (
    CAP_LEVELS,
    CHALLENGES,
    NODE,
    ROOT_SIZE,
    SEED_SIZE,
    SEGMENT,
    VERSION,
)

__all__ = [
    "CACHE_LEVEL",
    "Hasher",
    "PossessionCache",
    "PossessionRoot",
    "ReferenceHasher",
    "build_proof",
    "cap_levels",
    "challenge_indices",
    "default_hasher",
    "depth",
    "possession_root",
    "proof_size",
    "reference_root",
    "root_of_cid",
    "segment_count",
    "verify_proof",
]

Buffer = bytes | bytearray | memoryview
ReadRange = Callable[[int, int], bytes]

#: Height of the subtrees a streaming builder hashes in one call (2048 segments, 256 KiB).
CHUNK_HEIGHT: Final = 11
#: Default level a :class:`PossessionCache` keeps: one node per 1024 segments (128 KiB).
CACHE_LEVEL: Final = 10
_ZERO_SEGMENT: Final = bytes(SEGMENT)
_ROOT_PAD: Final = bytes(ROOT_SIZE - NODE)


# ----------------------------------------------------------------------------- shape


def segment_count(size: int) -> int:
    """``N = ceil(size / 128)``; a shard has at least one byte."""
    if size <= 0:
        raise FormatError(f"a possession tree needs at least one byte, not {size}")
    return (size + SEGMENT - 1) // SEGMENT


def depth(size: int) -> int:
    """``D = max(1, ceil(log2 N))``: siblings per challenged segment."""
    return max(1, (segment_count(size) - 1).bit_length())


def cap_levels(size: int) -> int:
    """``C = min(3, D)``: the levels under the root a proof sends once, as its cap."""
    return min(CAP_LEVELS, depth(size))


def proof_size(size: int) -> int:
    """Bytes of a proof: ``20 * 2**C + 5 * (128 + 20 * (D - C))``."""
    d, c = depth(size), cap_levels(size)
    return NODE * (1 << c) + CHALLENGES * (SEGMENT + NODE * (d - c))


# ----------------------------------------------------------------------------- hashing


def _h(data: Buffer) -> bytes:
    return keccak(bytes(data))[:NODE]


@functools.cache
def zero_node(level: int) -> bytes:
    """The node over ``2**level`` zero segments (the padding of the tree)."""
    if level == 0:
        return _h(_ZERO_SEGMENT)
    below = zero_node(level - 1)
    return _h(below + below)


class Hasher(Protocol):
    """Bulk tree hashing; :class:`ReferenceHasher` and the native and wasm hashers implement it."""

    def leaves(self, segments: Buffer) -> bytes:
        """``H(segment)`` for each 128-byte segment, concatenated."""
        ...

    def parents(self, nodes: Buffer) -> bytes:
        """``H(left || right)`` for each pair of 20-byte nodes, concatenated."""
        ...

    def subtree(self, segments: Buffer) -> bytes:
        """The node over ``2**h`` segments (``len(segments) == 128 * 2**h``)."""
        ...


class ReferenceHasher:
    """The format in plain Python, one keccak call per node: the mirror for tests (slow)."""

    def leaves(self, segments: Buffer) -> bytes:
        mv = memoryview(segments).cast("B")
        return b"".join(_h(mv[i : i + SEGMENT]) for i in range(0, len(mv), SEGMENT))

    def parents(self, nodes: Buffer) -> bytes:
        mv = memoryview(nodes).cast("B")
        return b"".join(_h(mv[i : i + 2 * NODE]) for i in range(0, len(mv), 2 * NODE))

    def subtree(self, segments: Buffer) -> bytes:
        level = self.leaves(segments)
        while len(level) > NODE:
            level = self.parents(level)
        return level


def default_hasher() -> Hasher:
    """The fast path: the native SIMD hasher if it was built, else this thread's wasm one."""
    from scatter.formats._merkle import fast_hasher

    return fast_hasher()


def reference_root(data: Buffer) -> bytes:
    """The root, computed the obvious way (whole tree in memory): the specification as code."""
    n = segment_count(len(data))
    d = depth(len(data))
    padded = bytes(data) + bytes(SEGMENT * (1 << d) - len(data))
    level = [_h(padded[i * SEGMENT : (i + 1) * SEGMENT]) for i in range(1 << d)]
    assert n <= len(level)
    while len(level) > 1:
        level = [_h(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0] + _ROOT_PAD


def _as_root(node: bytes) -> bytes:
    return node + _ROOT_PAD


# ----------------------------------------------------------------------------- streaming root


class PossessionRoot:
    """Streams a shard's bytes into its possession root; memory O(log N) plus one chunk.

    ``keep_level`` also records every node of that level (for a :class:`PossessionCache`,
    see :meth:`cache`); it sets the chunk hashed per call to ``2**keep_level`` segments.
    Without ``hasher``, each call uses :func:`default_hasher` on the calling thread, so a
    builder may be made on one thread and fed on another (one thread at a time).
    """

    def __init__(self, *, hasher: Hasher | None = None, keep_level: int | None = None) -> None:
        self._given = hasher
        self._height = CHUNK_HEIGHT if keep_level is None else keep_level
        if not 0 <= self._height <= 40:
            raise FormatError(f"keep_level must be 0..40, not {keep_level}")
        self._chunk = SEGMENT << self._height
        self._buf = bytearray()
        # _levels[l]: a left node at level l waiting for its right sibling (binary counter).
        self._levels: list[bytes | None] = []
        self._kept: bytearray | None = bytearray() if keep_level is not None else None
        self._root: bytes | None = None
        self.size = 0

    @property
    def _hasher(self) -> Hasher:
        return self._given if self._given is not None else default_hasher()

    def update(self, data: Buffer) -> None:
        if self._root is not None:
            raise FormatError("PossessionRoot.update after finish")
        mv = memoryview(data).cast("B")
        self.size += len(mv)
        if self._buf:
            take = min(len(mv), self._chunk - len(self._buf))
            self._buf += mv[:take]
            mv = mv[take:]
            if len(self._buf) == self._chunk:
                self._push(self._hasher.subtree(self._buf))
                self._buf = bytearray()
        while len(mv) >= self._chunk:
            self._push(self._hasher.subtree(mv[: self._chunk]))
            mv = mv[self._chunk :]
        if mv:
            self._buf += mv

    def _push(self, node: bytes) -> None:
        if self._kept is not None:
            self._kept += node
        level = self._height
        while True:
            while len(self._levels) <= level:
                self._levels.append(None)
            left = self._levels[level]
            if left is None:
                self._levels[level] = node
                return
            self._levels[level] = None
            node = _h(left + node)
            level += 1

    def finish(self) -> bytes:
        """The root as 32 bytes (the 20-byte node, then 12 zero bytes)."""
        if self._root is not None:
            return self._root
        d = depth(self.size)
        if d < self._height:
            # Everything is still in the buffer: one subtree of 2**d padded segments.
            self._buf += bytes((SEGMENT << d) - len(self._buf))
            node = self._hasher.subtree(self._buf)
            if self._kept is not None:
                self._kept += node
            self._root = _as_root(node)
            return self._root
        if self._buf:
            # Zero segments past N are the tree's own padding, so pad the last chunk.
            self._buf += bytes(self._chunk - len(self._buf))
            self._push(self._hasher.subtree(self._buf))
        self._buf = bytearray()
        while len(self._levels) <= d:
            self._levels.append(None)
        carry: bytes | None = None
        for level in range(self._height, d):
            left = self._levels[level]
            if left is not None:
                carry = _h(left + (carry if carry is not None else zero_node(level)))
            elif carry is not None:
                carry = _h(carry + zero_node(level))
        top = carry if carry is not None else self._levels[d]
        assert top is not None
        self._root = _as_root(top)
        return self._root

    def cache(self) -> PossessionCache:
        """After :meth:`finish`, the kept level as a cache (needs ``keep_level``)."""
        if self._kept is None:
            raise FormatError("this PossessionRoot was made without keep_level; it keeps no level")
        root = self.finish()
        level = min(self._height, depth(self.size))
        nodes = bytes(self._kept) if level == self._height else root[:NODE]
        return PossessionCache(size=self.size, level=level, nodes=nodes)


def possession_root(data: Buffer, *, hasher: Hasher | None = None) -> bytes:
    """The root of ``data`` (32 bytes)."""
    builder = PossessionRoot(hasher=hasher)
    builder.update(data)
    return builder.finish()


# ----------------------------------------------------------------------------- challenge


def challenge_indices(seed: bytes, size: int) -> list[int]:
    """Segment ``j`` (j = 0..4) is ``uint256(keccak256(abi.encode(seed, j))) % N``."""
    if len(seed) != SEED_SIZE:
        raise FormatError(f"a challenge seed is {SEED_SIZE} bytes, not {len(seed)}")
    n = segment_count(size)
    return [int.from_bytes(keccak(seed + j.to_bytes(32, "big")), "big") % n for j in range(CHALLENGES)]


# ----------------------------------------------------------------------------- cache and proofs

_CACHE_MAGIC: Final = b"SCPC"
_CACHE_HEADER: Final = struct.Struct(">4sBBQ")  # magic, version, level, size


def _read_exact(read_range: ReadRange, offset: int, length: int) -> bytes:
    data = read_range(offset, length)
    if len(data) != length:
        raise TruncatedError(
            f"reading {length} bytes at offset {offset} returned {len(data)}: "
            "the shard is shorter than its size"
        )
    return data


@dataclass(frozen=True, slots=True)
class PossessionCache:
    """One level of a shard's tree: enough to prove any segment by re-reading one subtree
    (the proof's cap comes from the levels above it, see :meth:`cap`).

    ``nodes`` holds the ``ceil(N / 2**level)`` nodes of ``level`` (20 bytes each); the
    levels above are rebuilt in memory on load (in plain Python: ~2 us per node, one
    node per 128 KiB of shard). ``level`` is at most the tree depth.
    """

    size: int
    level: int
    nodes: bytes
    _upper: list[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d = depth(self.size)
        if not 0 <= self.level <= d:
            raise FormatError(f"cache level {self.level} outside 0..{d}")
        count = -(-segment_count(self.size) // (1 << self.level))
        if len(self.nodes) != NODE * count:
            raise FormatError(
                f"cache holds {len(self.nodes) // NODE} nodes at level {self.level}, need {count}"
            )
        upper = [self.nodes]
        for level in range(self.level, d):
            below = upper[-1]
            if len(below) // NODE % 2:
                below += zero_node(level)
            upper.append(ReferenceHasher().parents(below))
        object.__setattr__(self, "_upper", upper)

    @classmethod
    def build(
        cls,
        read_range: ReadRange,
        size: int,
        *,
        level: int = CACHE_LEVEL,
        hasher: Hasher | None = None,
        read_size: int = 4 << 20,
    ) -> PossessionCache:
        """Read the shard once (``read_size`` bytes at a time) and keep ``level``."""
        builder = PossessionRoot(hasher=hasher, keep_level=level)
        for offset in range(0, size, read_size):
            builder.update(_read_exact(read_range, offset, min(read_size, size - offset)))
        return builder.cache()

    @property
    def root(self) -> bytes:
        return _as_root(self._upper[-1][:NODE])

    def to_bytes(self) -> bytes:
        return _CACHE_HEADER.pack(_CACHE_MAGIC, VERSION, self.level, self.size) + self.nodes

    @classmethod
    def from_bytes(cls, data: bytes) -> PossessionCache:
        if len(data) < _CACHE_HEADER.size:
            raise FormatError("possession cache too short for its header")
        magic, version, level, size = _CACHE_HEADER.unpack_from(data)
        if magic != _CACHE_MAGIC:
            raise FormatError("not a possession cache (bad magic)")
        if version != VERSION:
            raise UnsupportedVersionError("possession cache", version, (VERSION,))
        return cls(size=size, level=level, nodes=data[_CACHE_HEADER.size :])

    def cap(self, read_range: ReadRange, hasher: Hasher | None = None) -> bytes:
        """The proof's cap: the ``2**C`` nodes at height ``D - C``, left to right.

        From the kept levels when ``D - C >= level``; otherwise the shard is small
        (under ``2**(level + 3)`` segments) and is read whole to hash that level.
        """
        d = depth(self.size)
        c = cap_levels(self.size)
        height = d - c
        if height >= self.level:
            nodes = self._upper[height - self.level]
        else:
            hasher = hasher if hasher is not None else default_hasher()
            data = _read_exact(read_range, 0, self.size)
            nodes = hasher.leaves(data + bytes((SEGMENT << d) - len(data)))
            for _ in range(height):
                nodes = hasher.parents(nodes)
        return nodes + zero_node(height) * ((1 << c) - len(nodes) // NODE)

    def siblings(
        self, index: int, read_range: ReadRange, hasher: Hasher | None = None
    ) -> tuple[bytes, bytes]:
        """Segment ``index`` (zero-padded to 128 bytes) and its ``D - C`` siblings up to the
        cap, leaf level first."""
        n = segment_count(self.size)
        if not 0 <= index < n:
            raise FormatError(f"segment {index} outside 0..{n - 1}")
        hasher = hasher if hasher is not None else default_hasher()
        first = (index >> self.level) << self.level
        start = first * SEGMENT
        length = min(SEGMENT << self.level, self.size - start)
        data = _read_exact(read_range, start, length) + bytes((SEGMENT << self.level) - length)
        local = index - first
        segment = data[local * SEGMENT : (local + 1) * SEGMENT]
        path = depth(self.size) - cap_levels(self.size)
        out = bytearray()
        nodes = hasher.leaves(data)
        for height in range(min(self.level, path)):
            sib = local ^ 1
            out += nodes[sib * NODE : (sib + 1) * NODE]
            if height + 1 < path:
                nodes = hasher.parents(nodes)
            local >>= 1
        top = index >> self.level
        for i, level_nodes in enumerate(self._upper[: max(0, path - self.level)]):
            sib = (top >> i) ^ 1
            if NODE * (sib + 1) <= len(level_nodes):
                out += level_nodes[sib * NODE : (sib + 1) * NODE]
            else:
                out += zero_node(self.level + i)
        return segment, bytes(out)


def build_proof(
    read_range: ReadRange,
    size: int,
    indices: Sequence[int],
    *,
    cache: PossessionCache | None = None,
    hasher: Hasher | None = None,
) -> bytes:
    """The proof for ``indices``: the cap (:meth:`PossessionCache.cap`), then per index the
    128-byte segment and its ``D - C`` siblings.

    ``read_range(offset, length)`` returns the shard's bytes. Without ``cache`` the
    shard is read once to build one; with it only one subtree (128 KiB) per index.
    """
    if len(indices) != CHALLENGES:
        raise FormatError(f"a proof answers {CHALLENGES} indices, not {len(indices)}")
    if cache is None:
        cache = PossessionCache.build(read_range, size, hasher=hasher)
    elif cache.size != size:
        raise FormatError(f"the cache is of a {cache.size}-byte shard, not {size} bytes")
    out = bytearray(cache.cap(read_range, hasher))
    for index in indices:
        segment, siblings = cache.siblings(index, read_range, hasher)
        out += segment + siblings
    return bytes(out)


def verify_proof(root: bytes, size: int, seed: bytes, proof: bytes) -> bool:
    """The contract's check: the length, the cap hashes up to ``root`` (a bytes32), and every
    challenged segment hashes up to its cap node ``cap[index >> (D - C)]``."""
    if len(root) != ROOT_SIZE or root[NODE:] != _ROOT_PAD or len(seed) != SEED_SIZE or size <= 0:
        return False
    d, c = depth(size), cap_levels(size)
    path = d - c
    cap_bytes = NODE << c
    step = SEGMENT + NODE * path
    if len(proof) != cap_bytes + CHALLENGES * step:
        return False
    level = proof[:cap_bytes]
    while len(level) > NODE:
        level = b"".join(_h(level[i : i + 2 * NODE]) for i in range(0, len(level), 2 * NODE))
    if level != root[:NODE]:
        return False
    for j, index in enumerate(challenge_indices(seed, size)):
        item = proof[cap_bytes + j * step : cap_bytes + (j + 1) * step]
        node = _h(item[:SEGMENT])
        for height in range(path):
            sib = item[SEGMENT + height * NODE : SEGMENT + (height + 1) * NODE]
            node = _h(sib + node) if (index >> height) & 1 else _h(node + sib)
        slot = index >> path
        if node != proof[slot * NODE : (slot + 1) * NODE]:
            return False
    return True


def root_of_chunks(chunks: Iterable[Buffer], *, hasher: Hasher | None = None) -> tuple[int, bytes]:
    """``(size, root)`` of the concatenation of ``chunks``."""
    builder = PossessionRoot(hasher=hasher)
    for chunk in chunks:
        builder.update(chunk)
    return builder.size, builder.finish()


if TYPE_CHECKING:
    from multiformats import CID

    from scatter.ipfs.abc import BlockSource


def root_of_cid(source: BlockSource, cid: CID, *, max_size: int | None = None) -> tuple[int, bytes]:
    """``(size, root)`` of a UnixFS file in a block store, streamed with the DAG checks of
    :func:`scatter.ipfs.dagcheck.check_shard_dag` (work bounded by the declared size)."""
    from scatter.ipfs.dagcheck import root_of_cid as checked_root_of_cid

    return checked_root_of_cid(source, cid, max_size=max_size)
