"""Bounded logs of what clients cause: rate-limited lines, no tracebacks, 500s without details (issue 12)."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scatter.daemon.http import ErrorGuard
from scatter.daemon.logs import BoundedRecords, RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_lines_are_rate_limited_and_the_dropped_ones_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    limited = RateLimitedLog(logging.getLogger("scatter.test"), interval=60, burst=3, clock=clock)
    with caplog.at_level(logging.INFO, logger="scatter.test"):
        written = [limited.log("bad request", reason="x" * 10_000) for _ in range(100)]
        assert written.count(True) == 3
        assert limited.log("another kind")  # each key has its own budget
        clock.now += 61
        assert limited.log("bad request")
    lines = [r for r in caplog.records if r.getMessage() == "bad request"]
    assert len(lines) == 4
    assert all(len(r.__dict__["reason"]) <= 200 for r in lines[:3])
    assert lines[-1].__dict__["suppressed"] == 97


def test_uvicorn_records_become_one_bounded_line_without_traceback() -> None:
    clock = Clock()
    bounded = BoundedRecords(burst=2, max_chars=100, clock=clock)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError as exc:
        record = logging.LogRecord(
            "uvicorn.error",
            logging.ERROR,
            __file__,
            1,
            "Exception in ASGI app\n%s",
            ("y" * 500,),
            (type(exc), exc, exc.__traceback__),
        )
    assert bounded.filter(record)
    assert (
        record.exc_info is None
        and record.getMessage() == "Exception in ASGI app"[:100] + " (ValueError: boom)"
    )
    same = [
        logging.LogRecord(
            "uvicorn.error", logging.WARNING, __file__, 1, "Invalid HTTP request received.", None, None
        )
        for _ in range(5)
    ]
    assert [bounded.filter(r) for r in same] == [True, True, False, False, False]
    clock.now += 61
    again = logging.LogRecord(
        "uvicorn.error", logging.WARNING, __file__, 1, "Invalid HTTP request received.", None, None
    )
    assert bounded.filter(again) and again.getMessage().endswith("[3 similar suppressed]")


async def _fails(request: Request) -> Response:
    raise KeyError("/secret/path/of/the/store")


@pytest.mark.anyio
@pytest.mark.parametrize("json", [False, True])
async def test_an_unexpected_error_is_a_500_without_details_and_one_log_line(
    json: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = Starlette(routes=[Route("/", _fails)], middleware=[Middleware(ErrorGuard, json=json)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with caplog.at_level(logging.INFO):
            r = await client.get("/")
    assert r.status_code == 500
    assert "secret" not in r.text and (
        r.json() == {"error": "internal error"} if json else r.text == "internal error\n"
    )
    [line] = [rec for rec in caplog.records if rec.name == "scatter.http"]
    assert line.exc_info is None and "KeyError" in line.__dict__["error"]
    assert line.__dict__["where"].startswith("test_http_logs.py:")
