"""Trustless Gateway server over a block store (Kubo's ``Gateway.NoFetch``: local blocks only).

``GET``/``HEAD /ipfs/{cid}[/{path}]`` answers ``application/vnd.ipld.raw`` (one
block, no path) or ``application/vnd.ipld.car`` (``dag-scope``,
``entity-bytes``, UnixFS path resolution), chosen by ``Accept`` or
``?format=raw|car``. It never fetches: a block not held is a 404, or a 412 for
``Cache-Control: only-if-cached``. Bad input is a 400 with a one-line reason.

The app is a plain Starlette application so the hoster can mount it beside its
own routes (upload, ``/healthz``, ``/metrics``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
from collections.abc import AsyncIterator
from typing import Final

from multiformats import CID
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from scatter.daemon.http import TEXT_ERRORS, ErrorGuard, HttpLimits, http_log, make_server
from scatter.errors import ScatterError, ScatterValueError
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.car import encode_header
from scatter.ipfs.cid import cid_bytes, cid_str, parse_cid
from scatter.ipfs.dag import DagScope, file_size, missing_blocks, resolve_path, walk_dag
from scatter.ipfs.errors import BlockNotFoundError
from scatter.ipfs.gateway._protocol import (
    CAR_CONTENT_TYPE,
    CAR_CONTENT_TYPE_DUPS,
    IMMUTABLE,
    RAW,
    CarParams,
    GatewayRequestError,
    negotiate,
    parse_car_params,
    resolve_range,
)
from scatter.ipfs.varint import uvarint

__all__ = ["GatewayServer", "create_gateway_app"]

_BATCH: Final = 4 * 1024 * 1024  # CAR sections are sent in writes of about this size
_MAX_PATH: Final = 4096
_IDENTITY: Final = 0x00  # the identity multihash
_MAX_IDENTITY: Final = 128  # longest identity digest served (boxo's limit)


def _error(status: int, message: str) -> Response:
    return PlainTextResponse(
        message.splitlines()[0] + "\n", status_code=status, headers={"Cache-Control": "no-store"}
    )


def _only_if_cached(request: Request) -> bool:
    return "only-if-cached" in request.headers.get("cache-control", "").lower()


def _etag_matches(request: Request, etag: str) -> bool:
    inm = request.headers.get("if-none-match")
    if not inm:
        return False
    tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


class _Gateway:
    def __init__(self, store: BlockSource) -> None:
        self.store = store

    async def ipfs(self, request: Request) -> Response:
        try:
            return await self._ipfs(request)
        except GatewayRequestError as exc:
            return _error(exc.status, str(exc))
        except BlockNotFoundError as exc:
            # A store's own message may name where it keeps blocks: say only which block is missing.
            reason = f"block {cid_str(exc.cid)} is not held here" if isinstance(exc.cid, CID) else str(exc)
            if _only_if_cached(request):
                return _error(412, f"{reason} (only-if-cached)")
            return _error(404, f"{reason}; this gateway serves only blocks it holds")
        except ScatterValueError as exc:
            return _error(400, str(exc))
        except ScatterError as exc:  # the store failed: the operator's problem, not the client's
            http_log.log("gateway store error", logging.ERROR, key=type(exc).__name__,
                         error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            return _error(500, "the block store failed; retry later")

    async def _ipfs(self, request: Request) -> Response:
        rest: str = request.path_params["rest"]
        if len(rest) > _MAX_PATH:
            raise GatewayRequestError("path too long")
        cid_text, _, path = rest.partition("/")
        segments = [s for s in path.split("/") if s]
        if any(s in (".", "..") for s in segments):
            raise GatewayRequestError("path segments '.' and '..' are not allowed")
        query = dict(request.query_params)
        kind = negotiate(request.headers.get("accept"), query.get("format"), query.get("car-version"))
        identity = _identity(cid_text)
        if identity is not None:
            return self._identity(request, identity, kind, segments, query)
        root = parse_cid(cid_text)
        if kind == RAW:
            if segments:
                raise GatewayRequestError(
                    "raw block responses take no path: ask for /ipfs/{cid} of the block itself"
                )
            return await self._raw(request, root)
        return await self._car(
            request, root, segments, parse_car_params(query, request.headers.get("accept"))
        )

    def _identity(
        self, request: Request, cid: CID, kind: str, segments: list[str], query: dict[str, str]
    ) -> Response:
        """An identity CID holds its data itself: a raw response is that data; a CAR holds no block
        (identity blocks are never sent, even with dups=y)."""
        if segments:
            raise GatewayRequestError("an identity CID has no path below it")
        name = cid_str(cid)
        headers = self._common(cid, [cid], "")
        if kind == RAW:
            headers["ETag"] = f'"{name}.raw"'
            headers["Content-Disposition"] = _disposition(query, f"{name}.bin")
            body = b"" if request.method == "HEAD" else bytes(cid.digest)
            return Response(body, media_type=RAW, headers=headers)
        params = parse_car_params(query, request.headers.get("accept"))
        headers["ETag"] = f'W/"{name}.car.{params.etag_suffix()}"'
        headers["Content-Disposition"] = _disposition(query, f"{name}.car")
        headers["Accept-Ranges"] = "none"
        media = CAR_CONTENT_TYPE_DUPS if params.dups else CAR_CONTENT_TYPE
        body = b"" if request.method == "HEAD" else encode_header([cid])
        return Response(body, media_type=media, headers=headers)

    def _common(self, root: CID, roots: list[CID], path: str) -> dict[str, str]:
        return {
            "Cache-Control": IMMUTABLE,
            "X-Ipfs-Path": f"/ipfs/{cid_str(root)}{path}",
            "X-Ipfs-Roots": ",".join(cid_str(c) for c in roots),
            "Vary": "Accept",
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "Content-Length, ETag, X-Ipfs-Path, X-Ipfs-Roots",
        }

    async def _raw(self, request: Request, cid: CID) -> Response:
        name = cid_str(cid)
        etag = f'"{name}.raw"'
        if _etag_matches(request, etag) and self.store.has(cid):
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
        data = self.store.get(cid)  # BlockNotFoundError -> 404 / 412
        headers = self._common(cid, [cid], "")
        headers.update(
            {
                "ETag": etag,
                "Content-Disposition": _disposition(dict(request.query_params), f"{name}.bin"),
                "Content-Length": str(len(data)),
            }
        )
        body = b"" if request.method == "HEAD" else data
        response = Response(body, media_type=RAW, headers=headers)
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(data))
        return response

    async def _car(self, request: Request, root: CID, segments: list[str], params: CarParams) -> Response:
        store = self.store
        passed, target = resolve_path(root, segments, store) if segments else ([], root)
        roots = [b.cid for b in passed] + [target]
        digest = hashlib.sha256(f"{'/'.join(segments)}|{params.etag_suffix()}".encode()).hexdigest()[:16]
        etag = f'W/"{cid_str(root)}.car.{digest}"'
        if _etag_matches(request, etag) and store.has(target):
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
        if not store.has(target):
            raise BlockNotFoundError(f"block {cid_str(target)} is not held here", cid=target)
        byte_range = None
        if params.entity_bytes is not None:
            size = file_size(target, store)
            if size is not None:
                byte_range = resolve_range(params.entity_bytes, size)
        if params.scope is DagScope.ALL and byte_range is None:
            gaps = await asyncio.to_thread(missing_blocks, target, store, limit=1)
            if gaps:  # (no cid=: the handler keeps this message as it is)
                raise BlockNotFoundError(
                    f"the DAG of {cid_str(target)} is incomplete here (missing {cid_str(gaps[0])})"
                )
        path = "/" + "/".join(segments) if segments else ""
        headers = self._common(root, roots, path)
        headers.update(
            {
                "ETag": etag,
                "Content-Disposition": _disposition(dict(request.query_params), f"{cid_str(root)}.car"),
                "Accept-Ranges": "none",  # a CAR is streamed: byte ranges are entity-bytes' job
            }
        )
        media = CAR_CONTENT_TYPE_DUPS if params.dups else CAR_CONTENT_TYPE
        if request.method == "HEAD":
            return Response(b"", headers=headers, media_type=media)

        blocks = walk_dag(target, store, scope=params.scope, byte_range=byte_range, dedupe=not params.dups)

        def next_batch() -> bytes:
            """Up to _BATCH bytes of CAR sections (run in a worker thread: it reads files)."""
            buf = bytearray()
            for block in blocks:
                key = cid_bytes(block.cid)
                buf += uvarint(len(key) + len(block.data))
                buf += key
                buf += block.data
                if len(buf) >= _BATCH:
                    break
            return bytes(buf)

        async def body() -> AsyncIterator[bytes]:
            head = bytearray(encode_header([target]))
            for block in passed:
                head += _section(block.cid, block.data)
            yield bytes(head)
            while chunk := await asyncio.to_thread(next_batch):
                yield chunk

        return StreamingResponse(body(), headers=headers, media_type=media)

    async def ipns(self, request: Request) -> Response:
        return _error(404, "IPNS is not served here; ask for /ipfs/{cid}")  # not a 501: the client's mistake


def _identity(cid_text: str) -> CID | None:
    """The CID if it is an identity CID (multihash 0x00: the data is the digest), else None."""
    try:
        cid = CID.decode(cid_text)
    except Exception:  # any failure: parse_cid then says what is wrong with it
        return None
    if cid.hashfun.code != _IDENTITY or len(cid.digest) > _MAX_IDENTITY:
        return None
    return cid


def _disposition(query: dict[str, str], default: str) -> str:
    """``attachment`` with ``?filename=`` when given (quotes and control characters dropped)."""
    name = "".join(c for c in query.get("filename", "") if c.isprintable() and c not in '"\\')[:255]
    return f'attachment; filename="{name or default}"'


def _section(cid: CID, data: bytes) -> bytes:
    key = cid_bytes(cid)
    return uvarint(len(key) + len(data)) + key + data


def create_gateway_app(store: BlockSource) -> Starlette:
    """A Starlette app serving the Trustless Gateway over ``store``."""
    gw = _Gateway(store)
    routes = [
        Route("/ipfs/{rest:path}", gw.ipfs, methods=["GET", "HEAD"]),
        Route("/ipns/{rest:path}", gw.ipns, methods=["GET", "HEAD"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(ErrorGuard)], exception_handlers=TEXT_ERRORS)


class GatewayServer:
    """Run an app (a gateway, the web node, ...) with uvicorn in a background thread.

    ``port=0`` picks a free port; :attr:`url` is known once :meth:`start` returns.
    ``limits``: timeouts and connection caps (:class:`~scatter.daemon.http.HttpLimits`).
    """

    def __init__(
        self, app: Starlette, host: str = "127.0.0.1", port: int = 0, *, limits: HttpLimits | None = None
    ) -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise ScatterValueError(
                f"cannot listen on {host}:{port} ({exc}); choose another --port"
            ) from None
        self.port = self._sock.getsockname()[1]
        self._server = make_server(app, limits)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> GatewayServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise ScatterError("gateway server failed to start")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
