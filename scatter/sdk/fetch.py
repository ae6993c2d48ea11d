"""Fetch any k shards of a file from hosters' Trustless Gateways, in parallel, verified.

Each shard is a UnixFS DAG named by its CID; it is fetched block by block with
:class:`~scatter.ipfs.gateway.client.GatewayClient`, which checks every block
against its CID and drops a gateway that sends anything wrong. k shards are
fetched at once (data shards first: no decoding work); when one fails (hoster
down, lying, or missing blocks) the next candidate starts, so the download
survives up to n - k bad hosters. The shards land in a temporary block store
and are exported to files for the decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from multiformats import CID

from scatter.errors import ScatterError
from scatter.formats.errors import NotEnoughShardsError


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


async def _fetch_one(
    source: ShardSource,
    store_dir: Path,
    out_dir: Path,
    *,
    concurrency: int,
    timeout: float,
    progress: Callable[[int], object] | None,
) -> FetchedShard:
    from scatter.ipfs.embedded import EmbeddedBlockStore
    from scatter.ipfs.exporter import export_file
    from scatter.ipfs.gateway.client import GatewayClient

    store = EmbeddedBlockStore(store_dir / f"shard-{source.index}", durable=False)
    root = CID.decode(source.cid)
    async with GatewayClient(list(source.gateways), concurrency=concurrency, timeout=timeout) as client:
        result = await client.fetch_dag(root, store, pin=False, progress=progress)
    path = out_dir / f"shard-{source.index:03d}.scs"
    await asyncio.to_thread(export_file, root, store, path)
    return FetchedShard(source.index, path, tuple(result.rejected))


async def fetch_any_k(
    sources: Sequence[ShardSource],
    k: int,
    workdir: Path,
    *,
    concurrency: int = 8,
    timeout: float = 15.0,
    progress: Callable[[int], object] | None = None,
) -> list[FetchedShard]:
    """Fetch shards until k of them are complete; raise NotEnoughShardsError naming each failure."""
    candidates = [s for s in sorted(sources, key=lambda s: s.index) if s.gateways]
    store_dir = workdir / "blocks"
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
                    src, store_dir, out_dir, concurrency=concurrency, timeout=timeout, progress=progress
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
