"""Shards and misbehaving gateways for the validator's tests (real HTTP servers on loopback)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from multiformats import CID

from scatter.ipfs.abc import BlockSource
from scatter.ipfs.block import Block
from scatter.ipfs.cid import CODEC_RAW
from scatter.ipfs.errors import BlockNotFoundError
from scatter.ipfs.memory import MemoryBlockStore
from scatter.ipfs.unixfs import import_bytes


@dataclass
class Shard:
    root: CID
    blocks: list[Block]
    data: bytes

    @property
    def leaves(self) -> list[CID]:
        return [b.cid for b in self.blocks if b.cid.codec.code == CODEC_RAW]

    def store(self) -> MemoryBlockStore:
        store = MemoryBlockStore()
        store.put_many(self.blocks)
        store.pin(self.root)
        return store


def make_shard(size: int, *, chunk: int = 1024, max_links: int = 174, seed: int = 1) -> Shard:
    data = random.Random(seed).randbytes(size)
    root, blocks = import_bytes(data, cid_version=1, chunk_size=chunk, max_links=max_links)
    return Shard(root, blocks, data)


@dataclass
class LyingStore(BlockSource):
    """A block source that has lost some blocks and flips bits of others."""

    inner: BlockSource
    lost: set[bytes] = field(default_factory=set)
    corrupt: set[bytes] = field(default_factory=set)

    def lose(self, cids: Iterable[CID]) -> None:
        self.lost |= {bytes(c.digest) for c in cids}

    def falsify(self, cids: Iterable[CID]) -> None:
        self.corrupt |= {bytes(c.digest) for c in cids}

    def get(self, cid: CID) -> bytes:
        key = bytes(cid.digest)
        if key in self.lost:
            raise BlockNotFoundError(f"lost {cid}", cid=cid)
        data = self.inner.get(cid)
        if key in self.corrupt:
            return bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    def has(self, cid: CID) -> bool:
        return bytes(cid.digest) not in self.lost and self.inner.has(cid)


class Delayed:
    """An ASGI app that answers every request ``seconds`` late (a slow or overloaded hoster)."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


class DelayProxy:
    """A TCP proxy on loopback that holds every chunk a client sends for ``delay`` seconds
    before passing it on: each HTTP request reaches the hoster, and is answered, that much later."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        import threading

        self.upstream_port = upstream_port
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        try:
            while data := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer, self.delay), self._pipe(up_reader, writer, 0))

    def start(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks(self._loop) if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # let them finish cancelling

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class CutProxy(DelayProxy):
    """A TCP proxy whose link can be cut (listener closed, connections dropped) and restored
    on the same port: an RPC outage between a daemon and its node."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port, 0.0)
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await super()._handle(reader, writer)
        finally:
            self._writers.discard(writer)

    def cut(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def restore(self) -> None:
        async def reopen() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

        asyncio.run_coroutine_threadsafe(reopen(), self._loop).result(10)
