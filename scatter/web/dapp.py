"""The dapp's static files (built from ``dapp/`` by ``make dapp``) and its ``deployment.json``.

=============================  ==================================================
``GET /``, ``/index.html``     the dapp (hash-routed: one page, ``#/market``, ``#/pin``, ...)
``GET /assets/...``            its scripts and styles (content-hashed names, cached for a year)
``GET /deployment.json``       which chain and contracts the page talks to (below)
``GET /licenses.md``           the licences of the npm packages bundled (plain text)
``GET /licenses/...``          scatter.wasm's licences (zfec: GNU GPL v2+ or TGPPL) and source
=============================  ==================================================

Only these paths: the dapp is mounted beside ``/api``, ``/pins`` and ``/healthz``, never
over them. ``deployment.json`` (version 1)::

    {"version": 1, "default": 31337,
     "chains": {"31337": {"name": "...", "rpcUrl": "http://127.0.0.1:8545", "market": "0x...",
                          "fileRegistry": "0x...", "block": 0, "epochSeconds": 2}}}

``rpcUrl`` is what the *browser* reads the chain through: ``public_rpc_url`` when given, else
the node's own RPC URL only when it is on loopback (a provider URL may carry an API key, and
is not handed to every visitor); ``null`` makes the page read through the visitor's wallet.
Every dapp response carries a Content-Security-Policy: scripts, styles and images from the
page's own origin only (and WebAssembly compiled from it: the formats' zfec and keccak);
``connect-src`` stays open to http(s) because the page talks to the chain RPC, the hosters'
endpoints and the origins a user types.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from scatter.chain.tx import on_loopback

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from scatter.sdk.network import Network

DAPP_DIR: Final = Path(__file__).resolve().parent / "dapp"
DEPLOYMENT_VERSION: Final = 1
CHAIN_NAMES: Final = {31337: "Scatter dev network", 11155111: "Sepolia", 1: "Ethereum"}
CSP: Final = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http: https:; font-src 'none'; object-src 'none'; frame-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def deployment_document(network: Network, public_rpc_url: str | None = None) -> dict[str, Any]:
    """The ``deployment.json`` the page reads (see the module)."""
    d = network.deployment
    rpc = public_rpc_url or (network.rpc_url if on_loopback(network.rpc_url) else None)
    chain = {
        "name": CHAIN_NAMES.get(d.chain_id, f"chain {d.chain_id}"),
        "rpcUrl": rpc,
        "market": d.market,
        "fileRegistry": d.file_registry,
        "block": d.block,
        "epochSeconds": network.epoch_seconds,
    }
    return {"version": DEPLOYMENT_VERSION, "default": d.chain_id, "chains": {str(d.chain_id): chain}}


def dapp_built(directory: Path = DAPP_DIR) -> bool:
    return (directory / "index.html").is_file()


class _Static(StaticFiles):
    """Static files answered with ``headers`` (each replacing a header of the same name)."""

    def __init__(self, *, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = {k for k, _v in self._headers}

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *self._headers]
            await send(message)

        await super().__call__(scope, receive, with_headers)


#: Content-hashed assets: immutable, with nosniff.
_ASSET_HEADERS: Final = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
#: The licence texts and the wasm's C source: shown as plain text, never run.
_TEXT_HEADERS: Final = {**_PAGE_HEADERS, "Content-Type": "text/plain; charset=utf-8"}


def dapp_routes(
    network: Callable[[], Network], *, public_rpc_url: str | None = None, directory: Path = DAPP_DIR
) -> list[Any]:
    """The routes serving the dapp and its deployment.json (add them to an app's router);
    ``network`` is asked for the chain when the page asks for it."""

    async def page(_request: Request) -> Response:
        if not dapp_built(directory):
            return PlainTextResponse(
                "the dapp is not built in this install: run `make dapp` in a source checkout\n",
                status_code=404,
                headers=_PAGE_HEADERS,
            )
        return FileResponse(directory / "index.html", headers=_PAGE_HEADERS)

    async def deployment(_request: Request) -> Response:
        document = deployment_document(network(), public_rpc_url)
        return JSONResponse(document, headers={"Cache-Control": "no-cache"})

    routes: list[Any] = [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/index.html", page, methods=["GET", "HEAD"]),
        Route("/deployment.json", deployment, methods=["GET", "HEAD"]),
    ]

    async def licences(_request: Request) -> Response:
        path = directory / "licenses.md"
        if not path.is_file():
            return PlainTextResponse("the dapp is not built in this install\n", status_code=404)
        return FileResponse(path, media_type="text/plain; charset=utf-8", headers=_PAGE_HEADERS)

    routes.append(Route("/licenses.md", licences, methods=["GET", "HEAD"]))
    if (directory / "assets").is_dir():
        routes.append(
            Mount(
                "/assets",
                app=_Static(directory=directory / "assets", headers=_ASSET_HEADERS),
                name="dapp-assets",
            )
        )
    if (directory / "licenses").is_dir():
        routes.append(
            Mount(
                "/licenses",
                app=_Static(directory=directory / "licenses", headers=_TEXT_HEADERS),
                name="dapp-licences",
            )
        )
    return routes
