"""Trustless Gateway server semantics, in process (the real Starlette app over ASGI)."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import httpx
import pytest

from scatter.ipfs import Block, MemoryBlockStore, export_bytes, import_bytes, read_car
from scatter.ipfs.cid import CODEC_DAG_PB
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs
from scatter.ipfs.gateway.server import create_gateway_app

DATA = random.Random(1).randbytes(5 * 262144 + 1000)  # deterministic: test ids and xdist workers agree
ROOT, BLOCKS = import_bytes(DATA)


@pytest.fixture
def store() -> MemoryBlockStore:
    s = MemoryBlockStore()
    s.put_many(BLOCKS)
    s.pin(ROOT)
    return s


@pytest.fixture
def client(store: MemoryBlockStore) -> Iterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_gateway_app(store))
    yield httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def _get(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    return await client.get(path, headers=headers)


def _car_blocks(body: bytes) -> list[Block]:
    _, it = read_car(io.BytesIO(body))
    return list(it)


@pytest.mark.anyio
async def test_raw_block_response_has_the_spec_headers(client: httpx.AsyncClient) -> None:
    leaf = BLOCKS[0]
    r = await _get(client, f"/ipfs/{leaf.cid}", accept="application/vnd.ipld.raw")
    assert r.status_code == 200
    assert r.content == leaf.data
    assert r.headers["content-type"] == "application/vnd.ipld.raw"
    assert r.headers["etag"] == f'"{leaf.cid}.raw"'
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["x-ipfs-roots"] == str(leaf.cid)
    assert r.headers["content-disposition"].startswith("attachment")


@pytest.mark.anyio
async def test_format_query_selects_the_response_type(client: httpx.AsyncClient) -> None:
    r = await _get(client, f"/ipfs/{ROOT}?format=raw")
    assert r.content == BLOCKS[-1].data
    r = await _get(client, f"/ipfs/{ROOT}?format=car")
    assert r.headers["content-type"].startswith("application/vnd.ipld.car; version=1")


@pytest.mark.anyio
async def test_car_of_the_whole_dag_is_depth_first_and_rebuilds_the_file(client: httpx.AsyncClient) -> None:
    r = await _get(client, f"/ipfs/{ROOT}", accept="application/vnd.ipld.car")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="{ROOT}.car"'
    roots, _ = read_car(io.BytesIO(r.content))
    assert roots == [ROOT]
    blocks = _car_blocks(r.content)
    assert blocks[0].cid == ROOT  # root first: depth-first pre-order
    rebuilt = MemoryBlockStore()
    rebuilt.put_many(blocks)
    assert export_bytes(ROOT, rebuilt) == DATA


@pytest.mark.anyio
async def test_dag_scope_block_returns_only_the_root(client: httpx.AsyncClient) -> None:
    r = await _get(client, f"/ipfs/{ROOT}?format=car&dag-scope=block")
    assert [b.cid for b in _car_blocks(r.content)] == [ROOT]


@pytest.mark.anyio
async def test_entity_bytes_returns_only_the_blocks_of_that_range(client: httpx.AsyncClient) -> None:
    r = await _get(client, f"/ipfs/{ROOT}?format=car&dag-scope=entity&entity-bytes=262144:262150")
    assert [b.cid for b in _car_blocks(r.content)] == [ROOT, BLOCKS[1].cid]
    r = await _get(client, f"/ipfs/{ROOT}?format=car&entity-bytes=-10:*")
    assert [b.cid for b in _car_blocks(r.content)] == [ROOT, BLOCKS[5].cid]


@pytest.mark.anyio
async def test_head_answers_headers_without_a_body(client: httpx.AsyncClient) -> None:
    r = await client.head(f"/ipfs/{BLOCKS[0].cid}?format=raw")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == str(len(BLOCKS[0].data))


@pytest.mark.anyio
async def test_missing_block_is_404_and_412_when_only_if_cached(client: httpx.AsyncClient) -> None:
    absent = import_bytes(b"not here")[0]
    r = await _get(client, f"/ipfs/{absent}?format=raw")
    assert r.status_code == 404
    r = await client.head(f"/ipfs/{absent}?format=raw", headers={"cache-control": "only-if-cached"})
    assert r.status_code == 412
    r = await client.head(f"/ipfs/{ROOT}?format=raw", headers={"cache-control": "only-if-cached"})
    assert r.status_code == 200


@pytest.mark.anyio
async def test_incomplete_dag_is_404_not_a_truncated_car(store: MemoryBlockStore) -> None:
    store.unpin(ROOT)
    store._delete_key(bytes(BLOCKS[2].cid.digest))
    transport = httpx.ASGITransport(app=create_gateway_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        r = await _get(client, f"/ipfs/{ROOT}?format=car")
    assert r.status_code == 404
    assert str(BLOCKS[2].cid) in r.text


@pytest.mark.anyio
async def test_if_none_match_gives_304(client: httpx.AsyncClient) -> None:
    r = await _get(client, f"/ipfs/{ROOT}?format=raw", **{"if-none-match": f'"{ROOT}.raw"'})
    assert r.status_code == 304


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/ipfs/not-a-cid?format=raw", 400, "not a CID"),
        (
            "/ipfs/baguqeeraiqjw7i2vwntyuekgvulpp2det2kpwt6cd7tx5ayqybqpmhfk76fa?format=raw",
            400,
            "codec dag-json",
        ),
        (
            "/ipfs/bafkr2qffyprvhimferhyfkg6f2hmsvtbruoyt3y6pxccvgbqkn7hzzkpkqfyxmyzyptmu?format=raw",
            400,
            "hash",
        ),
        (f"/ipfs/{ROOT}?format=tar", 400, "unsupported format"),
        (f"/ipfs/{ROOT}", 400, "no Accept header"),  # the spec's strict trustless mode
        (f"/ipfs/{ROOT}?format=car&car-version=2", 406, "version"),
        (f"/ipfs/{ROOT}/a/b?format=raw", 400, "no path"),
        (f"/ipfs/{ROOT}?format=car&dag-scope=everything", 400, "dag-scope"),
        (f"/ipfs/{ROOT}?format=car&entity-bytes=10:5", 400, "before"),
        (f"/ipfs/{ROOT}?format=car&entity-bytes=x:5", 400, "not an integer"),
        (f"/ipfs/{ROOT}?format=car&entity-bytes=99999999999999999999999:*", 400, "integer"),
        (f"/ipfs/{ROOT}?format=car&entity-bytes=5", 400, "from:to"),
        (f"/ipfs/{ROOT}?format=car&entity-bytes=999999999:*", 400, "outside"),
        (f"/ipfs/{ROOT}/x?format=car", 400, "not a directory"),
        ("/ipns/example.com", 404, "IPNS"),
    ],
)
async def test_bad_requests_get_a_status_and_a_one_line_reason(
    client: httpx.AsyncClient, path: str, status: int, reason: str
) -> None:
    r = await _get(client, path)
    assert r.status_code == status
    assert reason in r.text
    assert r.text.count("\n") == 1


@pytest.mark.anyio
async def test_car_request_resolves_a_unixfs_path(store: MemoryBlockStore) -> None:
    directory = encode_node(
        PBNode(
            (PBLink(ROOT, "file.bin", sum(len(b.data) for b in BLOCKS)),),
            encode_unixfs(UnixFSData(UnixFSType.DIRECTORY)),
        )
    )
    dir_block = Block.from_data(directory, codec=CODEC_DAG_PB)
    store.put(dir_block)
    transport = httpx.ASGITransport(app=create_gateway_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        r = await _get(client, f"/ipfs/{dir_block.cid}/file.bin?format=car&dag-scope=block")
        missing = await _get(client, f"/ipfs/{dir_block.cid}/nope?format=car")
    assert [b.cid for b in _car_blocks(r.content)] == [dir_block.cid, ROOT]
    assert r.headers["x-ipfs-roots"] == f"{dir_block.cid},{ROOT}"
    assert missing.status_code == 404
