"""The hoster's public HTTP endpoint: Trustless Gateway, signed upload, slot status, health, metrics.

The gateway serves only blocks held locally; the IPFS RPC API is never exposed.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from scatter.hoster.content import UploadRejected
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.gateway.server import create_gateway_app
from scatter.protocol import API_PREFIX
from scatter.protocol.hoster_api import SlotStatus


class HosterService(Protocol):
    registry: CollectorRegistry

    def pin_status(self, deal_id: int) -> SlotStatus | None: ...

    def slot_status(self, bid_id: int, slot: int) -> SlotStatus | None: ...

    async def receive_upload(self, bid_id: int, slot: int, request: Request) -> SlotStatus: ...

    def health(self) -> tuple[bool, dict[str, object]]: ...


def _int(request: Request, name: str, limit: int = 78) -> int | None:
    text = request.path_params[name]
    return int(text) if text.isdigit() and len(text) < limit else None


def create_app(service: HosterService, store: BlockSource) -> Starlette:
    async def deal_status(request: Request) -> Response:
        deal_id = _int(request, "deal_id")
        status = service.pin_status(deal_id) if deal_id is not None else None
        if status is None:
            return PlainTextResponse("not a deal of this hoster\n", status_code=404)
        return JSONResponse(status.to_json())

    async def slot_status(request: Request) -> Response:
        bid_id, slot = _int(request, "bid_id"), _int(request, "slot", 3)
        status = service.slot_status(bid_id, slot) if bid_id is not None and slot is not None else None
        if status is None:
            return PlainTextResponse("this hoster has nothing to do with this slot\n", status_code=404)
        return JSONResponse(status.to_json())

    async def upload(request: Request) -> Response:
        bid_id, slot = _int(request, "bid_id"), _int(request, "slot", 3)
        if bid_id is None or slot is None:
            return PlainTextResponse("bad bid id or slot\n", status_code=400)
        try:
            status = await service.receive_upload(bid_id, slot, request)
        except UploadRejected as exc:
            return PlainTextResponse(str(exc).splitlines()[0] + "\n", status_code=exc.status,
                                     headers={"Connection": "close"})  # fmt: skip
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
    return Starlette(routes=routes)
