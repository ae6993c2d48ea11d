"""Healing: a reopened slot of an erasure-coded bid is rebuilt from other hosters (client offline),
checked against the slot's possession root, and filled with a proof — by any hoster without a live
slot in the bid, including one that lost a slot of it before."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from scatter.chain.market import DealStatus, Market, Role
from scatter.chain.params import ETHER
from scatter.formats.manifest_schema import Manifest
from scatter.formats.params import ErasureParams
from scatter.formats.pipeline import encode_file
from scatter.hoster.daemon import HosterThread
from scatter.ipfs.cid import cid_bytes, parse_cid
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.exporter import export_bytes
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from tests.conftest import Chain
from tests.integration.chain.shards import Shard, fill
from tests.integration.hoster.conftest import PRICE, wait_slot

pytestmark = pytest.mark.integration


@pytest.fixture()
def encoded(tmp_path: Path) -> Iterator[tuple[Manifest, Path]]:
    src = tmp_path / "file.bin"
    src.write_bytes(os.urandom(900_000))
    manifest = encode_file(src, tmp_path / "enc", erasure=ErasureParams(k=2, n=3, block_size=256 * 1024))
    yield manifest, tmp_path / "enc"


def fault(chain: Chain, market: Market, deal_id: int) -> None:
    """The hoster never answers: maxFaults missed proofs end the deal and reopen its slot."""
    p = market.params()
    chain.warp_to_epoch(market.get_deal(deal_id).paid_through + p.missed_quorum_epochs + 1)
    chain.market(9).request_proof_for_missed_quorum(deal_id)
    while market.get_deal(deal_id).status == DealStatus.ACTIVE:
        chain.warp_to_epoch(market.challenge_of(deal_id).due_epoch + 1)
        chain.market(9).report_missed_proof(deal_id)


def test_reopened_shard_slot_is_rebuilt_and_filled_by_a_hoster_that_lost_a_slot_of_it(
    chain: Chain, start_hoster: Callable[..., HosterThread], encoded: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, enc_dir = encoded
    cids = [s.cid for s in manifest.shards]
    shards: list[Shard] = []
    for i, entry in enumerate(manifest.shards):
        store = EmbeddedBlockStore(tmp_path / f"read-{i}")
        with (enc_dir / f"shard-{i:03d}.car").open("rb") as car:
            store.import_car(car)
        data = export_bytes(parse_cid(entry.cid), store)
        store.close()
        shards.append(
            Shard(data, parse_cid(entry.cid), [], manifest.roots[i] if manifest.shards[i].root else b"")
        )
    size = len(shards[0].data)
    assert all(len(s.data) == size for s in shards)
    bid_id = chain.market(1).bid(
        [cid_bytes(parse_cid(c)) for c in cids], roots=[s.root for s in shards], size=size, slot_count=3,
        price_per_epoch=PRICE, duration_epochs=200,
    )  # fmt: skip
    market = Market(chain.w3, chain.deployment.market)
    with ExitStack() as stack:
        deals = {}
        # Hosters of slots 0 and 1 serve their shard from a gateway; the hoster of slot 2 (the
        # daemon's own account: it lost this slot before) never serves and never proves.
        for slot, account in ((0, 6), (1, 7), (2, 2)):
            endpoint = "http://127.0.0.1:9"  # nothing listens there
            if slot < 2:
                store = EmbeddedBlockStore(tmp_path / f"peer-{slot}")
                stack.callback(store.close)
                with (enc_dir / f"shard-{slot:03d}.car").open("rb") as car:
                    store.import_car(car)
                server = stack.enter_context(GatewayServer(create_gateway_app(store)))
                endpoint = server.url
            chain.market(account).join(Role.HOSTER, endpoint, 1 << 30, 5 * ETHER)
            deals[slot] = fill(chain.market(account), bid_id, slot, shards[slot])
        fault(chain, market, deals[2])
        assert market.get_bid(bid_id).open_slots == 0b100

        h = start_hoster(2)
        wait_slot(h, bid_id, "filled", slot=2, timeout=60)
        job = h.hoster.state.job(bid_id, 2)
        assert job is not None and job.mode == "heal" and job.deal_id is not None
        assert market.get_deal(job.deal_id).hoster == chain.account(2).address
        assert parse_cid(cids[2]) in h.hoster.store.pins()
    # The other hosters are gone: the healed shard is served from this hoster's own store.
    served = httpx.get(f"{h.url}/ipfs/{cids[2]}", params={"format": "car"})
    assert served.status_code == 200
    assert h.hoster.metrics.heals.labels("ok")._value.get() == 1
