"""Downloads: any k of n shards from real gateway servers, verified, decoded, decrypted, sha256-checked.

Hosters here are real Trustless Gateway servers registered on chain as the
hosters of a real bid (see conftest); dead hosters are stopped servers, lying
hosters serve blocks with flipped bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from scatter.client import Scatter
from scatter.formats.errors import NotEnoughShardsError
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from tests.integration.sdk.conftest import StoredFile

pytestmark = pytest.mark.integration


def test_download_by_id_name_and_share_link_gives_identical_bytes(
    sdk: Scatter, stored_file: StoredFile, tmp_path: Path
) -> None:
    by_id = sdk.download(stored_file.file_id, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == stored_file.data
    assert by_id.shards_used == (0, 1, 2)  # data shards first: nothing to decode
    sdk.download("report.bin", tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == stored_file.data
    link = sdk.share(stored_file.file_id)
    assert link.startswith("scatter:file?v=2&chain=") and "#key=" in link
    out_dir = tmp_path / "dir"
    out_dir.mkdir()
    res = sdk.download(link, out_dir)
    assert res.path == out_dir / "report.bin"
    assert res.path.read_bytes() == stored_file.data


def test_download_survives_three_dead_hosters(sdk: Scatter, stored_file: StoredFile, tmp_path: Path) -> None:
    for slot in (0, 2, 4):
        stored_file.kill(slot)
    res = sdk.download(stored_file.file_id, tmp_path / "out.bin")
    assert res.path.read_bytes() == stored_file.data
    assert res.shards_used == (1, 3, 5)


def test_download_survives_lying_and_dead_hosters(
    sdk: Scatter, stored_file: StoredFile, tmp_path: Path
) -> None:
    stored_file.corrupt(0)
    stored_file.corrupt(1)
    stored_file.kill(5)
    res = sdk.download(stored_file.file_id, tmp_path / "out.bin")
    assert res.path.read_bytes() == stored_file.data
    assert res.shards_used == (2, 3, 4)


def test_download_with_four_bad_hosters_fails_naming_them_and_writes_nothing(
    sdk: Scatter, stored_file: StoredFile, tmp_path: Path
) -> None:
    stored_file.corrupt(0)
    stored_file.kill(1)
    stored_file.kill(2)
    stored_file.corrupt(3)
    with pytest.raises(NotEnoughShardsError, match=r"have 2 usable, need 3.*shard 0.*shard 1") as info:
        sdk.download(stored_file.file_id, tmp_path / "out.bin")
    assert info.value.have == 2
    assert not (tmp_path / "out.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".scatter-dl")] == []


def test_a_hoster_that_serves_no_car_still_gives_its_shard_block_by_block(
    sdk: Scatter, stored_file: StoredFile, tmp_path: Path
) -> None:
    async def refuse_car(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.query_params.get("format") == "car":
            return PlainTextResponse("CAR responses are not served here", status_code=406)
        return await call_next(request)

    port = stored_file.servers[0].port
    stored_file.kill(0)
    app = create_gateway_app(stored_file.stores[0])
    app.add_middleware(BaseHTTPMiddleware, dispatch=refuse_car)
    with GatewayServer(app, port=port):  # the endpoint on chain: raw blocks only
        res = sdk.download(stored_file.file_id, tmp_path / "out.bin")
    assert res.path.read_bytes() == stored_file.data
    assert res.shards_used == (0, 1, 2)  # shard 0 came block by block, not from a parity shard
