"""The SDK against the real contracts on anvil, with real Trustless Gateway servers as hosters' endpoints.

``stored_file`` does what hosters do for an upload, with real parts: six dev
accounts join as hosters whose endpoints are gateway servers (scatter.ipfs)
over their own embedded block stores, accept one slot each of the client's
bid, and import their shard's CAR; the client records the encrypted metadata.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scatter.chain.anvil import Anvil
from scatter.chain.market import Role
from scatter.chain.params import ETHER
from scatter.client import Scatter
from scatter.formats.metadata_schema import FileMetadata
from scatter.formats.params import parse_shards
from scatter.formats.pipeline import encode_file
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.sdk.network import Network
from tests.conftest import Chain

HOSTER_BASE = 10


@pytest.fixture()
def sdk(chain: Chain, anvil: Anvil, tmp_path: Path) -> Scatter:
    network = Network(chain.w3, anvil.url, chain.deployment, is_dev=False)
    return Scatter(network, chain.account(1), state_root=tmp_path / ".scatter")


@dataclass
class StoredFile:
    path: Path
    data: bytes
    file_id: int
    bid_id: int
    stores: list[EmbeddedBlockStore]
    servers: list[GatewayServer]
    cids: list[str]
    stopped: set[int] = field(default_factory=set)

    def kill(self, slot: int) -> None:
        self.servers[slot].stop()
        self.stopped.add(slot)

    def corrupt(self, slot: int) -> None:
        """Make hoster ``slot`` lie: every block it serves has one byte flipped."""
        for f in (self.stores[slot].path / "blocks").rglob("*.data"):
            raw = bytearray(f.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            f.write_bytes(bytes(raw))


@pytest.fixture()
def stored_file(sdk: Scatter, chain: Chain, tmp_path: Path) -> Iterator[StoredFile]:
    data = os.urandom(700_000)
    src = tmp_path / "report.bin"
    src.write_bytes(data)
    manifest = encode_file(src, tmp_path / "enc", erasure=parse_shards("3/6"))
    cids = [s.cid for s in manifest.shards]
    from multiformats import CID

    bid_id = sdk.market.bid(
        [bytes(CID.decode(c)) for c in cids],
        size=1 << 20,
        slot_count=6,
        price_per_epoch=10**9,
        duration_epochs=20,
    )
    stores, servers = [], []
    try:
        for slot in range(6):
            store = EmbeddedBlockStore(tmp_path / f"hoster{slot}", durable=False)
            server = GatewayServer(create_gateway_app(store)).start()
            stores.append(store)
            servers.append(server)
            hoster = chain.market(HOSTER_BASE + slot)
            hoster.join(Role.HOSTER, server.url, 1 << 30, ETHER)
            hoster.accept(bid_id, slot)
            with (tmp_path / "enc" / (manifest.shards[slot].car or "")).open("rb") as car:
                store.import_car(car, pin=True)
        record = FileMetadata(
            name=manifest.name, media_type=manifest.media_type, current=manifest.file_version(bid_id=bid_id)
        )
        file_id = sdk.files.add(sdk._seal(record))
        stored = StoredFile(src, data, file_id, bid_id, stores, servers, cids)
        yield stored
    finally:
        for i, server in enumerate(servers):
            if i not in getattr(locals().get("stored"), "stopped", set()):
                server.stop()
