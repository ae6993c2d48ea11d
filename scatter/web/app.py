"""The web node's API: FastAPI over :class:`scatter.Scatter`, read-only views of the market.

=============================  ==================================================
``GET /healthz``               ``{"ok": true}``
``GET /api/status``            chain, contracts, epoch, counts, the Market's balance
``GET /api/bids?limit=50``     the newest bids (slots, escrow, CIDs)
``GET /api/bids/{id}``         one bid and every deal made on it
``GET /api/deals?limit=100``   the newest deals
``GET /api/hosters``           registered hosters (endpoint, stake, locked, status)
``GET /api/validators``        registered validators
``/pins``                      the IPFS Pinning Service API (:mod:`scatter.web.pinning`)
``GET /``                      the dapp, its ``/assets`` and ``/deployment.json`` (:mod:`scatter.web.dapp`)
=============================  ==================================================

Every answer is JSON; wei amounts are integers (they exceed 2^53: parse them as
big integers). Errors are ``{"error": "one line"}`` with a 4xx/5xx status.

The node answers only requests whose ``Host`` is one of ``allowed_hosts``
(default: ``localhost``, ``127.0.0.1`` and ``[::1]`` at the port it listens on),
else 421: a page on another site cannot read it through DNS rebinding. CORS
headers are sent only to ``allowed_origins`` (default: none but its own origin,
which needs none). ``SCATTER_WEB_ALLOWED_HOSTS`` and ``SCATTER_WEB_ALLOWED_ORIGINS``
(comma-separated) set both for ``scatter dev`` (:func:`settings_from_env`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scatter.daemon.http import ErrorGuard
from scatter.errors import ScatterError, ScatterNotFoundError, ScatterValueError

if TYPE_CHECKING:
    from scatter.client import Scatter
    from scatter.web.pinning import PinningService

API_VERSION = 1
LOCAL_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]")
_MAX_UINT256: Final = 2**256 - 1
_CORS_METHODS: Final = b"GET, HEAD, OPTIONS"
# the Pinning Service API (docs/pinning.md): a browser page sends its bearer token and JSON bodies
_PINS_CORS: Final = [
    (b"access-control-allow-methods", b"GET, HEAD, POST, DELETE, OPTIONS"),
    (b"access-control-allow-headers", b"Authorization, Content-Type"),
]


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """``allowed_hosts`` and ``allowed_origins`` from ``SCATTER_WEB_ALLOWED_{HOSTS,ORIGINS}``."""
    env = os.environ if environ is None else environ

    def items(name: str) -> tuple[str, ...]:
        return tuple(i.strip() for i in env.get(name, "").split(",") if i.strip())

    return {
        "allowed_hosts": items("SCATTER_WEB_ALLOWED_HOSTS"),
        "allowed_origins": items("SCATTER_WEB_ALLOWED_ORIGINS"),
    }


def _error(status: int, message: str) -> JSONResponse:
    lines = message.strip().splitlines()
    return JSONResponse({"error": (lines[0] if lines else "error")[:300]}, status_code=status)


_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?")


class HostAndOrigin:
    """ASGI middleware: refuse a ``Host`` not allowed (421); CORS headers only for allowed origins.

    ``allowed_hosts`` entries are ``name`` (any port) or ``name:port``; empty: the
    local names at the port the request came in on. ``allowed_origins`` are exact
    origins (``https://app.example``); the node's own origin is always allowed.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str] = (),
                 allowed_origins: Sequence[str] = ()) -> None:  # fmt: skip
        self.app = app
        self.hosts = frozenset(h.strip().lower() for h in allowed_hosts if h.strip())
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in allowed_origins if o.strip())

    def _host_allowed(self, host: str, scope: Scope) -> bool:
        match = _HOST.fullmatch(host)
        if match is None:
            return False
        name, port = match.group(1), match.group(2) or ""
        if self.hosts:
            return host in self.hosts or name in self.hosts
        server = scope.get("server")
        own = str(server[1]) if server and server[1] is not None else None
        return name in LOCAL_HOSTS and (port == own or (not port and own == "80"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "").strip().lower()
        if not self._host_allowed(host, scope):
            refusal = _error(
                421, f"host {host[:80] or '(none)'!r} is not served here; see SCATTER_WEB_ALLOWED_HOSTS"
            )
            await refusal(scope, receive, send)
            return
        origin = headers.get("origin", "").strip().rstrip("/").lower()
        own = f"{scope.get('scheme', 'http')}://{host}"
        allowed = bool(origin) and (origin in self.origins or origin == own)
        cors = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")] if allowed else []
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            if not allowed:
                await _error(403, "origin not allowed; see SCATTER_WEB_ALLOWED_ORIGINS")(scope, receive, send)
                return
            path = scope.get("path", "")
            if path == "/pins" or path.startswith("/pins/"):
                cors += [*_PINS_CORS, (b"access-control-max-age", b"600")]
            else:
                cors += [
                    (b"access-control-allow-methods", _CORS_METHODS),
                    (b"access-control-max-age", b"600"),
                ]
            await send({"type": "http.response.start", "status": 204, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *cors]
            await send(message)

        await self.app(scope, receive, with_cors)


def create_app(
    sdk: Scatter,
    *,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    pinning: PinningService | None = None,
    dapp: bool = True,
    public_rpc_url: str | None = None,
) -> FastAPI:
    """The web node's app over ``sdk`` (``allowed_hosts``, ``allowed_origins``: see the module);
    with ``pinning``, also the IPFS Pinning Service API at ``/pins`` (docs/pinning.md)."""
    from scatter.chain.market import Role

    app = FastAPI(
        title="Scatter web node",
        version=str(API_VERSION),
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.add_middleware(ErrorGuard, json=True)
    app.add_middleware(HostAndOrigin, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(ScatterError)
    async def scatter_error(_request: Request, exc: ScatterError) -> JSONResponse:
        status = (
            404
            if isinstance(exc, ScatterNotFoundError)
            else 400
            if isinstance(exc, ScatterValueError)
            else 502
        )
        return _error(status, str(exc))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "version": API_VERSION}

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return sdk.market_status().to_json()

    @app.get("/api/bids")
    def bids(limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
        return [b.to_json() for b in sdk.recent_bids(limit)]

    @app.get("/api/bids/{bid_id}")
    def bid(bid_id: int = Path(ge=0, le=_MAX_UINT256)) -> dict[str, Any]:
        info, deals = sdk.bid_status(bid_id, ask_hosters=False)
        return {"bid": info.to_json(), "deals": [d.to_json() for d in deals]}

    @app.get("/api/deals")
    def deals(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [d.to_json() for d in sdk.recent_deals(limit)]

    @app.get("/api/hosters")
    def hosters() -> list[dict[str, Any]]:
        return [n.to_json() for n in sdk.nodes(Role.HOSTER)]

    @app.get("/api/validators")
    def validators() -> list[dict[str, Any]]:
        return [n.to_json() for n in sdk.nodes(Role.VALIDATOR)]

    if pinning is not None:
        pinning.mount(app)
    if dapp:  # exact paths (/, /index.html, /deployment.json, /assets/*): nothing above is shadowed
        from scatter.web.dapp import dapp_routes

        app.router.routes.extend(dapp_routes(lambda: sdk.network, public_rpc_url=public_rpc_url))

    return app
