"""The HTTP servers every daemon runs: uvicorn with timeouts, connection caps and bounded logs.

:func:`make_server` builds the ``uvicorn.Server`` for an app from :class:`HttpLimits`:

- ``header_timeout``: a connection must deliver a request's whole header block
  within this many seconds of opening (or of its previous response), else it is
  closed (with ``408`` if it had started a request). Trickling one byte at a time
  does not extend it: this is what drops slowloris connections.
- ``body_timeout``: while a request body is being read, at most this many seconds
  between two reads (the daemons bound the total time of an upload themselves).
- ``keep_alive_timeout``: how long a connection may sit idle between two requests
  (the header timeout starts once the next request's first byte arrives). Above the
  idle time of clients' connection pools (Go 90 s, undici up to its ``Keep-Alive``
  hint), so a client never reuses a connection the server is closing.
- ``max_connections_per_client``: open connections from one IP address; the next
  one is answered ``429`` and closed at once.
- ``max_connections``: open connections in all; the next one is answered ``503``
  and closed. The process's open-file limit is raised to fit.

The limits live in a subclass of uvicorn's h11 protocol (uvicorn's own settings
have a keep-alive timeout and a concurrency cap, but no header or body timeout).
:class:`ErrorGuard` turns an unexpected exception of an app into a ``500`` with a
one-line body and one bounded, rate-limited log line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

import h11
import uvicorn
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from scatter.daemon.logs import BoundedRecords, RateLimitedLog
from scatter.errors import ScatterValueError

__all__ = ["TEXT_ERRORS", "ErrorGuard", "HttpLimits", "make_server", "server_config"]

log = logging.getLogger("scatter.http")
http_log = RateLimitedLog(log)
"""Rate-limited log of what clients cause (timeouts, refused connections, bad requests)."""

_FD_HEADROOM = 512  # open files besides connections: block store, SQLite, RPC clients


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one client, or all of them, may hold of a server (see the module)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections_per_client: int = 256
    max_connections: int = 4096
    keep_alive_timeout: float = 65.0

    def __post_init__(self) -> None:
        if not (self.header_timeout > 0 and self.body_timeout > 0 and self.keep_alive_timeout > 0):
            raise ScatterValueError("http_header_timeout and http_body_timeout must be positive seconds")
        if self.max_connections_per_client < 1 or self.max_connections < 1:
            raise ScatterValueError("http_max_connections(_per_client) must be at least 1")


def _raw_response(status: int, reason: str, text: str, *extra: str) -> bytes:
    body = (text + "\n").encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: text/plain; charset=utf-8", "connection: close",
            f"content-length: {len(body)}", *extra]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Connections:
    """Open connections of one server, in all and per client address (one event loop: no locks)."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_client: dict[str, int] = {}

    def open(self, client: str) -> bytes | None:
        """Count a new connection, or return the response that refuses it."""
        if self.total >= self.limits.max_connections:
            http_log.log("http connection refused", reason="server at max_connections", client=client)
            return _raw_response(
                503, "Service Unavailable", "too many connections; retry later", "retry-after: 1"
            )
        held = self.by_client.get(client, 0)
        if held >= self.limits.max_connections_per_client:
            http_log.log(
                "http connection refused", reason="client at max_connections_per_client", client=client
            )
            return _raw_response(429, "Too Many Requests", "too many connections from this address")
        self.total += 1
        self.by_client[client] = held + 1
        return None

    def close(self, client: str) -> None:
        self.total -= 1
        left = self.by_client.pop(client, 1) - 1
        if left > 0:
            self.by_client[client] = left


class _LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout, a body idle timeout and connection caps."""

    limits: ClassVar[HttpLimits]
    tracker: ClassVar[_Connections]

    _counted: str | None = None
    _timer: asyncio.TimerHandle | None = None
    _waiting: str | None = None  # "idle", "header" or "body": what the timer is for
    _served = False  # a response was sent: an idle wait is keep-alive, not a slow request
    _started = 0.0  # loop time the header wait started, or of the last body read

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        client = self.client[0] if self.client else ""
        refusal = self.tracker.open(client)
        if refusal is not None:
            transport.write(refusal)
            transport.close()
            return
        self._counted = client
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self._counted is not None:
            self.tracker.close(self._counted)
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._served = True
        self._watch()

    def _watch(self) -> None:
        """(Re)arm the timer for what the connection waits on now: headers, body, or nothing."""
        if self.transport.is_closing():
            self._stop_timer()
            return
        state = self.conn.their_state
        now = self.loop.time()
        if state is h11.IDLE:
            wait = "idle" if self._served and not self.conn.trailing_data[0] else "header"
            if self._waiting != wait:
                timeout = self.limits.keep_alive_timeout if wait == "idle" else self.limits.header_timeout
                self._arm(wait, now, timeout)
        elif state is h11.SEND_BODY:
            if self._waiting != "body":
                self._arm("body", now, self.limits.body_timeout)
            self._started = now  # idle time counts from the last read
        else:
            self._stop_timer()

    def _arm(self, what: str, now: float, timeout: float) -> None:
        self._stop_timer()
        self._waiting, self._started = what, now
        self._timer = self.loop.call_at(now + timeout, self._expired)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._waiting = None, None

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        timeout = {"idle": self.limits.keep_alive_timeout, "header": self.limits.header_timeout}.get(
            self._waiting or "", self.limits.body_timeout
        )
        now = self.loop.time()
        if self._waiting == "body" and (self.flow.read_paused or self._started + timeout > now):
            # data arrived since, or the app reads slowly and paused the socket: not the client's idling
            if self.flow.read_paused:
                self._started = now
            self._timer = self.loop.call_at(self._started + timeout, self._expired)
            return
        client = self.client[0] if self.client else ""
        if self._waiting != "idle":  # an idle keep-alive connection closing is no one's fault
            http_log.log(f"http {self._waiting} timeout", client=client, seconds=timeout)
        if self._waiting == "header" and self.conn.trailing_data[0]:
            self.transport.write(
                _raw_response(408, "Request Timeout", f"request headers not received within {timeout:g} s")
            )
        self._waiting = None
        self.transport.close()


def _protocol_class(limits: HttpLimits) -> type[H11Protocol]:
    """A protocol class whose connections share one tracker: one per server."""

    class LimitedProtocol(_LimitedH11Protocol):
        pass

    LimitedProtocol.limits = limits
    LimitedProtocol.tracker = _Connections(limits)
    return LimitedProtocol


_bounded_uvicorn_logs = BoundedRecords()


def _bound_uvicorn_logs() -> None:
    """uvicorn logs one warning per malformed request and a traceback per app error: bound them."""
    logger = logging.getLogger("uvicorn.error")
    if _bounded_uvicorn_logs not in logger.filters:
        logger.addFilter(_bounded_uvicorn_logs)


def _raise_open_file_limit(wanted: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            log.warning("open-file limit %d is below http_max_connections + %d", target, _FD_HEADROOM)


def server_config(app: ASGIApp, limits: HttpLimits, **options: Any) -> uvicorn.Config:
    """The uvicorn config for ``app`` under ``limits`` (``options``: host, port, ... as uvicorn's)."""
    # ws="none": no app here speaks WebSocket, and an upgraded connection would leave the caps' count
    settings: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "off", "ws": "none",
                                "timeout_keep_alive": limits.keep_alive_timeout}  # fmt: skip
    settings.update(options)
    config = uvicorn.Config(app, http=_protocol_class(limits), **settings)
    _bound_uvicorn_logs()
    _raise_open_file_limit(limits.max_connections + _FD_HEADROOM)
    return config


def make_server(
    app: ASGIApp,
    limits: HttpLimits | None = None,
    *,
    server_class: type[uvicorn.Server] = uvicorn.Server,
    **options: Any,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with ``limits`` (default :class:`HttpLimits`)."""
    return server_class(server_config(app, limits or HttpLimits(), **options))


async def text_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) as one line of text, like the handlers'."""
    assert isinstance(exc, HTTPException)
    lines = str(exc.detail).strip().splitlines()
    return PlainTextResponse(f"{(lines[0] if lines else 'error').lower()}\n", exc.status_code, exc.headers)


TEXT_ERRORS: Final = {HTTPException: text_http_error}
"""``exception_handlers`` for a Starlette app whose errors are one line of text."""


def _where(exc: BaseException) -> str:
    """The innermost frame of ``exc``'s traceback outside libraries (file:line), for a one-line log."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "-packages" not in f.filename and f.filename != __file__] or frames
    return f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"


class ErrorGuard:
    """ASGI middleware: an unexpected exception becomes a ``500`` with a one-line body.

    The error is logged as one bounded, rate-limited line (type, message, where);
    a client that went away mid-request is not an error. ``json``: the body is
    ``{"error": "internal error"}`` instead of text.
    """

    def __init__(self, app: ASGIApp, *, json: bool = False) -> None:
        self.app = app
        self.json = json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return
        except Exception as exc:
            first, where = (str(exc).splitlines() or [""])[0], _where(exc)
            http_log.log("http handler error", logging.ERROR, key=f"error:{type(exc).__name__}:{where}",
                         error=f"{type(exc).__name__}: {first}", where=where,
                         method=scope.get("method", ""), path=scope.get("path", ""))  # fmt: skip
            if started:
                raise  # the response is on its way: the server can only cut the connection
            body, media = (b'{"error": "internal error"}', b"application/json") if self.json else (
                b"internal error\n", b"text/plain; charset=utf-8")  # fmt: skip
            headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})
