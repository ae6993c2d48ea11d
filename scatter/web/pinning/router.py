"""``/pins``: the IPFS Pinning Service API (ipfs/pinning-services-api-spec 1.0.0) over :class:`PinStore`.

=================================  ==========================================================
``GET /pins``                      the token's pins, newest first: ``cid`` (up to 10), ``name``
                                   with ``match``, ``status``, ``before``/``after`` (RFC 3339),
                                   ``limit`` (1-1000, default 10), ``meta`` (a JSON object)
``POST /pins``                     queue a ``Pin``: 202 and its ``PinStatus``
``GET /pins/{requestid}``          one pin's ``PinStatus``
``POST /pins/{requestid}``         replace it with a new ``Pin`` (a new requestid)
``DELETE /pins/{requestid}``       remove it: 202
=================================  ==========================================================

Every request needs ``Authorization: Bearer <token>`` (401 without one or with one that is
unknown or revoked). A token sees only its own pins: another token's requestid is 404,
as a missing one. Errors are the spec's ``Failure``: ``{"error": {"reason", "details"}}``,
4xx for anything a client sent (400 bad input, 409 ``INSUFFICIENT_FUNDS`` once the
token's spend cap is spent, 429 ``TOO_MANY_PENDING_PINS`` past its pending pins).
Filters and bodies are parsed here, not by FastAPI, so that no bad input takes another
error shape. A listing without any filter returns only pinned pins (as the spec says);
with a filter, pins in every status unless ``status`` says otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast, get_args

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scatter.errors import ScatterNotFoundError
from scatter.web.pinning.addresses import endpoint_multiaddr
from scatter.web.pinning.models import STATUSES, Pin, PinResults, Status, cid_key
from scatter.web.pinning.settings import PinSettings
from scatter.web.pinning.store import ListQuery, Match, PendingLimitError, PinStore, Token

MAX_BODY = 64 * 1024
MAX_CIDS = 10
T = TypeVar("T")


class PinApiError(Exception):
    def __init__(self, status: int, reason: str, details: str) -> None:
        super().__init__(details)
        self.status, self.reason, self.details = status, reason, details

    def response(self) -> JSONResponse:
        body = {"error": {"reason": self.reason, "details": self.details[:500]}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def _bad(details: str) -> PinApiError:
    return PinApiError(400, "BAD_REQUEST", details)


def create_router(store: PinStore, settings: PinSettings, delegates: Sequence[str] = ()) -> APIRouter:
    """The ``/pins`` routes. ``delegates``: multiaddrs of pins not yet held by hosters
    (default: the node's own address, from the request)."""
    router = APIRouter(tags=["pins"])

    def auth(request: Request) -> Token:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.strip().partition(" ")
        if not header or scheme.lower() != "bearer" or not secret.strip():
            raise PinApiError(401, "UNAUTHORIZED", "access token missing: send Authorization: Bearer <token>")
        token = store.token_for(secret.strip())
        if token is None:
            raise PinApiError(401, "UNAUTHORIZED", "access token is invalid or revoked")
        return token

    def own_delegates(request: Request) -> tuple[str, ...]:
        if delegates:
            return tuple(delegates)
        own = endpoint_multiaddr(str(request.base_url))
        return (own,) if own else ("/dns/localhost/tcp/80/http",)

    async def run(request: Request, work: Callable[[Token], T]) -> T:
        token = await run_in_threadpool(auth, request)
        try:
            return await run_in_threadpool(work, token)
        except ScatterNotFoundError as exc:
            raise PinApiError(404, "NOT_FOUND", str(exc)) from None
        except PendingLimitError as exc:
            raise PinApiError(429, "TOO_MANY_PENDING_PINS", str(exc)) from None

    def check_funds(token: Token) -> None:
        if token.spent >= token.spend_cap:
            spent = f"this token spent its cap ({token.spent} of {token.spend_cap} wei)"
            raise PinApiError(409, "INSUFFICIENT_FUNDS", spent)

    @router.get("/pins")
    async def list_pins(request: Request) -> Response:
        try:
            query = _list_query(request)

            def work(token: Token) -> tuple[int, list[Any]]:
                return store.find(token.id, query)

            count, records = await run(request, work)
        except PinApiError as exc:
            return exc.response()
        mine = own_delegates(request)
        page = PinResults(count=count, results=[r.status_object(mine) for r in records])
        return JSONResponse(page.to_json())

    @router.post("/pins")
    async def add_pin(request: Request) -> Response:
        try:
            pin = await _pin_body(request)

            def work(token: Token) -> Any:
                check_funds(token)
                return store.add(token.id, pin, max_pending=settings.max_pending)

            record = await run(request, work)
        except PinApiError as exc:
            return exc.response()
        return JSONResponse(record.status_object(own_delegates(request)).to_json(), status_code=202)

    @router.get("/pins/{requestid}")
    async def get_pin(request: Request, requestid: str) -> Response:
        try:
            record = await run(request, lambda token: store.get(token.id, requestid))
        except PinApiError as exc:
            return exc.response()
        return JSONResponse(record.status_object(own_delegates(request)).to_json())

    @router.post("/pins/{requestid}")
    async def replace_pin(request: Request, requestid: str) -> Response:
        try:
            pin = await _pin_body(request)

            def work(token: Token) -> Any:
                check_funds(token)
                return store.replace(token.id, requestid, pin, max_pending=settings.max_pending)

            record = await run(request, work)
        except PinApiError as exc:
            return exc.response()
        return JSONResponse(record.status_object(own_delegates(request)).to_json(), status_code=202)

    @router.delete("/pins/{requestid}")
    async def remove_pin(request: Request, requestid: str) -> Response:
        try:
            await run(request, lambda token: store.remove(token.id, requestid))
        except PinApiError as exc:
            return exc.response()
        return Response(status_code=202)

    return router


async def _pin_body(request: Request) -> Pin:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PinApiError(413, "PAYLOAD_TOO_LARGE", f"a Pin object is at most {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PinApiError(413, "PAYLOAD_TOO_LARGE", f"a Pin object is at most {MAX_BODY} bytes")
    try:
        return Pin.model_validate_json(body or b"null")
    except ValidationError as exc:
        errors = exc.errors()
        if not errors:
            raise _bad("body: not a Pin object") from None
        where = ".".join(str(p) for p in errors[0]["loc"]) or "body"
        raise _bad(f"{where}: {errors[0]['msg']}") from None


def _list_query(request: Request) -> ListQuery:
    params = request.query_params
    cids = _csv(params.getlist("cid"))
    if len(cids) > MAX_CIDS:
        raise _bad(f"cid: at most {MAX_CIDS} CIDs")
    for cid in cids:
        try:
            cid_key(cid)
        except Exception:
            raise _bad(f"cid: {cid[:80]!r} is not a CID") from None
    name = params.get("name")
    if name is not None and len(name) > 255:
        raise _bad("name: at most 255 characters")
    match = params.get("match", "exact")
    if match not in get_args(Match):
        raise _bad(f"match: one of {', '.join(get_args(Match))}")
    statuses = _csv(params.getlist("status"))
    if any(s not in STATUSES for s in statuses):
        raise _bad(f"status: each one of {', '.join(STATUSES)}")
    meta = _meta(params.get("meta"))
    before = _time(params.get("before"), "before", math.ceil)
    after = _time(params.get("after"), "after", math.floor)
    limit_text = params.get("limit", "10")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise _bad("limit: an integer from 1 to 1000")
    filtered = bool(cids or name is not None or statuses or meta or before is not None or after is not None)
    chosen = tuple(dict.fromkeys(statuses)) if statuses else (STATUSES if filtered else ("pinned",))
    return ListQuery(
        cids=cids,
        name=name,
        match=cast(Match, match),
        statuses=cast(tuple[Status, ...], chosen),
        before=before,
        after=after,
        limit=int(limit_text),
        meta=meta,
    )


def _csv(values: list[str]) -> tuple[str, ...]:
    """``?x=a&x=b`` (the spec's form) and ``?x=a,b`` (what some clients send) alike."""
    return tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))


def _meta(text: str | None) -> dict[str, str]:
    if text is None:
        return {}
    try:
        meta = json.loads(text)
    except ValueError:
        raise _bad('meta: a JSON object of strings, e.g. {"app_id": "x"}') from None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _bad('meta: a JSON object of strings, e.g. {"app_id": "x"}')
    return cast(dict[str, str], meta)


def _time(text: str | None, what: str, rounding: Callable[[float], int]) -> int | None:
    """An RFC 3339 time as ms since the epoch (``before`` rounded up, ``after`` down: pages
    split exactly on a ``created`` value of any precision)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise _bad(f"{what}: an RFC 3339 time, e.g. 2026-01-02T03:04:05Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // _MICRO
    return rounding(micros / 1000)


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
