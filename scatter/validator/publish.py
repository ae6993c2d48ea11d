"""The validator's publishing API over its :class:`~scatter.validator.ledger.SigningLedger`.

Routes (wire format: :mod:`scatter.protocol.attestations`):

- ``GET  /scatter/v1/attestations/{dealId}?from=E`` -> ``{"version": 1, "validator": "0x..",
  "attestations": [...]}``: what this validator signed for the deal, ranges ending at or after E
  (at most :data:`~scatter.validator.ledger.MAX_LISTED`, oldest first).
- ``POST /scatter/v1/attestations/{dealId}/range`` with ``{"fromEpoch": a, "toEpoch": b}`` -> one
  ok attestation over [a, b] if every epoch has a recorded ok verdict, else 409 with a one-line reason.
  With a guard (the daemon's :class:`~scatter.validator.guard.SigningGuard`): 403 when this validator
  is not in the deal's committee for the range's period, 400 for a range over two periods, 409 while
  the deal has a challenge open or for a range reaching its failed epoch.
- ``POST /scatter/v1/attestations/ranges`` with ``{"ranges": [{"dealId", "fromEpoch", "toEpoch"}, ...]}``
  (at most :data:`~scatter.protocol.attestations.MAX_BATCH_RANGES`) -> ``{"version": 1, "validator":
  "0x..", "results": [...]}``: per range, in order, what the route above would sign, or
  ``{"dealId", "fromEpoch", "toEpoch", "error"}`` where it would refuse; signed in one transaction
  per 5,000 epochs of verdicts; a range the guard refuses gets its one-line reason as ``error``.
  A range the ledger cannot sign whole also says how far it could: ``"okThrough": x``, the last
  epoch of its ok prefix (``x >= fromEpoch``; absent when there is none), so that a hoster asks
  for ``[fromEpoch, x]`` next instead of downloading every verdict (sampled probes leave the
  latest epochs unattested until the next probe carries them).
  400 for a malformed body, 405 for ``GET`` (it is not a deal id).
- ``GET /healthz`` -> 200 ``{"status": "ok", ...}`` (503 when the daemon reports a problem).
- ``GET /metrics`` -> Prometheus text format.

Handlers are plain functions: Starlette runs them in its thread pool, so SQLite's
fsync never blocks the event loop. Errors are one line of text; malformed input
(ids, epochs, JSON of any shape or depth) is a 400 before the guard or the ledger is asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from scatter.chain.eip712 import SignedAttestation
from scatter.daemon.http import TEXT_ERRORS, ErrorGuard
from scatter.protocol import API_PREFIX
from scatter.protocol.attestations import RANGES_PATH, WIRE_VERSION, parse_range_request, to_json
from scatter.validator.guard import Refusal
from scatter.validator.ledger import (
    MAX_RANGE_EPOCHS,
    MAX_SQLITE_INT,
    LedgerError,
    NotAttestableError,
    SigningLedger,
)
from scatter.validator.metrics import ValidatorMetrics

Health = Callable[[], dict[str, Any]]
"""Returns the daemon's health: ``{"status": "ok" | "degraded" | ..., ...}``."""

Guard = Callable[[int, int, int], Refusal | None]
"""``(deal_id, from_epoch, to_epoch) -> Refusal | None``: why an ok range must not be signed."""

MAX_BODY = 4096
MAX_BATCH_BODY = 64 * 1024
"""Body cap of a batch: 256 ranges of the largest integers take about 23 KiB."""
MAX_EPOCH = 2**32 - 1
"""Epochs are uint32 on chain (as the ledger checks)."""


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def _error(status: int, message: str) -> Response:
    return PlainTextResponse(message.splitlines()[0] + "\n", status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (``ValueError``) as soon as it exceeds ``limit`` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ValueError(f"request body too large (at most {limit} bytes)")
    return bytes(body)


async def _json_body(request: Request, limit: int) -> Any:
    """The body parsed as JSON (empty: None); ``ValueError`` for anything else, however nested."""
    try:
        return json.loads(await _read_body(request, limit) or b"null")
    except RecursionError:
        raise ValueError("body is nested too deeply") from None


def _int_param(value: str | None, name: str, default: int | None = None) -> int:
    if value is None:
        if default is None:
            raise ValueError(f"missing {name}")
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ValueError(f"{name} must be a non-negative integer")
    return int(value)


def create_publish_app(
    ledger: SigningLedger,
    *,
    metrics: ValidatorMetrics | None = None,
    health: Health | None = None,
    guard: Guard | None = None,
) -> Starlette:
    """The Starlette app a validator serves on its registered endpoint (``guard``: see the module)."""
    metrics = metrics or ValidatorMetrics()

    def guarded(deal_id: int, from_epoch: int, to_epoch: int) -> SignedAttestation:
        """Sign one range if the guard allows it (run in the thread pool: the guard may read the chain)."""
        if guard is not None:
            refusal = guard(deal_id, from_epoch, to_epoch)
            if refusal is not None:
                raise _Refused(refusal)
        return ledger.sign_range(deal_id, from_epoch, to_epoch)

    def sign_batch(ranges: list[tuple[int, int, int]]) -> list[SignedAttestation | NotAttestableError]:
        refused: dict[int, NotAttestableError] = {}
        if guard is not None:
            for i, (deal_id, a, b) in enumerate(ranges):
                if 0 < deal_id <= MAX_SQLITE_INT and 0 <= a <= b <= MAX_EPOCH and b - a < MAX_RANGE_EPOCHS:
                    # (the ledger words the invalid ones itself; the guard must not see them)
                    refusal = guard(deal_id, a, b)
                    if refusal is not None:
                        refused[i] = NotAttestableError(refusal.message)
        allowed = [r for i, r in enumerate(ranges) if i not in refused]
        signed = iter(ledger.sign_ranges(allowed) if allowed else [])
        return [refused[i] if i in refused else next(signed) for i in range(len(ranges))]

    def count(route: str, status: int) -> None:
        metrics.attestation_requests.labels(route=route, status=str(status)).inc()

    def count_signed(signed: SignedAttestation) -> None:
        att = signed.attestation
        kind = "epoch" if att.from_epoch == att.to_epoch else "range"
        metrics.attestations.labels(ok="true", kind=kind).inc()

    def list_attestations(request: Request) -> Response:
        try:
            deal_id = _int_param(request.path_params["deal_id"], "dealId")
            from_epoch = _int_param(request.query_params.get("from"), "from", default=0)
        except ValueError as exc:
            count("list", 400)
            return _error(400, str(exc))
        signed = ledger.attestations(deal_id, from_epoch)
        count("list", 200)
        return JSONResponse(
            {
                "version": WIRE_VERSION,
                "validator": ledger.address,
                "attestations": [to_json(s) for s in signed],
            }
        )

    async def sign_range(request: Request) -> Response:
        try:
            deal_id = _int_param(request.path_params["deal_id"], "dealId")
            data = await _json_body(request, MAX_BODY)
            if not isinstance(data, dict):
                raise ValueError('body must be {"fromEpoch": a, "toEpoch": b}')
            bounds = [data.get("fromEpoch"), data.get("toEpoch")]
            if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                raise ValueError("fromEpoch and toEpoch must be integers")
        except ValueError as exc:  # json.JSONDecodeError included
            count("range", 400)
            return _error(400, str(exc))
        from_epoch, to_epoch = int(bounds[0]), int(bounds[1])  # type: ignore[arg-type]
        if to_epoch - from_epoch + 1 > MAX_RANGE_EPOCHS or not 0 <= from_epoch <= to_epoch <= MAX_EPOCH:
            count("range", 400)
            shown = (
                f"{from_epoch}..{to_epoch}"
                if max(abs(from_epoch), abs(to_epoch)) < 2**64
                else "of huge epochs"
            )
            return _error(400, f"invalid range {shown} (at most {MAX_RANGE_EPOCHS} epochs)")
        try:
            signed = await run_in_threadpool(guarded, deal_id, from_epoch, to_epoch)
        except _Refused as exc:
            count("range", exc.refusal.status)
            return _error(exc.refusal.status, exc.refusal.message)
        except LedgerError as exc:
            count("range", 409)
            return _error(409, str(exc))
        count_signed(signed)
        count("range", 200)
        return JSONResponse(to_json(signed))

    async def sign_ranges(request: Request) -> Response:
        if request.method != "POST":
            count("ranges", 405)
            usage = f'use POST {RANGES_PATH} with {{"ranges": [...]}}\n'
            return PlainTextResponse(usage, status_code=405, headers={"Allow": "POST"})
        try:
            ranges = parse_range_request(await _json_body(request, MAX_BATCH_BODY))
        except ValueError as exc:  # json.JSONDecodeError and ScatterValueError included
            count("ranges", 400)
            return _error(400, str(exc))
        outcomes = await run_in_threadpool(sign_batch, ranges)
        results: list[dict[str, Any]] = []
        for (deal_id, from_epoch, to_epoch), outcome in zip(ranges, outcomes, strict=True):
            if isinstance(outcome, SignedAttestation):
                count_signed(outcome)
                results.append(to_json(outcome))
            else:
                error = str(outcome).splitlines()[0]  # the ledger's messages are one non-empty line
                item: dict[str, Any] = {"dealId": deal_id, "fromEpoch": from_epoch, "toEpoch": to_epoch,
                                        "error": error}  # fmt: skip
                if outcome.ok_through is not None and outcome.ok_through >= from_epoch:
                    item["okThrough"] = outcome.ok_through
                results.append(item)
        count("ranges", 200)
        return JSONResponse({"version": WIRE_VERSION, "validator": ledger.address, "results": results})

    def healthz(request: Request) -> Response:
        report = {"status": "ok", "validator": ledger.address}
        if health is not None:
            report.update(health())
        # readable from any page (the dapp shows each validator's health from the visitor's browser)
        cors = {"Access-Control-Allow-Origin": "*"}
        return JSONResponse(report, status_code=200 if report.get("status") == "ok" else 503, headers=cors)

    def metrics_route(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        # Before the listing, whose {deal_id} would otherwise take "ranges": GET here answers 405.
        Route(RANGES_PATH, sign_ranges, methods=["GET", "POST"]),
        Route(API_PREFIX + "/attestations/{deal_id}", list_attestations, methods=["GET"]),
        Route(API_PREFIX + "/attestations/{deal_id}/range", sign_range, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(ErrorGuard)], exception_handlers=TEXT_ERRORS)
