"""The gateway client against real gateways on loopback, honest and lying ones."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from scatter.ipfs import EmbeddedBlockStore, MemoryBlockStore, export_bytes, import_bytes, write_car
from scatter.ipfs.cid import parse_cid
from scatter.ipfs.errors import BlockIntegrityError, BlockNotFoundError, GatewayError
from scatter.ipfs.gateway.client import GatewayClient, fetch_dag
from scatter.ipfs.gateway.server import GatewayServer

pytestmark = pytest.mark.integration

DATA = random.Random(1).randbytes(6 * 262144 + 77)  # deterministic: test ids and xdist workers agree
ROOT, BLOCKS = import_bytes(DATA)
BY_CID = {str(b.cid): b.data for b in BLOCKS}


def _lying_app(mode: str) -> Starlette:
    """A gateway that answers every raw request wrongly in one way."""

    async def ipfs(request: Request) -> Response:
        cid = request.path_params["rest"]
        data = BY_CID.get(cid)
        if data is None:
            return Response(status_code=404)
        if mode == "wrong":
            return Response(data[:-1] + bytes([data[-1] ^ 1]), media_type="application/vnd.ipld.raw")
        if mode == "truncated":
            return Response(data[: len(data) // 2], media_type="application/vnd.ipld.raw")
        if mode == "oversized":

            async def endless() -> object:
                for _ in range(20):
                    yield bytes(262144)

            return StreamingResponse(endless(), media_type="application/vnd.ipld.raw")  # type: ignore[arg-type]
        if mode == "error":
            return Response(status_code=500)
        if mode == "car-unexpected":  # a valid CAR whose second block the DAG does not call for
            out = io.BytesIO()
            stray = import_bytes(b"a block nobody asked for")[1]
            write_car(out, [ROOT], [BLOCKS[-1], *stray, *BLOCKS[:-1]])
            return Response(out.getvalue(), media_type="application/vnd.ipld.car")
        raise AssertionError(mode)

    return Starlette(routes=[Route("/ipfs/{rest:path}", ipfs)])


@pytest.fixture
def full_gateway(tmp_path: Path) -> Iterator[GatewayServer]:
    from scatter.ipfs.gateway.server import create_gateway_app

    store = EmbeddedBlockStore(tmp_path / "full", durable=False)
    store.put_many(BLOCKS)
    store.pin(ROOT)
    with GatewayServer(create_gateway_app(store)) as server:
        yield server


@pytest.mark.parametrize("prefer_car", [False, True])
def test_fetch_dag_from_one_gateway_verifies_stores_and_pins(
    full_gateway: GatewayServer, tmp_path: Path, prefer_car: bool
) -> None:
    store = EmbeddedBlockStore(tmp_path / "mine", durable=False)
    result = fetch_dag([full_gateway.url], ROOT, store, prefer_car=prefer_car)
    assert result.fetched_blocks == len(BLOCKS)
    assert store.pins() == [ROOT]
    assert export_bytes(ROOT, store) == DATA


@pytest.mark.parametrize("mode", ["wrong", "truncated", "oversized", "error"])
def test_a_lying_gateway_is_rejected_and_the_next_one_used(full_gateway: GatewayServer, mode: str) -> None:
    store = MemoryBlockStore()
    with GatewayServer(_lying_app(mode)) as liar:
        # blocks are spread over both gateways by CID, so the liar is asked for some of them
        result = fetch_dag([liar.url, full_gateway.url], ROOT, store, concurrency=4)
    assert export_bytes(ROOT, store) == DATA
    if mode != "error":
        assert result.rejected, "the lie was not noticed"


@pytest.mark.parametrize("mode", ["wrong", "truncated", "oversized"])
def test_nothing_unverified_is_stored_when_only_liars_answer(mode: str) -> None:
    store = MemoryBlockStore()
    with GatewayServer(_lying_app(mode)) as liar, pytest.raises((GatewayError, BlockIntegrityError)):
        fetch_dag([liar.url], ROOT, store)
    assert store.stat().block_count == 0
    assert store.pins() == []


def test_a_block_in_a_car_that_the_dag_does_not_call_for_is_reported_and_not_stored(
    full_gateway: GatewayServer,
) -> None:
    store = MemoryBlockStore()
    with GatewayServer(_lying_app("car-unexpected")) as liar:
        result = fetch_dag([liar.url, full_gateway.url], ROOT, store, prefer_car=True)
    assert any("does not call for" in line for line in result.rejected)
    assert export_bytes(ROOT, store) == DATA
    assert store.stat().block_count == len(BLOCKS)  # the stray block was never stored


def test_a_block_no_gateway_holds_is_not_found(full_gateway: GatewayServer) -> None:
    absent = import_bytes(b"absent block")[0]

    async def run() -> None:
        async with GatewayClient([full_gateway.url]) as client:
            await client.get_block(absent)

    with pytest.raises(BlockNotFoundError):
        asyncio.run(run())


def test_fetch_spreads_over_several_gateways(tmp_path: Path) -> None:
    from scatter.ipfs.gateway.server import create_gateway_app

    servers = []
    stores = []
    for i in range(2):
        s = EmbeddedBlockStore(tmp_path / f"g{i}", durable=False)
        s.put_many(BLOCKS)
        stores.append(s)
        servers.append(GatewayServer(create_gateway_app(s)).start())
    try:
        mine = MemoryBlockStore()
        fetch_dag([srv.url for srv in servers], ROOT, mine, concurrency=4)
    finally:
        for srv in servers:
            srv.stop()
    assert export_bytes(ROOT, mine) == DATA


def test_gateway_urls_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        GatewayClient(["ftp://example"])
    assert parse_cid(str(ROOT)) == ROOT
