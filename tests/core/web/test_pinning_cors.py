"""CORS of ``/pins`` for a browser client of the Pinning Service API: the preflight of a POST or
DELETE carrying a bearer token and JSON is answered for the node's configured origins
(``SCATTER_WEB_ALLOWED_ORIGINS``) only; other origins get no CORS headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from scatter.ipfs.gateway.server import GatewayServer
from scatter.web.app import create_app
from scatter.web.pinning import PinningService, PinSettings

CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
ALLOWED = "https://dapp.example"
OTHER = "https://evil.example"


@pytest.fixture()
def node(tmp_path: Path) -> Iterator[tuple[str, str]]:
    service = PinningService(PinSettings(db=tmp_path / "pins.sqlite"))
    _token, secret = service.store.create_token("browser", 10**18)
    app = create_app(cast(Any, None), pinning=service, dapp=False, allowed_origins=[ALLOWED])
    with GatewayServer(app) as server:
        yield server.url, secret
    service.stop()


def _preflight(url: str, origin: str, method: str, path: str = "/pins") -> httpx.Response:
    ask = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type",
    }
    return httpx.options(url + path, headers=ask, timeout=30)


@pytest.mark.parametrize("method,path", [("POST", "/pins"), ("DELETE", "/pins/x"), ("POST", "/pins/x")])
def test_the_preflight_of_a_write_is_answered_for_an_allowed_origin(
    node: tuple[str, str], method: str, path: str
) -> None:
    url, _ = node
    pre = _preflight(url, ALLOWED, method, path)
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ALLOWED
    allowed_methods = {m.strip() for m in pre.headers["access-control-allow-methods"].split(",")}
    allowed_headers = {h.strip().lower() for h in pre.headers["access-control-allow-headers"].split(",")}
    assert method in allowed_methods and {"authorization", "content-type"} <= allowed_headers


def test_the_preflight_from_another_origin_gets_no_cors_headers(node: tuple[str, str]) -> None:
    url, _ = node
    pre = _preflight(url, OTHER, "POST")
    assert pre.status_code == 403
    assert not [h for h in pre.headers if h.startswith("access-control-")]


def test_a_post_from_an_allowed_origin_is_readable_and_from_another_is_not(node: tuple[str, str]) -> None:
    url, secret = node
    auth = {"authorization": f"Bearer {secret}"}
    mine = httpx.post(url + "/pins", json={"cid": CID}, headers={**auth, "origin": ALLOWED}, timeout=30)
    assert mine.status_code == 202 and mine.headers["access-control-allow-origin"] == ALLOWED
    other = httpx.post(url + "/pins", json={"cid": CID}, headers={**auth, "origin": OTHER}, timeout=30)
    assert not [h for h in other.headers if h.startswith("access-control-")]


def test_the_rest_of_the_api_stays_read_only_across_origins(node: tuple[str, str]) -> None:
    url, _ = node
    pre = _preflight(url, ALLOWED, "POST", "/api/status")
    assert "POST" not in pre.headers.get("access-control-allow-methods", "")
    assert "access-control-allow-headers" not in pre.headers
