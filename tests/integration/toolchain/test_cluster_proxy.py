"""Growing past one machine (docs/operators.md): the hoster's Kubo RPC pointed at an IPFS Cluster
peer's Kubo-compatible proxy. The proxy listens on its own port (9095 by default) and is often
published behind a reverse proxy under a path prefix; every RPC path the hoster uses must work
there. The Kubo stand-in of tests/integration/ipfs/test_kubo.py plays the Kubo behind the proxy;
the proxy here answers only under its prefix, as a path-routing reverse proxy does."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest

from scatter.ipfs import MemoryBlockStore, export_bytes, read_car, write_car
from scatter.ipfs.kubo import KuboBlockStore
from tests.integration.ipfs.test_kubo import BLOCKS, DATA, ROOT, _Server, _StandInKubo

pytestmark = pytest.mark.integration
PREFIX = "/ipfs-cluster/proxy"


class _ClusterProxy(_StandInKubo):
    """Kubo's RPC under ``PREFIX``; anything else is a 404, as the reverse proxy answers it."""

    seen: list[str]

    def do_POST(self) -> None:
        if not self.path.startswith(PREFIX + "/api/v0/"):
            return self._send(404, b"404 page not found", "text/plain")
        self.seen.append(self.path.split("?")[0].removeprefix(PREFIX))
        self.path = self.path.removeprefix(PREFIX)
        super().do_POST()


@pytest.fixture
def proxy() -> Iterator[tuple[str, type[_ClusterProxy]]]:
    handler = type("Handler", (_ClusterProxy,), {"store": MemoryBlockStore(), "corrupt": False, "network": [],
                                                "seen": []})  # fmt: skip
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_every_rpc_path_the_hoster_uses_works_behind_a_prefixed_proxy(
    proxy: tuple[str, type[_ClusterProxy]],
) -> None:
    url, handler = proxy
    store = KuboBlockStore(url + "/", timeout=10)  # as an operator may write it, trailing slash included
    try:
        assert store.version().version and store.identity().peer_id
        car = io.BytesIO()
        write_car(car, [ROOT], BLOCKS)
        car.seek(0)
        assert store.import_car(car) == [ROOT]  # a signed upload
        assert store.pins() == [ROOT] and store.has(ROOT)
        assert export_bytes(ROOT, store) == DATA  # the gateway and the proofs read blocks
        out = io.BytesIO()
        store.export_car(ROOT, out)  # a CAR for a healing peer
        out.seek(0)
        assert read_car(out)[0] == [ROOT]
        assert store.stat().block_count == len(BLOCKS)
        store.unpin(ROOT)  # a deal ended
        assert store.gc().removed_blocks == len(BLOCKS)
        store.put_many(BLOCKS)  # a fetch from a gateway: blocks checked, stored, then pinned
        store.pin(ROOT)
        assert store.pins() == [ROOT]
    finally:
        store.close()
    used = set(handler.seen)
    hoster_paths = {"version", "id", "dag/import", "pin/ls", "block/stat", "block/get", "dag/export",
                    "repo/stat", "pin/rm", "repo/gc", "block/put", "pin/add"}  # fmt: skip
    assert {f"/api/v0/{p}" for p in hoster_paths} <= used, used
    assert handler.network == []  # nothing fetched from the network


def test_the_proxy_without_its_prefix_is_not_kubo(proxy: tuple[str, type[_ClusterProxy]]) -> None:
    url, _ = proxy
    store = KuboBlockStore(url.removesuffix(PREFIX), timeout=10)
    try:
        with pytest.raises(Exception, match="404"):
            store.version()
    finally:
        store.close()
