"""Slow and greedy clients against a real uvicorn on loopback: timeouts and connection caps (issue 12).

Connections come from several loopback addresses (127.0.0.x) so that "one client"
and "another client" are told apart as on a real network. ``SCATTER_SLOWLORIS``
sets the number of slow connections (300 here; the manual run in
docs/operations.md used 1,500).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from scatter.daemon.http import HttpLimits
from scatter.errors import ScatterValueError
from scatter.ipfs.gateway.server import GatewayServer
from tests.http_fuzz import assert_logs_bounded, captured_logs

SLOW = int(os.environ.get("SCATTER_SLOWLORIS", "300"))
PARTIAL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers never finished
WAIT = 120.0  # generous: the assertions are about what happens, not when


async def _hello(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _echo(request: Request) -> Response:
    return PlainTextResponse(f"{len(await request.body())}")


async def _slow(request: Request) -> Response:
    await asyncio.sleep(1.5)  # longer than both timeouts: they must not apply while the app works
    return await _echo(request)


APP = Starlette(routes=[Route("/", _hello), Route("/echo", _echo, methods=["POST"]),
                        Route("/slow", _slow, methods=["POST"])])  # fmt: skip


Serve = Callable[[HttpLimits], GatewayServer]


@pytest.fixture()
def serve() -> Iterator[Serve]:
    """Start the test app on a real uvicorn under the given limits (stopped after the test)."""
    servers: list[GatewayServer] = []

    def start(limits: HttpLimits) -> GatewayServer:
        servers.append(GatewayServer(APP, limits=limits).start())
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def _connect(port: int, source: str, first: bytes = PARTIAL) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sock.sendall(first)
    return sock


def _endings(socks: list[socket.socket], timeout: float = WAIT) -> list[bytes | None]:
    """What each socket received until the server closed it; None for those still open at ``timeout``."""
    selector = selectors.DefaultSelector()
    got = {s: b"" for s in socks}
    open_ = set(socks)
    for s in socks:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                got[sock] += chunk
            else:
                selector.unregister(sock)
                open_.discard(sock)
    selector.close()
    for s in socks:
        s.close()
    return [None if s in open_ else got[s] for s in socks]


def _honest_get(url: str, source: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.get(url + "/")


def test_slowloris_from_one_address_is_capped_and_dropped_while_others_are_served(
    serve: Serve,
) -> None:
    cap = SLOW // 3
    server = serve(HttpLimits(header_timeout=5.0, max_connections_per_client=cap, max_connections=SLOW * 10))
    slow = [_connect(server.port, "127.0.0.1") for _ in range(SLOW)]
    honest = _honest_get(server.url, "127.0.0.2")
    assert (honest.status_code, honest.text) == (200, "ok")
    endings = _endings(slow)
    assert None not in endings, "a slow connection was never dropped"
    refused = [e for e in endings if e is not None and e.startswith(b"HTTP/1.1 429")]
    timed_out = [e for e in endings if e is not None and e.startswith(b"HTTP/1.1 408")]
    assert len(refused) == SLOW - cap
    assert len(timed_out) == cap
    assert _honest_get(server.url, "127.0.0.1").status_code == 200  # the address is served again


def test_slowloris_from_many_addresses_is_dropped_after_the_header_timeout(
    serve: Serve,
) -> None:
    server = serve(HttpLimits(header_timeout=3.0))  # default caps
    sources = [f"127.0.0.{10 + i % 30}" for i in range(SLOW)]
    slow = [_connect(server.port, src) for src in sources]
    assert _honest_get(server.url, "127.0.0.2").status_code == 200
    endings = _endings(slow)
    assert all(e is not None and e.startswith(b"HTTP/1.1 408") for e in endings), endings[:3]


def test_connections_beyond_the_server_cap_are_refused_with_a_503(serve: Serve) -> None:
    server = serve(HttpLimits(header_timeout=2.0, max_connections=40))
    slow = [_connect(server.port, f"127.0.0.{10 + i % 8}") for i in range(60)]
    endings = _endings(slow)
    assert sum(1 for e in endings if e is not None and e.startswith(b"HTTP/1.1 503")) == 20
    assert sum(1 for e in endings if e is not None and e.startswith(b"HTTP/1.1 408")) == 40


def test_a_stalled_request_body_is_cut_after_the_body_timeout(serve: Serve) -> None:
    server = serve(HttpLimits(header_timeout=3600.0, body_timeout=1.0))  # the header timer must not do it
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    stalled = _connect(server.port, "127.0.0.1", head + b"x" * 10)
    [ending] = _endings([stalled])
    assert ending == b"", "the server should close a connection whose body stalls"
    complete = _connect(
        server.port, "127.0.0.1", head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + b"x" * 100
    )
    [answer] = _endings([complete])
    assert answer is not None and answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"100")


def test_a_request_slower_to_answer_than_the_header_timeout_is_answered(serve: Serve) -> None:
    server = serve(HttpLimits(header_timeout=0.5, body_timeout=0.5))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(2):  # the second on the same keep-alive connection
            assert client.post("/slow", content=b"x" * 10).text == "10"


def test_websocket_upgrades_do_not_leave_connections_counted(serve: Serve) -> None:
    # A short idle timeout: the server may hold a refused upgrade open until then.
    server = serve(HttpLimits(max_connections_per_client=3, keep_alive_timeout=3.0))
    key = b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    upgrade = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + key + b"\r\n"
    for _ in range(2):
        _endings(
            [_connect(server.port, "127.0.0.1", upgrade) for _ in range(3)]
        )  # until the server closes them
    deadline = time.monotonic() + WAIT
    while _honest_get(server.url, "127.0.0.1").status_code != 200:  # a leaked count would refuse it for good
        assert time.monotonic() < deadline, "the upgraded connections are still counted"
        time.sleep(0.2)


def test_a_flood_of_malformed_requests_costs_a_few_log_lines(serve: Serve) -> None:
    server = serve(HttpLimits())
    with captured_logs() as lines:
        garbage = [_connect(server.port, "127.0.0.1", b"\x16\x03\x01 not http\r\n\r\n") for _ in range(50)]
        endings = _endings(garbage)
    assert all(e is not None and e.startswith(b"HTTP/1.1 400") for e in endings)
    assert_logs_bounded(lines, max_lines=5)


@pytest.mark.parametrize(
    "bad",
    [
        {"header_timeout": 0},
        {"body_timeout": -1.0},
        {"max_connections_per_client": 0},
        {"max_connections": 0},
    ],
)
def test_limits_must_be_positive(bad: dict[str, float]) -> None:
    with pytest.raises(ScatterValueError):
        HttpLimits(**bad)  # type: ignore[arg-type]
