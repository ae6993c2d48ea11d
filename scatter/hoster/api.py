"""The hoster's public HTTP endpoint: Trustless Gateway, signed upload, slot status, health, metrics.

The gateway serves only blocks held locally; the IPFS RPC API is never exposed.
Malformed ids and headers are a 400 with a one-line reason before anything is
looked up; ids beyond SQLite's integers are malformed here (no deal, bid or slot
gets there).
"""

from __future__ import annotations

from typing import Final, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from scatter.daemon.http import TEXT_ERRORS, ErrorGuard, http_log
from scatter.hoster.content import UploadRejected
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.gateway.server import create_gateway_app
from scatter.protocol import API_PREFIX
from scatter.protocol.hoster_api import SlotStatus
from scatter.protocol.upload import EXPIRES_HEADER, SHA256_HEADER, SIGNATURE_HEADER

_MAX_ID: Final = 2**63 - 1  # SQLite's largest integer
_MAX_SLOT: Final = 255  # uint8 on chain
_MAX_UINT64: Final = 2**64 - 1


class HosterService(Protocol):
    registry: CollectorRegistry

    def pin_status(self, deal_id: int) -> SlotStatus | None: ...

    def slot_status(self, bid_id: int, slot: int) -> SlotStatus | None: ...

    async def receive_upload(self, bid_id: int, slot: int, request: Request) -> SlotStatus: ...

    def health(self) -> tuple[bool, dict[str, object]]: ...


def _uint(text: str | None, maximum: int) -> int | None:
    """A decimal integer of ASCII digits in [0, maximum], or None."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


def _int(request: Request, name: str, maximum: int = _MAX_ID) -> int | None:
    return _uint(request.path_params[name], maximum)


def _bad(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


def create_app(service: HosterService, store: BlockSource) -> Starlette:
    async def deal_status(request: Request) -> Response:
        deal_id = _int(request, "deal_id")
        if deal_id is None:
            return _bad(f"bad deal id: use a decimal integer up to {_MAX_ID}")
        status = service.pin_status(deal_id)
        if status is None:
            return _bad("not a deal of this hoster", 404)
        return JSONResponse(status.to_json())

    async def slot_status(request: Request) -> Response:
        bid_id, slot = _int(request, "bid_id"), _int(request, "slot", _MAX_SLOT)
        if bid_id is None or slot is None:
            return _bad(f"bad bid id or slot: decimal integers up to {_MAX_ID} and {_MAX_SLOT}")
        status = service.slot_status(bid_id, slot)
        if status is None:
            return _bad("this hoster has nothing to do with this slot", 404)
        return JSONResponse(status.to_json())

    async def upload(request: Request) -> Response:
        bid_id, slot = _int(request, "bid_id"), _int(request, "slot", _MAX_SLOT)
        if bid_id is None or slot is None:
            return _bad(f"bad bid id or slot: decimal integers up to {_MAX_ID} and {_MAX_SLOT}")
        for header in (EXPIRES_HEADER, "content-length"):
            if _uint(request.headers.get(header), _MAX_UINT64) is None:
                return _bad(f"bad upload headers: {header} must be a decimal integer below 2^64")
        try:
            status = await service.receive_upload(bid_id, slot, request)
        except UploadRejected as exc:
            return PlainTextResponse(str(exc).splitlines()[0] + "\n", status_code=exc.status,
                                     headers={"Connection": "close"})  # fmt: skip
        except ClientDisconnect:  # cut by the client or the server's body timeout: no one to answer
            http_log.log("upload cut", bid_id=bid_id, slot=slot)
            return _bad("upload cut before its end")
        return JSONResponse(status.to_json())

    async def healthz(request: Request) -> Response:
        ok, body = service.health()
        return JSONResponse({"ok": ok, **body}, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route(API_PREFIX + "/deals/{deal_id}", deal_status, methods=["GET"]),
        Route(API_PREFIX + "/bids/{bid_id}/slots/{slot}", slot_status, methods=["GET"]),
        Route(API_PREFIX + "/bids/{bid_id}/slots/{slot}/car", upload, methods=["PUT"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount("/", app=create_gateway_app(store)),
    ]
    # Any page may call the endpoint (the dapp pushes, reads health and content from the visitor's
    # browser): uploads are authorised by the client's EIP-712 signature, never by cookies.
    cors = Middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "PUT"],
        allow_headers=["content-type", SIGNATURE_HEADER, SHA256_HEADER, EXPIRES_HEADER],
        max_age=600,
    )
    return Starlette(routes=routes, middleware=[Middleware(ErrorGuard), cors], exception_handlers=TEXT_ERRORS)
