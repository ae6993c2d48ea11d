"""The gateway keeps idle connections open between requests (HTTP keep-alive) longer than
clients' connection pools keep them, so a client never reuses a connection being closed."""

from __future__ import annotations

import socket
import time

from scatter.daemon.http import HttpLimits
from scatter.ipfs import MemoryBlockStore, import_bytes
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app

ROOT, BLOCKS = import_bytes(b"kept alive")


def _get(sock: socket.socket) -> bytes:
    sock.sendall(f"GET /ipfs/{ROOT}?format=raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.endswith(BLOCKS[0].data):
        piece = sock.recv(65536)
        if not piece:
            return reply  # the server closed the connection
        reply += piece
    return reply


def test_the_default_keep_alive_outlasts_client_pools() -> None:
    assert HttpLimits().keep_alive_timeout >= 60  # undici's hint-driven pools, Go's 90 s minus a margin


def test_an_idle_connection_survives_past_the_header_timeout_and_uvicorns_default() -> None:
    store = MemoryBlockStore()
    store.put_many(BLOCKS)
    limits = HttpLimits(header_timeout=1.0)  # the slowloris guard applies to requests, not to idling
    with (
        GatewayServer(create_gateway_app(store), limits=limits) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock,
    ):
        assert _get(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6)  # idle: past the header timeout and uvicorn's own 5 s keep-alive default
        assert _get(sock).startswith(b"HTTP/1.1 200")


def test_a_started_request_still_has_only_the_header_timeout() -> None:
    store = MemoryBlockStore()
    store.put_many(BLOCKS)
    limits = HttpLimits(header_timeout=1.0)
    with (
        GatewayServer(create_gateway_app(store), limits=limits) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock,
    ):
        assert _get(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /ipfs/")  # half a request line, then nothing
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 408")
