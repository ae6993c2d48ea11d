"""Fetch any k shards of a file from hosters' Trustless Gateways, in parallel, verified.

Each shard is a UnixFS DAG named by its CID. It is asked of its hosters as one CAR
stream, depth-first with duplicates (``?format=car&dag-scope=all``, ``order=dfs; dups=y``):
the order in which the UnixFS exporter walks the DAG from the root, so each block is
checked against its CID as it arrives and the shard's bytes go straight to the raw
shard file the decoder reads (one pass, nothing stored). A hoster that sends a bad,
out-of-order or incomplete CAR is passed over for the next one; when no CAR verifies,
the shard is fetched block by block with
:class:`~scatter.ipfs.gateway.client.GatewayClient` (each block verified as it comes,
a lying gateway dropped), whatever each gateway holds. k shards are fetched at once
(data shards first: no decoding work); when one fails the next candidate starts, so
the download survives up to n - k bad hosters.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
from multiformats import CID

from scatter.chunkio import ChunkReader
from scatter.errors import ScatterError
from scatter.formats.errors import NotEnoughShardsError
from scatter.ipfs.abc import BlockSource

#: Bytes per read of a CAR body.
_CHUNK = 4 << 20


@dataclass(frozen=True)
class ShardSource:
    index: int
    cid: str
    gateways: tuple[str, ...]  # most likely holders first


@dataclass(frozen=True)
class FetchedShard:
    index: int
    path: Path
    gateway_errors: tuple[str, ...] = ()


class _Body(ChunkReader):
    """An HTTP body as a read-only stream. Only what the shard's DAG calls for is read from it:
    the blocks its CID fixes, each at most the block size limit, so a gateway that sends more
    (or forever) costs nothing beyond that."""


class _StreamedCar(BlockSource):
    """The blocks of a CAR stream sent depth-first with duplicates (``order=dfs; dups=y``): the
    order in which :func:`~scatter.ipfs.exporter.iter_file` asks for them, so a shard is verified
    and exported as it arrives, with nothing stored. A block out of that order is an error."""

    def __init__(self, stream: BinaryIO) -> None:
        from scatter.ipfs.car import read_car

        _roots, self._blocks = read_car(stream, verify=False)  # the roots a gateway claims are not trusted

    def get(self, cid: CID) -> bytes:
        from scatter.ipfs.cid import cid_bytes, cid_str
        from scatter.ipfs.errors import BlockIntegrityError, BlockNotFoundError

        block = next(self._blocks, None)
        if block is None:
            raise BlockNotFoundError(f"the CAR ended before block {cid_str(cid)}", cid=cid)
        if cid_bytes(block.cid) != cid_bytes(cid):
            raise BlockIntegrityError(f"the CAR sent {cid_str(block.cid)} where {cid_str(cid)} comes next")
        return block.data

    def has(self, cid: CID) -> bool:
        return False


def _stream_shard(
    client: httpx.Client,
    gateway: str,
    cid: str,
    path: Path,
    progress: Callable[[int], object] | None,
) -> None:
    """The shard ``cid`` from ``gateway`` as one CAR, each block checked against its CID as it
    arrives, its bytes written to ``path`` (a worker thread's job: hashing and writes block nothing)."""
    from scatter.ipfs.errors import GatewayError
    from scatter.ipfs.exporter import iter_file
    from scatter.ipfs.gateway._protocol import CAR_CONTENT_TYPE_DUPS

    url = f"{gateway.rstrip('/')}/ipfs/{cid}"
    params = {"format": "car", "dag-scope": "all", "car-order": "dfs", "car-dups": "y"}
    with client.stream("GET", url, headers={"Accept": CAR_CONTENT_TYPE_DUPS}, params=params) as resp:
        if resp.status_code != 200:
            raise GatewayError(f"{gateway} answered {resp.status_code} for the CAR of {cid}")
        body = io.BufferedReader(_Body(resp.iter_bytes(_CHUNK)), _CHUNK)  # decoded (gzip, deflate)
        with path.open("wb") as out:
            for piece in iter_file(CID.decode(cid), _StreamedCar(body), verify=True):
                out.write(piece)
                if progress is not None:
                    progress(len(piece))


async def _fetch_as_car(
    source: ShardSource,
    timeout: float,
    path: Path,
    errors: list[str],
    progress: Callable[[int], object] | None,
) -> bool:
    """Whether some gateway sent a CAR of the whole shard that verified (written to ``path``)."""
    with httpx.Client(timeout=timeout) as client:
        for gateway in source.gateways:
            try:
                await asyncio.to_thread(_stream_shard, client, gateway, source.cid, path, progress)
                return True
            except (ScatterError, httpx.HTTPError, OSError, ValueError) as exc:
                errors.append(f"{gateway}: {str(exc).splitlines()[0][:200] if str(exc) else repr(exc)}")
    return False


async def _fetch_by_blocks(
    source: ShardSource,
    store_dir: Path,
    path: Path,
    *,
    concurrency: int,
    timeout: float,
    errors: list[str],
    progress: Callable[[int], object] | None,
) -> None:
    from scatter.ipfs.embedded import EmbeddedBlockStore
    from scatter.ipfs.exporter import export_file
    from scatter.ipfs.gateway.client import GatewayClient

    store = EmbeddedBlockStore(store_dir / f"shard-{source.index}", durable=False)
    root = CID.decode(source.cid)
    async with GatewayClient(list(source.gateways), concurrency=concurrency, timeout=timeout) as client:
        result = await client.fetch_dag(root, store, pin=False, progress=progress)
    errors.extend(result.rejected)
    await asyncio.to_thread(export_file, root, store, path)


async def _fetch_one(
    source: ShardSource,
    workdir: Path,
    *,
    concurrency: int,
    timeout: float,
    progress: Callable[[int], object] | None,
) -> FetchedShard:
    out_dir = workdir / "shards"
    path = out_dir / f"shard-{source.index:03d}.scs"
    errors: list[str] = []
    if not await _fetch_as_car(source, timeout, path, errors, progress):
        await _fetch_by_blocks(
            source,
            workdir / "blocks",
            path,
            concurrency=concurrency,
            timeout=timeout,
            errors=errors,
            progress=progress,
        )
    return FetchedShard(source.index, path, tuple(errors))


async def fetch_any_k(
    sources: Sequence[ShardSource],
    k: int,
    workdir: Path,
    *,
    concurrency: int = 8,
    timeout: float = 15.0,
    progress: Callable[[int], object] | None = None,
) -> list[FetchedShard]:
    """Fetch shards until k of them are complete; raise NotEnoughShardsError naming each failure.

    ``concurrency``: block requests in flight when a shard is fetched block by block.
    """
    candidates = [s for s in sorted(sources, key=lambda s: s.index) if s.gateways]
    out_dir = workdir / "shards"
    out_dir.mkdir(parents=True, exist_ok=True)
    done: list[FetchedShard] = []
    failures: dict[int, str] = {s.index: "no hoster known to hold it" for s in sources if not s.gateways}
    running: dict[asyncio.Task[FetchedShard], ShardSource] = {}
    queue = list(candidates)

    def launch() -> None:
        while queue and len(running) + len(done) < k:
            src = queue.pop(0)
            task = asyncio.create_task(
                _fetch_one(
                    src,
                    workdir,
                    concurrency=concurrency,
                    timeout=timeout,
                    progress=progress,
                )
            )
            running[task] = src

    launch()
    try:
        while running and len(done) < k:
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                src = running.pop(task)
                try:
                    done.append(task.result())
                except ScatterError as exc:
                    failures[src.index] = str(exc).splitlines()[0][:200]
            launch()
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(BaseException):
                await task
    if len(done) < k:
        detail = "; ".join(f"shard {i}: {why}" for i, why in sorted(failures.items()))
        raise NotEnoughShardsError(len(done), k, detail=detail)
    return sorted(done, key=lambda s: s.index)
