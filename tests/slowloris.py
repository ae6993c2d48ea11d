"""Manual slowloris run against a gateway with the default limits (docs/operations.md).

``python -m tests.slowloris CONNECTIONS SOURCES [--stock]``: opens CONNECTIONS connections
from SOURCES loopback addresses (127.0.0.10...), each sending partial headers and
then one byte every 2 s; asks once from another address meanwhile; reports how the
slow ones ended. ``--stock``: uvicorn's own defaults instead (the "before"), watched 30 s.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import selectors
import socket
import threading
import time

import httpx
import uvicorn

from scatter.daemon.http import HttpLimits, make_server
from scatter.ipfs import MemoryBlockStore
from scatter.ipfs.gateway.server import create_gateway_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("connections", type=int)
    parser.add_argument("sources", type=int)
    parser.add_argument("--stock", action="store_true")
    args = parser.parse_args()
    app = create_gateway_app(MemoryBlockStore())
    stock = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(stock) if args.stock else make_server(app, HttpLimits())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    start = time.monotonic()
    slow = []
    for i in range(args.connections):
        sock = socket.socket()
        sock.bind((f"127.0.0.{10 + i % args.sources}", 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /ipfs/x HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        slow.append(sock)
    opened = time.monotonic() - start
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30) as client:
        asked = time.monotonic()
        honest = client.get(f"http://127.0.0.1:{port}/ipns/x")
        answered = time.monotonic() - asked

    selector = selectors.DefaultSelector()
    got = {s: b"" for s in slow}
    left = set(slow)
    for s in slow:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    trickled = time.monotonic()
    while left and time.monotonic() - start < (30 if args.stock else 120):
        for key, _ in selector.select(0.5):
            sock = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if data:
                got[sock] += data
            else:
                selector.unregister(sock)
                left.discard(sock)
        if time.monotonic() - trickled > 2:
            trickled = time.monotonic()
            for sock in left:
                with contextlib.suppress(OSError):
                    sock.send(b"a")
    ended = collections.Counter(
        got[s][:12].decode(errors="replace") or "closed" for s in slow if s not in left
    )
    print(f"{args.connections} connections from {args.sources} addresses opened in {opened:.2f} s; "
          f"another client answered {honest.status_code} in {answered * 1000:.0f} ms; "
          f"{len(left)} still open after {time.monotonic() - start:.1f} s; ended: {dict(ended)}")  # fmt: skip
    for s in slow:
        s.close()
    server.should_exit = True
    thread.join(10)


if __name__ == "__main__":
    main()
