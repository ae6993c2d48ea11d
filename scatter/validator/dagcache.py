"""The leaves of a shard's DAG, learnt once from inner nodes verified against the root CID.

A validator needs the list of leaf CIDs (in DAG order) to turn a challenge
index into a block to fetch. The first check of a root walks its dag-pb inner
nodes breadth-first, fetching each raw from the hoster's gateway and verifying
it against the CID its parent (or the deal's root CID) names, so every leaf
CID is authenticated by the root. The list is then kept in memory (LRU) and in
SQLite (table ``shard_leaves``), shared by every deal with that root.

Scatter shards (CIDv1, raw leaves) need only the inner nodes: a raw link is a
leaf. For DAGs with dag-pb leaves (CIDv0 public CIDs) a dag-pb child is a leaf
when it has no links, which is only known by fetching it, so learning such a
DAG reads it once in full (documented limit).

The walk is bounded by the slot's committed ``size`` (bytes of the file), not by
what the DAG claims about itself: each distinct block is fetched once however
many links name it, the distinct bytes fetched may not exceed ``size`` plus
:data:`WALK_OVERHEAD`, and the leaf positions may not exceed ``max(1, size)``
(an honest leaf holds at least one byte). A DAG over either bound (a "DAG bomb":
many links to one child, lying sizes) raises :class:`DagBudgetError` after at
most that much work; the checker treats it as *uncheckable*, never as the
hoster's fault.
"""

from __future__ import annotations

import asyncio
import base64
from array import array
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from multiformats import CID

from scatter.daemon.state import Migration, StateDB
from scatter.errors import ScatterValueError
from scatter.ipfs.cid import (
    CODEC_RAW,
    SUPPORTED_CODECS,
    SUPPORTED_HASHES,
    check_supported,
    cid_bytes,
    cid_from_bytes,
    cid_str,
)
from scatter.ipfs.dag import links_of
from scatter.ipfs.varint import read_uvarint, uvarint

MIGRATIONS: Final[list[Migration]] = [
    (
        "validator_dagcache",
        1,
        [
            "CREATE TABLE shard_leaves (root BLOB PRIMARY KEY, leaf_count INTEGER NOT NULL, "
            "inner_count INTEGER NOT NULL, leaves BLOB NOT NULL)"
        ],
    )
]

Fetch = Callable[[CID], Awaitable[bytes]]
"""Fetch one block and verify it against its CID (raises on a missing or wrong block)."""


@dataclass(frozen=True, slots=True)
class LeafRef:
    """A leaf with what every fetch of it needs, read straight from its binary CID
    (multiformats' accessors validate types on every call and cost more than the fetch's hashing)."""

    key: bytes  # binary CID, for evidence digests
    name: str  # canonical string (base32 CIDv1, base58btc CIDv0), for URLs and evidence details
    hash_code: int
    multihash: bytes

    @property
    def cid(self) -> CID:
        return cid_from_bytes(self.key)[0]

    @classmethod
    def of(cls, cid: CID) -> LeafRef:
        check_supported(cid)
        return cls(cid_bytes(cid), cid_str(cid), cid.hashfun.code, bytes(cid.digest))

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeafRef:
        if raw[:1] == b"\x01":  # CIDv1: version, codec, multihash (code, length, digest)
            codec, at = read_uvarint(raw, 1, len(raw))
            hash_code, _ = read_uvarint(raw, at, len(raw))
            if codec in SUPPORTED_CODECS and hash_code in SUPPORTED_HASHES:
                name = "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")
                return cls(raw, name, hash_code, raw[at:])
        return cls.of(cid_from_bytes(raw)[0])


WALK_OVERHEAD: Final = 1 << 20
"""Distinct bytes a walk may fetch beyond the slot's size (inner nodes of an honest DAG are a
small fraction of its size: ~40 bytes per leaf)."""


WALK_CONCURRENCY: Final = 16
"""Distinct nodes a walk fetches at once (the byte budget is checked between such slices)."""


class DagTooLargeError(ScatterValueError):
    """The DAG has more leaves than the validator is configured to follow."""


class DagBudgetError(DagTooLargeError):
    """The DAG needs more work than the slot's size allows (distinct bytes or leaf positions)."""


def _encode(leaves: list[CID]) -> bytes:
    out = bytearray()
    for cid in leaves:
        raw = cid_bytes(cid)
        out += uvarint(len(raw)) + raw
    return bytes(out)


class LeafList:
    """A shard's leaves in DAG order, kept compact: the binary CIDs in one blob (37 bytes a leaf
    for CIDv1 sha2-256), a :class:`LeafRef` built only for the leaves a challenge draws."""

    __slots__ = ("_blob", "_ends", "_starts")

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self._starts = array("Q")
        self._ends = array("Q")
        pos = 0
        while pos < len(blob):
            length, begin = read_uvarint(blob, pos, len(blob))
            pos = begin + length
            if pos > len(blob):
                raise ScatterValueError("truncated leaf list")
            self._starts.append(begin)
            self._ends.append(pos)

    @classmethod
    def of(cls, cids: list[CID]) -> LeafList:
        return cls(_encode(cids))

    @property
    def blob(self) -> bytes:
        return self._blob

    def __len__(self) -> int:
        return len(self._starts)

    def cid(self, i: int) -> CID:
        return cid_from_bytes(self._blob[self._starts[i] : self._ends[i]])[0]

    def ref(self, i: int) -> LeafRef:
        return LeafRef.from_bytes(self._blob[self._starts[i] : self._ends[i]])

    def cids(self) -> list[CID]:
        return [self.cid(i) for i in range(len(self))]


class LeafCache:
    """Leaf lists per root: memory (``memory_roots`` most recent) over SQLite over the network."""

    def __init__(
        self,
        db: StateDB,
        *,
        memory_roots: int = 4096,
        max_leaves: int = 1 << 20,
        walk_overhead: int = WALK_OVERHEAD,
    ) -> None:
        self.db = db
        self.memory_roots = memory_roots
        self.max_leaves = max_leaves
        self.walk_overhead = walk_overhead
        self._memory: OrderedDict[bytes, LeafList] = OrderedDict()
        self._learning: dict[bytes, asyncio.Future[LeafList]] = {}
        db.migrate(MIGRATIONS)

    def known(self, root: CID) -> list[CID] | None:
        """The root's leaves if already learnt (memory or SQLite), else None."""
        found = self._known(cid_bytes(root))
        return found.cids() if found is not None else None

    def _known(self, key: bytes) -> LeafList | None:
        leaves = self._memory.get(key)
        if leaves is not None:
            self._memory.move_to_end(key)
            return leaves
        row = self.db.query_one("SELECT leaves FROM shard_leaves WHERE root = ?", (key,))
        if row is None:
            return None
        leaves = LeafList(bytes(row[0]))
        self._remember(key, leaves)
        return leaves

    def _remember(self, key: bytes, leaves: LeafList) -> None:
        self._memory[key] = leaves
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_roots:
            self._memory.popitem(last=False)

    async def leaves(self, root: CID, fetch: Fetch, size: int | None = None) -> list[CID]:
        """The root's leaves, learning them through ``fetch`` if unknown."""
        return (await self.refs(root, fetch, size)).cids()

    async def refs(self, root: CID, fetch: Fetch, size: int | None = None) -> LeafList:
        """The root's :class:`LeafList`, learning it through ``fetch`` if unknown (one walk per root
        at a time; a walk that fails through another hoster's gateway does not count against ours).

        ``size`` is the slot's committed file size: it bounds the walk (module docstring); None
        leaves only ``max_leaves`` as a bound."""
        key = cid_bytes(root)
        known = self._known(key)
        if known is not None:
            return known
        pending = self._learning.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except Exception:
                pass  # the other walk's source failed; that says nothing about ours: walk through ``fetch``
            if key in self._learning:  # yet another walk started meanwhile: do ours unshared
                cids, _ = await self._walk(root, fetch, size)
                leaves = LeafList.of(cids)
                self._remember(key, leaves)
                return leaves
        future: asyncio.Future[LeafList] = asyncio.get_running_loop().create_future()
        self._learning[key] = future
        try:
            cids, inner = await self._walk(root, fetch, size)
            leaves = LeafList.of(cids)
            await asyncio.to_thread(self._store, key, leaves, inner)
            self._remember(key, leaves)
            future.set_result(leaves)
            return leaves
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            del self._learning[key]

    def _store(self, key: bytes, leaves: LeafList, inner: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO shard_leaves VALUES (?, ?, ?, ?)",
                (key, len(leaves), inner, leaves.blob),
            )

    async def _walk(self, root: CID, fetch: Fetch, size: int | None) -> tuple[list[CID], int]:
        """Expand dag-pb nodes level by level, in place, so leaves stay in DAG order; each distinct
        block is fetched once, and the work stops at the budget ``size`` allows."""
        max_positions = self.max_leaves if size is None else min(self.max_leaves, max(1, size))
        budget = _Budget(None if size is None else size + self.walk_overhead)
        links: dict[bytes, list[CID]] = {}  # distinct node -> its links (fetched once)
        frontier: list[tuple[CID, bool]] = [(root, root.codec.code == CODEC_RAW)]  # (cid, is a leaf)
        inner = 0
        while True:
            nodes = [cid for cid, leaf in frontier if not leaf]
            if not nodes:
                return [cid for cid, _ in frontier], inner
            todo = {key: cid for cid in nodes if (key := cid_bytes(cid)) not in links}
            pending = list(todo.items())
            for at in range(0, len(pending), WALK_CONCURRENCY):  # the budget is checked between slices
                part = pending[at : at + WALK_CONCURRENCY]
                got = await asyncio.gather(
                    *(self._fetch_node(c, fetch) for _, c in part), return_exceptions=True
                )
                for (key, cid), result in zip(part, got, strict=True):
                    if isinstance(result, BaseException):
                        raise result
                    data, named = result
                    budget.spend(len(data), cid)
                    links[key] = named
            grown: list[tuple[CID, bool]] = []
            for cid, leaf in frontier:
                children = None if leaf else links[cid_bytes(cid)]
                if not children:  # raw, or a dag-pb node without links: a leaf
                    grown.append((cid, True))
                else:
                    inner += 1
                    grown.extend((child, child.codec.code == CODEC_RAW) for child in children)
                if len(grown) > max_positions:
                    if size is not None and max_positions < self.max_leaves:
                        raise DagBudgetError(
                            f"DAG {cid_str(root)} has more than {max_positions} leaf positions "
                            f"for a slot of {size} bytes"
                        )
                    raise DagTooLargeError(f"DAG {cid_str(root)} has more than {self.max_leaves} leaves")
            frontier = grown

    async def _fetch_node(self, cid: CID, fetch: Fetch) -> tuple[bytes, list[CID]]:
        if cid.codec.code == CODEC_RAW:
            return b"", []
        data = await fetch(cid)
        return data, links_of(cid, data)


class _Budget:
    """Distinct bytes one walk may still fetch."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, nbytes: int, cid: CID) -> None:
        if self.left is None:
            return
        self.left -= nbytes
        if self.left < 0:
            raise DagBudgetError(
                f"walking the DAG took more than {self.limit} distinct bytes (at {cid_str(cid)})"
            )
