"""The gateway clients against gateways that compress bodies or send a CAR in another order."""

from __future__ import annotations

import asyncio
import gzip
import io
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scatter.ipfs import MemoryBlockStore, export_bytes, import_bytes, write_car
from scatter.ipfs.gateway.client import GatewayClient
from scatter.ipfs.gateway.server import GatewayServer
from scatter.sdk.fetch import ShardSource, fetch_any_k

pytestmark = pytest.mark.integration

DATA = random.Random(7).randbytes(5 * 262144 + 99)
ROOT, BLOCKS = import_bytes(DATA)  # leaves first, the root last
BY_CID = {str(b.cid): b.data for b in BLOCKS}
_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: gzip.compress(b),
    "deflate": lambda b: zlib.compress(b),
}


def _car(blocks: list[object]) -> bytes:
    out = io.BytesIO()
    write_car(out, [ROOT], blocks)  # type: ignore[arg-type]
    return out.getvalue()


def _dfs_car() -> bytes:
    """The DAG depth-first, parent first (the root then its leaves in order)."""
    return _car([BLOCKS[-1], *BLOCKS[:-1]])


def _app(encoding: str | None, car_body: bytes, seen: list[tuple[str, str]]) -> Starlette:
    """A gateway that answers raw blocks and one CAR, compressed with ``encoding`` (or not)."""

    async def ipfs(request: Request) -> Response:
        fmt = request.query_params.get("format", "")
        seen.append((fmt, request.headers.get("accept", "")))
        if fmt == "car":
            body, media = car_body, "application/vnd.ipld.car; version=1; order=unk; dups=n"
        else:
            data = BY_CID.get(request.path_params["rest"])
            if data is None:
                return Response(status_code=404)
            body, media = data, "application/vnd.ipld.raw"
        headers = {}
        if encoding is not None:
            body = _ENCODERS[encoding](body)
            headers["Content-Encoding"] = encoding
        return Response(body, media_type=media, headers=headers)

    return Starlette(routes=[Route("/ipfs/{rest:path}", ipfs)])


def _fetch(url: str, *, prefer_car: bool) -> tuple[MemoryBlockStore, GatewayClient, list[str]]:
    store = MemoryBlockStore()

    async def run() -> tuple[GatewayClient, list[str]]:
        client = GatewayClient([url], concurrency=2)
        async with client:
            result = await client.fetch_dag(ROOT, store, prefer_car=prefer_car)
        return client, result.rejected

    client, rejected = asyncio.run(run())
    return store, client, rejected


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("prefer_car", [False, True])
def test_a_compressing_gateway_serves_verified_blocks(encoding: str, prefer_car: bool) -> None:
    seen: list[tuple[str, str]] = []
    with GatewayServer(_app(encoding, _dfs_car(), seen)) as gateway:
        store, client, rejected = _fetch(gateway.url, prefer_car=prefer_car)
    assert rejected == []
    assert client._bad == set()
    assert export_bytes(ROOT, store) == DATA
    assert store.pins() == [ROOT]
    if prefer_car:
        assert [fmt for fmt, _ in seen] == ["car"]  # the whole DAG came in the (compressed) CAR


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_download_streams_a_shard_from_a_compressing_gateway(encoding: str, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    with GatewayServer(_app(encoding, _dfs_car(), seen)) as gateway:
        source = ShardSource(0, str(ROOT), (gateway.url,))
        [shard] = asyncio.run(fetch_any_k([source], 1, tmp_path))
    assert shard.gateway_errors == ()
    assert shard.path.read_bytes() == DATA
    assert [fmt for fmt, _ in seen] == ["car"]  # streamed as one CAR, no block-by-block fallback


def test_a_car_in_another_order_is_accepted_and_the_gateway_kept() -> None:
    seen: list[tuple[str, str]] = []
    leaves_first = _car(list(BLOCKS))  # every block, the root last: valid, but not parent-first
    with GatewayServer(_app(None, leaves_first, seen)) as gateway:
        store, client, rejected = _fetch(gateway.url, prefer_car=True)
    assert rejected == []
    assert client._bad == set()
    assert [fmt for fmt, _ in seen] == ["car"]  # no block asked again one by one
    assert "order=dfs" in seen[0][1]  # asked depth-first, per the trustless gateway spec
    assert export_bytes(ROOT, store) == DATA
    assert store.stat().block_count == len(BLOCKS)
