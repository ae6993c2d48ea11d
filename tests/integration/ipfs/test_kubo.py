"""The Kubo RPC adapter against a stand-in Kubo on loopback.

No Kubo binary exists on this machine, so a real HTTP server on 127.0.0.1 plays
Kubo: it answers with Kubo's recorded response shapes and error messages
(tests/testdata/kubo_rpc_responses.json, transcribed from Kubo's RPC reference),
is POST-only like Kubo, and keeps blocks and pins so that the adapter's calls
have real effects. Run the same adapter against `ipfs daemon` for the real thing.
"""

from __future__ import annotations

import io
import json
import random
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from scatter.chain.anvil import free_port
from scatter.ipfs import Block, MemoryBlockStore, export_bytes, import_bytes, read_car, write_car
from scatter.ipfs.cid import parse_cid
from scatter.ipfs.dag import missing_blocks
from scatter.ipfs.errors import BlockIntegrityError, BlockNotFoundError, KuboError
from scatter.ipfs.kubo import KuboBlockStore

pytestmark = pytest.mark.integration

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "testdata" / "kubo_rpc_responses.json").read_text()
)
DATA = random.Random(1).randbytes(3 * 262144 + 5)  # deterministic: test ids and xdist workers agree
ROOT, BLOCKS = import_bytes(DATA)


def _fill(template: Any, **values: Any) -> Any:
    if isinstance(template, dict):
        return {_fill(k, **values): _fill(v, **values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, **values) for v in template]
    if isinstance(template, str):
        for key, value in values.items():
            if template == f"{{{key}}}" and isinstance(value, int):
                return value
            template = template.replace(f"{{{key}}}", str(value))
    return template


class _StandInKubo(BaseHTTPRequestHandler):
    store: MemoryBlockStore
    corrupt: bool = False
    stream_error: int | None = None  # dag/export breaks off after this many bytes (X-Stream-Error)
    # What real Kubo would have fetched from the network: it pins through its online DAG
    # service whatever `offline` says, so pinning an incomplete DAG reaches out (or hangs).
    network: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode())

    def _error(self, name: str, **values: Any) -> None:
        self._json(_fill(RECORDED[name], **values), 500)

    def do_GET(self) -> None:
        self._send(405, RECORDED["error_method_not_allowed"].encode(), "text/plain")

    def _file(self) -> bytes:
        body = (
            self.rfile.read(int(self.headers["Content-Length"])) if "Content-Length" in self.headers else b""
        )
        if not body:  # chunked upload
            parts = []
            while True:
                line = self.rfile.readline()
                if not line:  # the client hung up mid-upload (a test aborts one)
                    raise ConnectionResetError("client closed the upload")
                size = int(line.strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(parts)
        start = body.index(b"\r\n\r\n") + 4
        end = body.rindex(b"\r\n--")
        return body[start:end]

    def _send_broken_stream(self, part: bytes) -> None:
        """What Kubo sends when a streaming command fails midway: a 200, the bytes so far, and
        the error in the chunked body's trailer."""
        self.close_connection = True
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ipld.car\r\nTransfer-Encoding: chunked\r\n"
            "Trailer: X-Stream-Error\r\nConnection: close\r\n\r\n"
        )
        trailer = b"0\r\nX-Stream-Error: ipld: could not find a block\r\n\r\n"
        self.wfile.write(head.encode() + f"{len(part):x}\r\n".encode() + part + b"\r\n" + trailer)

    def do_POST(self) -> None:
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        endpoint = url.path.removeprefix("/api/v0/")
        store = self.store
        cid = parse_cid(q["arg"]) if "arg" in q else None
        if endpoint == "version":
            return self._json(RECORDED["version"])
        if endpoint == "id":
            return self._json(RECORDED["id"])
        if endpoint == "repo/stat":
            st = store.stat()
            return self._json(_fill(RECORDED["repo_stat"], bytes=st.size_bytes, count=st.block_count))
        if endpoint in ("block/get", "block/stat"):
            assert q.get("offline") == "true"
            assert cid is not None
            if not store.has(cid):
                return self._error("error_block_not_found", cid=q["arg"])
            data = store.get(cid)
            if endpoint == "block/stat":
                return self._json(_fill(RECORDED["block_stat"], cid=q["arg"], size=len(data)))
            return self._send(200, data[:-1] + b"!" if self.corrupt else data, "text/plain")
        if endpoint == "block/put":
            codec = {"raw": 0x55, "dag-pb": 0x70}[q["cid-codec"]]
            block = Block.from_data(self._file(), codec=codec)
            store.put(block)
            return self._json(_fill(RECORDED["block_put"], cid=str(block.cid), size=len(block.data)))
        if endpoint == "dag/import":
            roots, blocks = read_car(io.BytesIO(self._file()))
            store.put_many(blocks)
            lines = []
            for root in roots:
                gaps = missing_blocks(root, store)
                if q.get("pin-roots") == "true" and gaps:
                    self.network.append(f"dag/import pin fetched {gaps[0]}")
                    lines.append(
                        _fill(RECORDED["dag_import_root_pin_failed"], cid=str(root), missing=str(gaps[0]))
                    )
                    continue
                if q.get("pin-roots") == "true":
                    store.pin(root)
                lines.append(_fill(RECORDED["dag_import_root"], cid=str(root)))
            return self._send(200, b"".join(json.dumps(line).encode() + b"\n" for line in lines))
        if endpoint == "dag/export":
            assert cid is not None
            out = io.BytesIO()
            store.export_car(cid, out)
            if self.stream_error is not None:
                return self._send_broken_stream(out.getvalue()[: self.stream_error])
            return self._send(200, out.getvalue(), "application/vnd.ipld.car")
        if endpoint == "pin/add":
            assert cid is not None and q.get("offline") == "true"
            gaps = missing_blocks(cid, store)
            if gaps:
                self.network.append(f"pin/add fetched {gaps[0]}")
                return self._error("error_pin_incomplete", missing=str(gaps[0]))
            store.pin(cid)
            return self._json(_fill(RECORDED["pin_add"], cid=q["arg"]))
        if endpoint == "pin/rm":
            assert cid is not None
            if cid not in store.pins():
                return self._error("error_not_pinned")
            store.unpin(cid)
            return self._json(_fill(RECORDED["pin_rm"], cid=q["arg"]))
        if endpoint == "pin/ls":
            keys: dict[str, Any] = {}
            for pin in store.pins():
                keys.update(_fill(RECORDED["pin_ls"]["Keys"], cid=str(pin)))
            return self._json({"Keys": keys})
        if endpoint == "repo/gc":
            before = {bytes(c.digest): c for c in store.iter_cids()}
            store.gc()
            removed = [c for k, c in before.items() if not store.has(c)]
            body = b"".join(
                json.dumps(_fill(RECORDED["repo_gc_line"], cid=str(c))).encode() + b"\n" for c in removed
            )
            return self._send(200, body)
        return self._send(404, b"404 page not found", "text/plain")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is expected
            super().handle_error(request, client_address)


@pytest.fixture
def kubo() -> Iterator[tuple[KuboBlockStore, type[_StandInKubo]]]:
    handler = type("Handler", (_StandInKubo,), {"store": MemoryBlockStore(), "corrupt": False, "network": []})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    adapter = KuboBlockStore(f"http://127.0.0.1:{server.server_address[1]}", timeout=10)
    try:
        yield adapter, handler
    finally:
        adapter.close()
        server.shutdown()
        server.server_close()


def _car(blocks: list[Block], root: Any = ROOT) -> io.BytesIO:
    out = io.BytesIO()
    write_car(out, [root], blocks)
    out.seek(0)
    return out


def test_version_and_identity_are_parsed(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, _ = kubo
    assert adapter.version().version == "0.32.1"
    assert adapter.identity().agent_version.startswith("kubo/")


def test_import_car_pins_and_blocks_come_back_verified(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, _ = kubo
    assert adapter.import_car(_car(BLOCKS)) == [ROOT]
    assert adapter.pins() == [ROOT]
    assert adapter.has(BLOCKS[0].cid)
    assert export_bytes(ROOT, adapter) == DATA
    assert adapter.stat().block_count == len(BLOCKS)


def test_import_of_an_incomplete_car_is_refused_without_kubo_fetching(
    kubo: tuple[KuboBlockStore, Any],
) -> None:
    adapter, handler = kubo
    with pytest.raises(BlockNotFoundError, match="lacks block"):
        adapter.import_car(_car(BLOCKS[1:]))
    assert adapter.pins() == []
    assert handler.network == []  # Kubo was never asked to pin what it does not hold


def test_a_car_completed_by_blocks_kubo_already_holds_is_pinned(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, handler = kubo
    adapter.put_many(BLOCKS[:2])
    assert adapter.import_car(_car(BLOCKS[2:])) == [ROOT]
    assert adapter.pins() == [ROOT]
    assert handler.network == []


def test_pinning_a_dag_kubo_does_not_hold_never_reaches_kubo_pin(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, handler = kubo
    adapter.put_many(BLOCKS[1:])
    with pytest.raises(BlockNotFoundError, match="not all held"):
        adapter.pin(ROOT)
    assert handler.network == []
    assert adapter.pins() == []


@pytest.mark.parametrize("where", ["inside a block", "between blocks"])
def test_an_export_that_breaks_off_with_an_x_stream_error_fails(
    kubo: tuple[KuboBlockStore, Any], where: str
) -> None:
    adapter, handler = kubo
    adapter.put_many(BLOCKS)
    root_block = next(b for b in BLOCKS if b.cid == ROOT)
    after_root = len(_car([root_block]).getvalue())  # the header, then the root's section
    handler.stream_error = after_root + 100 if where == "inside a block" else after_root
    with pytest.raises(KuboError, match="X-Stream-Error"):
        adapter.export_car(ROOT, io.BytesIO())


def test_a_corrupt_car_never_reaches_kubo(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, handler = kubo
    raw = bytearray(_car(BLOCKS).getvalue())
    raw[200] ^= 1
    with pytest.raises(BlockIntegrityError):
        adapter.import_car(io.BytesIO(bytes(raw)))
    assert handler.store.stat().block_count == 0


def test_a_block_kubo_returns_wrong_is_rejected(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, handler = kubo
    adapter.put_many(BLOCKS)
    handler.corrupt = True
    with pytest.raises(BlockIntegrityError):
        adapter.get(BLOCKS[0].cid)


def test_missing_block_and_unknown_pin_are_not_found(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, _ = kubo
    with pytest.raises(BlockNotFoundError, match="not found locally"):
        adapter.get(ROOT)
    assert not adapter.has(ROOT)
    with pytest.raises(BlockNotFoundError, match="not pinned"):
        adapter.unpin(ROOT)


def test_put_pin_gc_export_cycle(kubo: tuple[KuboBlockStore, Any]) -> None:
    adapter, _ = kubo
    adapter.put_many(BLOCKS)
    with pytest.raises(BlockNotFoundError):
        adapter.pin(import_bytes(b"elsewhere")[0])
    adapter.pin(ROOT)
    out = io.BytesIO()
    adapter.export_car(ROOT, out)
    out.seek(0)
    roots, blocks = read_car(out)
    assert roots == [ROOT] and len(list(blocks)) == len(BLOCKS)
    loose = import_bytes(b"loose block")[1]
    adapter.put_many(loose)
    assert adapter.gc().removed_blocks == 1
    adapter.unpin(ROOT)
    assert adapter.gc().removed_blocks == len(BLOCKS)


def test_an_unreachable_kubo_says_what_to_do() -> None:
    adapter = KuboBlockStore(f"http://127.0.0.1:{free_port()}", timeout=2)  # nothing listens there
    with pytest.raises(KuboError, match="ipfs daemon"):
        adapter.version()
    assert missing_blocks(ROOT, MemoryBlockStore()) == [ROOT]
