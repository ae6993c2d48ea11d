"""Trustless Gateway client: fetch blocks and whole DAGs, verifying everything.

Every block is checked against its CID (hash, size limit) *before* it is stored,
and only blocks the DAG calls for are accepted: a gateway that sends a wrong,
truncated, oversized or unexpected block is dropped for the rest of the fetch
and the block is asked of the next one. DAGs are fetched block by block with
``concurrency`` requests in flight spread over all gateways (or, with
``prefer_car``, as one CAR stream, falling back to blocks for whatever it lacked).
Memory is bounded by ``concurrency`` blocks plus the set of CIDs still to fetch
(and, for a CAR, :data:`MAX_UNLINKED_BYTES` of blocks that came before their parent).

Bodies are read decoded (``Content-Encoding: gzip``/``deflate``, which httpx asks
for): a gateway or proxy that compresses is as good as one that does not. A CAR is
asked for depth-first (``order=dfs``), but any order is accepted: a block that
arrives before the block linking to it is verified against its CID and held until
its parent comes. A gateway is dropped only for a block that fails its CID or a
malformed CAR, never for sending the DAG in another order.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import httpx
from multiformats import CID

from scatter.blocking import run_blocking
from scatter.errors import ScatterError, ScatterValueError
from scatter.ipfs.abc import BlockStore
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.car import read_car
from scatter.ipfs.cid import CODEC_RAW, MAX_BLOCK_SIZE, cid_bytes, cid_from_bytes, cid_str
from scatter.ipfs.dag import links_of
from scatter.ipfs.errors import BlockIntegrityError, BlockNotFoundError, BlockTooLargeError, GatewayError
from scatter.ipfs.gateway._protocol import CAR_CONTENT_TYPE, RAW
from scatter.ipfs.varint import uvarint

__all__ = ["MAX_UNLINKED_BYTES", "FetchResult", "GatewayClient", "fetch_dag"]

_NOT_HELD: Final = frozenset({404, 410, 412})
#: Blocks of a CAR held while no block received so far links to them (a CAR not parent-first).
MAX_UNLINKED_BYTES: Final = 64 * 1024 * 1024


@dataclass(slots=True)
class FetchResult:
    """What a DAG fetch did."""

    root: CID
    fetched_blocks: int = 0
    fetched_bytes: int = 0
    already_held: int = 0
    rejected: list[str] = field(default_factory=list)  # one line per rejected response


class GatewayClient:
    """Client of one or more Trustless Gateways (base URLs such as ``http://127.0.0.1:8080``)."""

    def __init__(
        self,
        gateways: Sequence[str],
        *,
        concurrency: int = 8,
        timeout: float = 30.0,
        max_block_size: int = MAX_BLOCK_SIZE,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not gateways:
            raise ScatterValueError("give at least one gateway URL")
        for url in gateways:
            if not url.startswith(("http://", "https://")):
                raise ScatterValueError(f"gateway URL {url!r} must start with http:// or https://")
        self.gateways = [g.rstrip("/") for g in gateways]
        self.concurrency = max(1, concurrency)
        self.max_block_size = max_block_size
        self._bad: set[str] = set()
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=self.concurrency * len(self.gateways)),
        )

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ one block

    def _order(self, cid: CID) -> list[str]:
        good = [g for g in self.gateways if g not in self._bad]
        if not good:
            return []
        start = cid_bytes(cid)[-1] % len(good)  # spread blocks over gateways
        return good[start:] + good[:start]

    async def _get_from(self, gateway: str, cid: CID) -> bytes:
        url = f"{gateway}/ipfs/{cid_str(cid)}"
        async with self._client.stream("GET", url, headers={"Accept": RAW}, params={"format": "raw"}) as resp:
            if resp.status_code in _NOT_HELD:
                raise BlockNotFoundError(f"{gateway} does not hold {cid_str(cid)}", cid=cid)
            if resp.status_code != 200:
                raise GatewayError(f"{gateway} answered {resp.status_code} for {cid_str(cid)}")
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_block_size:
                raise BlockTooLargeError(f"{gateway} announced a {declared}-byte block for {cid_str(cid)}")
            buf = bytearray()
            async for piece in resp.aiter_bytes():  # decoded: a compressing gateway or proxy is fine
                buf += piece
                if len(buf) > self.max_block_size:
                    raise BlockTooLargeError(
                        f"{gateway} sent more than {self.max_block_size} bytes for {cid_str(cid)}"
                    )
        data = bytes(buf)
        verify_block(cid, data, max_size=self.max_block_size)
        return data

    async def get_block(self, cid: CID, *, rejected: list[str] | None = None) -> bytes:
        """Fetch one block from the first gateway that returns it intact; verify it."""
        not_found = 0
        errors: list[str] = []
        order = self._order(cid)
        for gateway in order:
            try:
                return await self._get_from(gateway, cid)
            except BlockNotFoundError:
                not_found += 1
            except BlockIntegrityError as exc:
                self._bad.add(gateway)  # lied once: not asked again during this client's life
                errors.append(str(exc))
                if rejected is not None:
                    rejected.append(f"{gateway}: {exc}")
            except (httpx.HTTPError, GatewayError) as exc:
                errors.append(f"{gateway}: {exc!r}"[:300])
        if order and not_found == len(order):
            raise BlockNotFoundError(f"no gateway holds {cid_str(cid)} ({len(order)} asked)", cid=cid)
        if not order:
            raise GatewayError(f"no usable gateway left for {cid_str(cid)}: all sent bad data")
        raise GatewayError(f"could not fetch {cid_str(cid)}: " + "; ".join(errors)[:500])

    # ------------------------------------------------------------ whole DAG

    async def fetch_dag(
        self,
        root: CID,
        store: BlockStore,
        *,
        pin: bool = True,
        prefer_car: bool = False,
        progress: Callable[[int], object] | None = None,
    ) -> FetchResult:
        """Fetch every block of the DAG under ``root`` into ``store``; pin it when complete."""
        result = FetchResult(root)
        pending: list[CID] = [root]
        if prefer_car:
            pending = await self._fetch_car(root, store, result, progress)
        queue: asyncio.Queue[CID | None] = asyncio.Queue()
        seen: set[bytes] = set()
        for cid in pending:
            seen.add(cid_bytes(cid))
            queue.put_nowait(cid)
        failure: list[Exception] = []

        async def worker() -> None:
            while True:
                cid = await queue.get()
                try:
                    if cid is None:
                        return
                    if failure:
                        continue  # drain the queue so that join() returns
                    await self._fetch_one(cid, store, result, progress, seen, queue)
                except Exception as exc:  # report the first failure after the queue drains
                    failure.append(exc)
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
        try:
            await queue.join()
        finally:
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
        if failure:
            exc = failure[0]
            if isinstance(exc, ScatterError):
                raise exc
            raise GatewayError(f"fetching {cid_str(root)} failed: {exc!r}") from exc
        if pin:
            await asyncio.to_thread(store.pin, root)
        return result

    async def _fetch_one(
        self,
        cid: CID,
        store: BlockStore,
        result: FetchResult,
        progress: Callable[[int], object] | None,
        seen: set[bytes],
        queue: asyncio.Queue[CID | None],
    ) -> None:
        if store.has(cid):
            result.already_held += 1
            data = b"" if cid.codec.code == CODEC_RAW else store.get(cid)
        else:
            data = await self.get_block(cid, rejected=result.rejected)
            await asyncio.to_thread(store.put, Block(cid, data))
            result.fetched_blocks += 1
            result.fetched_bytes += len(data)
            if progress is not None:
                progress(len(data))
        if cid.codec.code == CODEC_RAW:
            return
        for child in links_of(cid, data):
            key = cid_bytes(child)
            if key not in seen:
                seen.add(key)
                queue.put_nowait(child)

    async def _fetch_car(
        self, root: CID, store: BlockStore, result: FetchResult, progress: Callable[[int], object] | None
    ) -> list[CID]:
        """Try the whole DAG as one CAR from each gateway in turn; return the CIDs still wanted.

        Only blocks that the DAG calls for are accepted (each must be a link of a block
        already received); a stream that breaks any rule is cut and its good blocks kept.
        """
        wanted: dict[bytes, CID] = {cid_bytes(root): root}
        received: set[bytes] = set()
        for gateway in list(self.gateways):
            if not wanted or gateway in self._bad:
                break
            url = f"{gateway}/ipfs/{cid_str(root)}"
            try:
                async with self._client.stream(
                    "GET",
                    url,
                    headers={"Accept": CAR_CONTENT_TYPE},
                    params={"format": "car", "dag-scope": "all"},
                ) as resp:
                    if resp.status_code != 200:
                        continue
                    reader = _AsyncReader(resp.aiter_bytes())
                    unlinked = await self._read_car_into(reader, store, wanted, received, result, progress)
                if unlinked:
                    result.rejected.append(
                        f"{gateway}: its CAR held {unlinked} block(s) the DAG does not call for (not stored)"
                    )
            except (BlockIntegrityError, ScatterValueError) as exc:
                self._bad.add(gateway)
                result.rejected.append(f"{gateway}: {exc}")
            except (httpx.HTTPError, GatewayError) as exc:
                result.rejected.append(f"{gateway}: {exc!r}"[:300])
        return list(wanted.values())

    async def _read_car_into(
        self,
        reader: _AsyncReader,
        store: BlockStore,
        wanted: dict[bytes, CID],
        received: set[bytes],
        result: FetchResult,
        progress: Callable[[int], object] | None,
    ) -> int:
        """Read one CAR stream; return how many of its blocks no block of the DAG linked to.

        Blocks may come in any order: each is verified against its CID as it arrives;
        one the DAG calls for is stored at once, one not (yet) linked to is held (at most
        :data:`MAX_UNLINKED_BYTES`) until its parent arrives, and dropped at the end.
        """
        header_len = await reader.varint()
        if header_len is None or not 0 < header_len <= 1 << 20:
            raise BlockIntegrityError("gateway sent a CAR without a valid header")
        header = await reader.exact(header_len)
        roots, _ = read_car(io.BytesIO(uvarint(header_len) + header))
        del roots  # the roots a gateway claims are not trusted; the requested root is
        limit = self.max_block_size + 128
        unlinked: dict[bytes, Block] = {}
        unlinked_bytes = 0
        while wanted:
            length = await reader.varint()
            if length is None:
                break
            if not 0 < length <= limit:
                raise BlockTooLargeError(f"CAR section of {length} bytes is out of bounds")
            section = await reader.exact(length)
            try:
                cid, used = cid_from_bytes(section)
            except ScatterValueError as exc:
                raise BlockIntegrityError(f"gateway CAR has a bad CID: {exc}") from None
            key = cid_bytes(cid)
            if key in received or key in unlinked:
                continue  # a duplicate (dups=y, or sent again by a later gateway): already verified
            block = Block(cid, section[used:])
            verify_block(cid, block.data, max_size=self.max_block_size)
            if key not in wanted:
                unlinked_bytes += len(block.data)
                if unlinked_bytes > MAX_UNLINKED_BYTES:
                    raise GatewayError(
                        f"gateway CAR sent over {MAX_UNLINKED_BYTES} bytes of blocks before any block "
                        "linking to them; the rest is fetched block by block"
                    )
                unlinked[key] = block
                continue
            ready = [block]
            while ready:
                block = ready.pop()
                key = cid_bytes(block.cid)
                del wanted[key]
                received.add(key)
                await self._keep(block, store, result, progress)
                for child in links_of(block.cid, block.data):
                    child_key = cid_bytes(child)
                    if child_key in received:
                        continue
                    early = unlinked.pop(child_key, None)
                    if early is not None:
                        unlinked_bytes -= len(early.data)
                        wanted[child_key] = child
                        ready.append(early)
                    else:
                        wanted.setdefault(child_key, child)
        return len(unlinked)

    async def _keep(
        self, block: Block, store: BlockStore, result: FetchResult, progress: Callable[[int], object] | None
    ) -> None:
        if store.has(block.cid):
            return
        await asyncio.to_thread(store.put, block)
        result.fetched_blocks += 1
        result.fetched_bytes += len(block.data)
        if progress is not None:
            progress(len(block.data))


class _AsyncReader:
    """Exact-size reads over an async byte iterator (an HTTP body)."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._buf = bytearray()
        self._eof = False

    async def _fill(self, n: int) -> None:
        while len(self._buf) < n and not self._eof:
            try:
                self._buf += await self._source.__anext__()
            except StopAsyncIteration:
                self._eof = True

    async def exact(self, n: int) -> bytes:
        await self._fill(n)
        if len(self._buf) < n:
            raise BlockIntegrityError("gateway CAR stream is truncated")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def varint(self) -> int | None:
        result = shift = 0
        for i in range(9):
            await self._fill(1)
            if not self._buf:
                if i == 0:
                    return None
                raise BlockIntegrityError("gateway CAR stream is truncated in a length prefix")
            b = self._buf[0]
            del self._buf[0]
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7
        raise BlockIntegrityError("gateway CAR stream has an invalid length prefix")


def fetch_dag(
    gateways: Sequence[str],
    root: CID,
    store: BlockStore,
    *,
    pin: bool = True,
    prefer_car: bool = False,
    concurrency: int = 8,
    timeout: float = 30.0,
) -> FetchResult:
    """Blocking convenience around :meth:`GatewayClient.fetch_dag`."""

    async def run() -> FetchResult:
        async with GatewayClient(gateways, concurrency=concurrency, timeout=timeout) as client:
            return await client.fetch_dag(root, store, pin=pin, prefer_car=prefer_car)

    return run_blocking(run())
