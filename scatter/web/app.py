"""The web node's API: FastAPI over :class:`scatter.Scatter`, read-only views of the market.

=============================  ==================================================
``GET /healthz``               ``{"ok": true}``
``GET /api/status``            chain, contracts, epoch, counts, the Market's balance
``GET /api/bids?limit=50``     the newest bids (slots, escrow, CIDs)
``GET /api/bids/{id}``         one bid and every deal made on it
``GET /api/deals?limit=100``   the newest deals
``GET /api/hosters``           registered hosters (endpoint, stake, locked, status)
``GET /api/validators``        registered validators
=============================  ==================================================

Every answer is JSON; wei amounts are integers (they exceed 2^53: parse them as
big integers). Errors are ``{"error": "one line"}`` with a 4xx/5xx status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from starlette.requests import Request

from scatter.errors import ScatterError, ScatterNotFoundError, ScatterValueError

if TYPE_CHECKING:
    from scatter.client import Scatter

API_VERSION = 1


def create_app(sdk: Scatter) -> FastAPI:
    from scatter.chain.market import Role

    app = FastAPI(
        title="Scatter web node",
        version=str(API_VERSION),
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )

    @app.exception_handler(ScatterError)
    async def scatter_error(_request: Request, exc: ScatterError) -> JSONResponse:
        status = (
            404
            if isinstance(exc, ScatterNotFoundError)
            else 400
            if isinstance(exc, ScatterValueError)
            else 502
        )
        return JSONResponse({"error": str(exc).splitlines()[0]}, status_code=status)

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
    def bid(bid_id: int) -> dict[str, Any]:
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

    return app
