"""The SDK against the real contracts on anvil, with real Trustless Gateway servers as hosters' endpoints.

``stored_file`` does what hosters do for an upload, with real parts: six dev
accounts join as hosters whose endpoints are gateway servers (scatter.ipfs)
over their own embedded block stores, import their shard's CAR, and fill one
slot each of the client's bid (CIDs, possession roots, exact shard size) with a
real possession proof; the client records the encrypted metadata.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from web3 import Web3

from scatter.chain.anvil import Anvil
from scatter.chain.market import DealStatus, Market, Role, fill_seed
from scatter.chain.params import ETHER
from scatter.client import Scatter
from scatter.formats.metadata_schema import FileMetadata
from scatter.formats.params import parse_shards
from scatter.formats.pipeline import encode_file
from scatter.formats.possession import build_proof, challenge_indices
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.sdk.network import Network
from tests.conftest import Chain

HOSTER_BASE = 10
MAX_COLLATERAL = 2**127


def fill_slot(w3: Web3, hoster: Market, address: str, bid_id: int, slot: int, shard: bytes) -> int:
    """What a hoster does once it holds the shard: fill the slot with a proof over a recent block."""
    seed_block = int(w3.eth.block_number) - 1  # mined before the fill, also when gas is estimated
    seed = fill_seed(bytes(w3.eth.get_block(seed_block)["hash"]), bid_id, slot, address)
    proof = build_proof(
        lambda offset, length: shard[offset : offset + length],
        len(shard),
        challenge_indices(seed, len(shard)),
    )
    return hoster.fill(bid_id, slot, seed_block, MAX_COLLATERAL, proof)


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
    manifest = encode_file(src, tmp_path / "enc", erasure=parse_shards("3/6"), shard_files=True)
    cids = [s.cid for s in manifest.shards]
    from multiformats import CID

    [size] = {s.size for s in manifest.shards}
    bid_id = sdk.market.bid(
        [bytes(CID.decode(c)) for c in cids],
        roots=list(manifest.roots),
        size=size,
        slot_count=6,
        price_per_epoch=10**9,
        duration_epochs=200,  # outlasts the missed proofs of fault_deals
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
            with (tmp_path / "enc" / (manifest.shards[slot].car or "")).open("rb") as car:
                store.import_car(car, pin=True)
            shard = (tmp_path / "enc" / (manifest.shards[slot].file or "")).read_bytes()
            fill_slot(chain.w3, hoster, chain.account(HOSTER_BASE + slot).address, bid_id, slot, shard)
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


def fault_deals(chain: Chain, sdk: Scatter, deal_ids: list[int]) -> None:
    """End deals the only way v2 allows: missed proofs, maxFaults times, reported by a stranger."""
    params = sdk.params
    stranger = chain.market(7)
    start = max(sdk.market.get_deal(d).start_epoch for d in deal_ids)
    chain.warp_to_epoch(start + params.missed_quorum_epochs + 2)
    for d in deal_ids:
        stranger.request_proof_for_missed_quorum(d)
    for _ in range(params.max_faults):
        due = max(stranger.challenge_of(d).due_epoch for d in deal_ids)
        chain.warp_to_epoch(due + 1)
        for d in deal_ids:
            stranger.report_missed_proof(d)
    assert all(sdk.market.get_deal(d).status == DealStatus.FAULTED for d in deal_ids)
