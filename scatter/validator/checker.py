"""One check of one deal in one epoch: fetch the challenged leaves raw within a deadline, verify.

Each sampled leaf ends in one status:

=============== ============================================================ ==========
status          what happened                                                 definitive
=============== ============================================================ ==========
``ok``          200 and the bytes hash to the leaf CID                        yes
``missing``     404 / 410 / 412: the hoster does not hold the block           yes
``wrong``       200 but the bytes do not hash to the CID (or exceed 1 MiB)   yes
``late``        no complete answer before the check's deadline                no
``unreachable`` connection refused or reset, or another HTTP status (5xx)     no
``uncheckable`` the DAG itself is malformed or over the slot's size budget       no
=============== ============================================================ ==========

The check's result is the worst status (``wrong`` > ``missing`` > ``late`` >
``unreachable`` > ``ok``); ``uncheckable`` is only ever the result of learning the
DAG. ``wrong`` and ``missing`` are evidence (``missing`` only once a retry
confirms it, see :mod:`~scatter.validator.policy`); ``late``, ``unreachable``
and ``uncheckable`` never are: the hoster is retried within the epoch, and an
epoch that ends without an answer is recorded as unknown, never as ``fail``.
A malformed DAG whose blocks hash to their CIDs is the client's content, not
the hoster's fault.

The evidence digest binds everything the verdict rests on (format version 1)::

    keccak256("scatter-check-v1" || randomness || uint256 dealId || uint256 epoch || uint8 result
              || uint32 leafCount || for each sample: uint32 index || uint8 status || cid bytes)
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

import aiohttp
from eth_utils.crypto import keccak
from multiformats import CID

from scatter.errors import ScatterError
from scatter.ipfs.cid import MAX_BLOCK_SIZE, cid_str, hash_multihash
from scatter.ipfs.errors import BlockNotFoundError
from scatter.ipfs.gateway._protocol import RAW
from scatter.validator.challenge import sample_indexes
from scatter.validator.dagcache import LeafCache, LeafRef

EVIDENCE_TAG: Final = b"scatter-check-v1"
_NOT_HELD: Final = frozenset({404, 410, 412})
_SHA2_256: Final = 0x12
_SHA2_256_PREFIX: Final = b"\x12\x20"


class Status(IntEnum):
    """Per-sample status; also the check's result (higher is worse)."""

    OK = 0
    UNREACHABLE = 1
    LATE = 2
    MISSING = 3
    WRONG = 4
    UNCHECKABLE = 5

    @property
    def definitive(self) -> bool:
        return self in (Status.OK, Status.MISSING, Status.WRONG)

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Sample:
    index: int  # leaf index in DAG order; -1 for an inner node while learning the DAG
    ref: LeafRef
    status: Status
    seconds: float
    detail: str = ""

    @property
    def cid(self) -> CID:
        return self.ref.cid


@dataclass
class CheckOutcome:
    deal_id: int
    epoch: int
    randomness: bytes
    result: Status
    leaf_count: int
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    fetched_bytes: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.result is Status.OK

    def evidence(self) -> bytes:
        parts = [
            EVIDENCE_TAG,
            self.randomness,
            self.deal_id.to_bytes(32, "big"),
            self.epoch.to_bytes(32, "big"),
            bytes([int(self.result)]),
            self.leaf_count.to_bytes(4, "big"),
        ]
        for s in self.samples:
            parts.append((s.index & 0xFFFFFFFF).to_bytes(4, "big") + bytes([int(s.status)]) + s.ref.key)
        return bytes(keccak(b"".join(parts)))

    def detail(self) -> dict[str, Any]:
        """What the ledger keeps beside the digest (auditable, no secrets)."""
        return {
            "v": 1,
            "result": self.result.label,
            "reason": self.reason,
            "randomness": "0x" + self.randomness.hex(),
            "leafCount": self.leaf_count,
            "seconds": round(self.seconds, 4),
            "samples": [
                {
                    "leaf": s.index,
                    "cid": cid_str(s.cid),
                    "status": s.status.label,
                    "ms": round(s.seconds * 1000, 1),
                }
                | ({"detail": s.detail} if s.detail else {})
                for s in self.samples
            ],
        }


@dataclass(frozen=True)
class CheckTarget:
    deal_id: int
    epoch: int
    root: CID
    gateway: str  # the hoster's registered endpoint (Trustless Gateway base URL)
    size: int | None = None  # the slot's committed file size: bounds the DAG walk


class _SampleFailure(ScatterError):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.stale_connection = False


PER_HOSTER_CONNECTIONS = 16
"""Connections to one hoster's gateway at most. Unbounded, a validator's 64 checks in flight
all went to a hoster that answered slowly: three validators on loopback held more than the
hoster's 256 connections per client address, so it refused even the probes it could answer
(``scatter.bench.scale``). A check waiting for a connection counts against its deadline and,
when late, is retried or left unknown: never a ``fail``."""


class DealChecker:
    """Runs checks over one shared HTTP client (keep-alive connections to each hoster).

    The client is aiohttp's (C HTTP parser, O(1) connection pool): a check moves c whole
    leaves, and at a hundred checks a second the client's cost per byte is what counts.
    """

    def __init__(
        self,
        leaf_cache: LeafCache,
        *,
        samples: int,
        deadline: float,
        learn_timeout: float = 60.0,
        max_connections: int = 256,
    ) -> None:
        if samples < 1:
            raise ValueError("samples (c) must be at least 1")
        self.leaf_cache = leaf_cache
        self.samples = samples
        self.deadline = deadline
        self.learn_timeout = learn_timeout
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.max_connections, limit_per_host=PER_HOSTER_CONNECTIONS
                ),
                timeout=aiohttp.ClientTimeout(total=max(self.deadline, self.learn_timeout)),
                trust_env=False,
                auto_decompress=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get_raw(self, gateway: str, ref: LeafRef, *, keep: bool = True) -> tuple[bytes, int]:
        """The verified block (``b""`` unless ``keep``) and its size."""
        try:
            return await self._get_raw_once(gateway, ref, keep)
        except _SampleFailure as exc:
            if not exc.stale_connection:
                raise
        # A kept-alive connection the hoster had just closed: ask once more on a fresh one
        # (as browsers do for idempotent requests); the check's deadline still applies.
        return await self._get_raw_once(gateway, ref, keep)

    async def _get_raw_once(self, gateway: str, ref: LeafRef, keep: bool) -> tuple[bytes, int]:
        url = f"{gateway.rstrip('/')}/ipfs/{ref.name}?format=raw"
        # sha2-256 leaves are hashed as they arrive (no copy kept); other hashes are buffered
        hasher = hashlib.sha256() if ref.hash_code == _SHA2_256 and not keep else None
        buf = bytearray()
        size = 0
        try:
            async with self._client().get(url, headers={"Accept": RAW}) as resp:
                if resp.status in _NOT_HELD:
                    raise _SampleFailure(Status.MISSING, f"HTTP {resp.status}")
                if resp.status != 200:
                    raise _SampleFailure(Status.UNREACHABLE, f"HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > MAX_BLOCK_SIZE:
                    raise _SampleFailure(Status.WRONG, f"announces {resp.content_length} bytes")
                async for piece in resp.content.iter_any():
                    size += len(piece)
                    if size > MAX_BLOCK_SIZE:
                        raise _SampleFailure(Status.WRONG, f"more than {MAX_BLOCK_SIZE} bytes")
                    if hasher is not None:
                        hasher.update(piece)
                    else:
                        buf += piece
        except TimeoutError:
            raise _SampleFailure(Status.LATE, "HTTP timeout") from None
        except aiohttp.ClientConnectorError as exc:
            raise _SampleFailure(Status.UNREACHABLE, f"cannot connect: {exc.os_error}"[:200]) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            failure = _SampleFailure(Status.UNREACHABLE, f"{type(exc).__name__}: {exc}"[:200])
            failure.stale_connection = True
            raise failure from None
        except aiohttp.ClientError as exc:
            raise _SampleFailure(Status.UNREACHABLE, f"{type(exc).__name__}: {exc}"[:200]) from None
        if hasher is not None:
            digest = _SHA2_256_PREFIX + hasher.digest()
            data = b""
        else:
            data = bytes(buf)
            digest = hash_multihash(data, ref.hash_code)
        if digest != ref.multihash:
            raise _SampleFailure(Status.WRONG, f"{size} bytes that do not hash to the CID")
        return data, size

    async def _sample(self, gateway: str, index: int, ref: LeafRef, sizes: list[int]) -> Sample:
        began = time.perf_counter()
        try:
            _, size = await self._get_raw(gateway, ref, keep=False)
        except _SampleFailure as exc:
            return Sample(index, ref, exc.status, time.perf_counter() - began, str(exc))
        sizes.append(size)
        return Sample(index, ref, Status.OK, time.perf_counter() - began)

    async def check(self, target: CheckTarget, seed: bytes, randomness: bytes) -> CheckOutcome:
        """Check ``target`` for the challenge ``seed``; never raises for the hoster's faults."""
        began = time.perf_counter()
        outcome = CheckOutcome(target.deal_id, target.epoch, randomness, Status.OK, 0)
        inner: list[Sample] = []

        async def fetch_inner(cid: CID) -> bytes:
            t0 = time.perf_counter()
            ref = LeafRef.of(cid)
            try:
                data, _ = await self._get_raw(target.gateway, ref)
            except _SampleFailure as exc:
                inner.append(Sample(-1, ref, exc.status, time.perf_counter() - t0, str(exc)))
                raise
            outcome.fetched_bytes += len(data)
            return data

        try:
            async with asyncio.timeout(self.learn_timeout):
                leaves = await self.leaf_cache.refs(target.root, fetch_inner, target.size)
        except (_SampleFailure, TimeoutError) as exc:
            status = exc.status if isinstance(exc, _SampleFailure) else Status.LATE
            failed = [s for s in inner if s.status is not Status.OK] or [
                Sample(
                    -1,
                    LeafRef.of(target.root),
                    status,
                    time.perf_counter() - began,
                    "timeout learning the DAG",
                )
            ]
            outcome.samples = failed[:1]
            outcome.result = failed[0].status
            outcome.reason = f"inner node {failed[0].ref.name}: {failed[0].status.label} ({failed[0].detail})"
            outcome.seconds = time.perf_counter() - began
            return outcome
        except (BlockNotFoundError, ScatterError) as exc:  # malformed or over budget: the content's fault
            outcome.result = Status.UNCHECKABLE
            outcome.reason = f"DAG under {cid_str(target.root)} cannot be checked: {exc}"[:300]
            outcome.seconds = time.perf_counter() - began
            return outcome

        outcome.leaf_count = len(leaves)
        picks = sample_indexes(seed, len(leaves), self.samples)
        sizes: list[int] = []
        refs = {i: leaves.ref(i) for i in picks}
        tasks = [asyncio.ensure_future(self._sample(target.gateway, i, refs[i], sizes)) for i in picks]
        sample_began = time.perf_counter()
        done, pending = await asyncio.wait(tasks, timeout=self.deadline)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        waited = time.perf_counter() - sample_began
        for i, task in zip(picks, tasks, strict=True):
            if task in done:
                outcome.samples.append(task.result())
            else:
                outcome.samples.append(
                    Sample(i, refs[i], Status.LATE, waited, f"no answer within {self.deadline}s")
                )
        outcome.fetched_bytes += sum(sizes)
        outcome.result = max((s.status for s in outcome.samples), default=Status.OK)
        worst = [s for s in outcome.samples if s.status is outcome.result]
        if outcome.result is not Status.OK:
            s = worst[0]
            outcome.reason = (
                f"{len(worst)} of {len(picks)} leaves {outcome.result.label}, "
                f"e.g. leaf {s.index} {s.ref.name} ({s.detail})"
            )
        outcome.seconds = time.perf_counter() - began
        return outcome
