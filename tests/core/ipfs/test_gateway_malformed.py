"""The Trustless Gateway over a real block store and uvicorn: malformed requests get a 4xx (issue 12)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from scatter.ipfs import EmbeddedBlockStore, import_bytes
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from tests.http_fuzz import RawRequest, assert_logs_bounded, captured_logs, fuzz, requests, send_raw

DATA = random.Random(12).randbytes(3 * 262144 + 17)
ROOT, BLOCKS = import_bytes(DATA)
MISSING = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    path = tmp_path_factory.mktemp("gw") / "store"
    store = EmbeddedBlockStore(path)
    store.put_many(BLOCKS)
    store.pin(ROOT)
    with GatewayServer(create_gateway_app(store)) as server:
        yield server.url, path
    store.close()


def _get(url: str, target: str, **headers: str) -> tuple[int, str]:
    status, response = send_raw(url, RawRequest("GET", target.encode(), tuple(headers.items()), b""))
    return status, response.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


@pytest.mark.parametrize(
    "target", ["/ipfs/%00", "/ipfs/m//////////", "/ipfs/m", "/ipfs/%ff%fe", "/ipfs/" + "9" * 77]
)
def test_a_path_that_is_not_a_cid_is_a_400_with_one_line(gateway: tuple[str, Path], target: str) -> None:
    with captured_logs() as lines:
        status, body = _get(gateway[0], target, accept="application/vnd.ipld.raw")
    assert status == 400 and body.startswith("not a CID") and body.count("\n") == 1
    assert_logs_bounded(lines, max_lines=0)


def test_a_missing_block_is_a_404_that_does_not_name_the_store(gateway: tuple[str, Path]) -> None:
    url, store_path = gateway
    for target in (
        f"/ipfs/{MISSING}?format=raw",
        f"/ipfs/{MISSING}?format=car",
        f"/ipfs/{MISSING}/a?format=car",
    ):
        status, body = _get(url, target)
        assert status == 404, (target, body)
        assert str(store_path) not in body and "/tmp" not in body, body


def test_no_request_gets_a_5xx_or_floods_the_log(gateway: tuple[str, Path]) -> None:
    fuzz(gateway[0], requests(["/ipfs/", f"/ipfs/{ROOT}/", f"/ipfs/{BLOCKS[0].cid}", "/ipns/", "/", "/ipfs"]))
