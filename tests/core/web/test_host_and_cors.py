"""The web node answers only its own host names and sends CORS headers only to allowed origins (issue 12).

A page on ``evil.example`` whose name an attacker re-points at 127.0.0.1 (DNS
rebinding) makes the browser send ``Host: evil.example:PORT``: that must be
refused, or the page could read the node's answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest

from scatter.ipfs.gateway.server import GatewayServer
from scatter.web.app import create_app, settings_from_env


@pytest.fixture()
def node() -> Iterator[GatewayServer]:
    # /healthz and the 404s never touch the SDK: no chain needed here
    with GatewayServer(create_app(cast(Any, None))) as server:
        yield server


def _get(server: GatewayServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=30)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_the_local_names_at_its_own_port_are_served(node: GatewayServer, host: str) -> None:
    r = _get(node, "/healthz", host=f"{host}:{node.port}")
    assert r.status_code == 200 and r.json()["ok"] is True


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1:1", "127.0.0.1", "localhost.evil.example:{port}", ""],
)
def test_any_other_host_is_refused_with_a_json_421(node: GatewayServer, host: str) -> None:
    r = _get(node, "/healthz", host=host.format(port=node.port))
    assert r.status_code == 421
    assert "not served here" in r.json()["error"]


def test_configured_hosts_replace_the_defaults() -> None:
    app = create_app(cast(Any, None), allowed_hosts=["scatter.example.org", "node.lan:8700"])
    with GatewayServer(app) as server:
        assert _get(server, "/healthz", host="scatter.example.org").status_code == 200
        assert _get(server, "/healthz", host="scatter.example.org:443").status_code == 200
        assert _get(server, "/healthz", host="node.lan:8700").status_code == 200
        assert _get(server, "/healthz", host="node.lan:8701").status_code == 421
        assert _get(server, "/healthz", host=f"127.0.0.1:{server.port}").status_code == 421


def test_no_cors_headers_for_a_foreign_origin(node: GatewayServer) -> None:
    r = _get(node, "/healthz", origin="https://evil.example")
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    ask = {"origin": "https://evil.example", "access-control-request-method": "GET"}
    pre = httpx.options(node.url + "/api/status", headers=ask)
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers


def test_cors_headers_for_its_own_and_configured_origins() -> None:
    app = create_app(cast(Any, None), allowed_origins=["https://dapp.example"])
    with GatewayServer(app) as server:
        for origin in ("https://dapp.example", server.url):
            r = _get(server, "/healthz", origin=origin)
            assert r.headers["access-control-allow-origin"] == origin.lower()
            assert "origin" in r.headers["vary"].lower()
        ask = {"origin": "https://dapp.example", "access-control-request-method": "GET"}
        pre = httpx.options(server.url + "/api/status", headers=ask)
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "https://dapp.example"
        assert (
            _get(server, "/healthz", origin="https://other.example").headers.get(
                "access-control-allow-origin"
            )
            is None
        )


def test_unknown_routes_are_json_errors(node: GatewayServer) -> None:
    r = _get(node, "/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}


def test_settings_come_from_the_environment() -> None:
    env = {
        "SCATTER_WEB_ALLOWED_HOSTS": "a.example, b.example:80",
        "SCATTER_WEB_ALLOWED_ORIGINS": "https://a.example",
    }
    assert settings_from_env(env) == {
        "allowed_hosts": ("a.example", "b.example:80"),
        "allowed_origins": ("https://a.example",),
    }
    assert settings_from_env({}) == {"allowed_hosts": (), "allowed_origins": ()}
