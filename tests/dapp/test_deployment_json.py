"""deployment.json: which RPC URL the page's visitors are handed."""

from __future__ import annotations

from typing import Any

import pytest

from scatter.chain.deployments import Deployment
from scatter.web.dapp import deployment_document


class _Network:
    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self.deployment = Deployment(11155111, "0x" + "1" * 40, "0x" + "2" * 40, 7, "0x" + "3" * 40)
        self.epoch_seconds = 3600


@pytest.mark.parametrize(
    ("node_rpc", "public", "handed"),
    [
        ("http://127.0.0.1:8545", None, "http://127.0.0.1:8545"),
        ("http://localhost:8545", None, "http://localhost:8545"),
        ("https://sepolia.provider.example/v3/SECRET-KEY", None, None),  # never hand out a keyed URL
        (
            "https://sepolia.provider.example/v3/SECRET-KEY",
            "https://rpc.sepolia.org",
            "https://rpc.sepolia.org",
        ),
    ],
)
def test_the_page_gets_a_loopback_or_public_rpc_never_the_nodes_own(
    node_rpc: str, public: str | None, handed: str | None
) -> None:
    doc: dict[str, Any] = deployment_document(_Network(node_rpc), public)  # type: ignore[arg-type]
    chain = doc["chains"]["11155111"]
    assert (doc["version"], doc["default"], chain["rpcUrl"]) == (1, 11155111, handed)
    assert (chain["block"], chain["epochSeconds"], chain["name"]) == (7, 3600, "Sepolia")


def test_the_licences_are_served_as_plain_text_beside_the_dapp() -> None:
    """/licenses.md and /licenses/... (zfec's licences, scatter.wasm's C source) are text, never
    a page that runs: plain text with the page's security headers; a path outside them is 404."""
    import httpx
    from starlette.applications import Starlette

    from scatter.ipfs.gateway.server import GatewayServer
    from scatter.web.dapp import DAPP_DIR, dapp_routes

    app = Starlette(routes=dapp_routes(lambda: _Network("http://127.0.0.1:8545")))  # type: ignore[arg-type,return-value]
    server = GatewayServer(app, "127.0.0.1", 0).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            for path in (
                "/licenses.md",
                "/licenses/scatter-wasm.md",
                "/licenses/scatter-wasm-src/dapp/wasm/zfec/fec.c",
            ):
                response = client.get(path)
                assert response.status_code == 200, path
                assert response.headers["content-type"] == "text/plain; charset=utf-8", path
                assert response.headers["x-content-type-options"] == "nosniff", path
                assert "default-src 'self'" in response.headers["content-security-policy"], path
            assert "## viem" in client.get("/licenses.md").text
            assert client.get("/licenses/%2e%2e/index.html").status_code == 404
            assert client.get("/licenses/nothing-here").status_code == 404
            [wasm] = (DAPP_DIR / "assets").glob("scatter-*.wasm")  # assets: immutable, typed, nosniff
            asset = client.get(f"/assets/{wasm.name}")
            assert (asset.status_code, asset.headers["content-type"]) == (200, "application/wasm")
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert asset.headers["x-content-type-options"] == "nosniff"
    finally:
        server.stop()
