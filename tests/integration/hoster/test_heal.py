"""Healing: a reopened slot of an erasure-coded bid is rebuilt from other hosters, client offline."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from scatter.chain.market import Market, Role
from scatter.chain.params import ETHER
from scatter.formats.params import ErasureParams
from scatter.formats.pipeline import encode_file
from scatter.hoster.daemon import HosterThread
from scatter.ipfs.cid import cid_bytes, parse_cid
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.hoster_api import PinStatus, deal_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import post_bid, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture()
def encoded(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    src = tmp_path / "file.bin"
    src.write_bytes(os.urandom(900_000))
    manifest = encode_file(src, tmp_path / "enc", erasure=ErasureParams(k=2, n=3, block_size=256 * 1024))
    yield [s.cid for s in manifest.shards], tmp_path / "enc"


def test_reopened_shard_slot_is_rebuilt_from_k_other_hosters(
    chain: Chain, start_hoster: Callable[..., HosterThread], encoded: tuple[list[str], Path], tmp_path: Path
) -> None:
    cids, enc_dir = encoded
    size = max((enc_dir / f"shard-{i:03d}.car").stat().st_size for i in range(3))
    bid_id = post_bid(chain, [cid_bytes(parse_cid(c)) for c in cids], size=size, slots=3, duration=12)
    market = Market(chain.w3, chain.deployment.market)
    with ExitStack() as stack:
        deals = {}
        # Hosters of slots 0 and 1 serve their shard from a gateway; the hoster of slot 2 never serves.
        for slot, account in ((0, 6), (1, 7), (2, 8)):
            endpoint = "http://127.0.0.1:9"  # nothing listens there
            if slot < 2:
                store = EmbeddedBlockStore(tmp_path / f"peer-{slot}")
                stack.callback(store.close)
                with (enc_dir / f"shard-{slot:03d}.car").open("rb") as car:
                    store.import_car(car)
                server = stack.enter_context(GatewayServer(create_gateway_app(store)))
                endpoint = server.url
            chain.market(account).join(Role.HOSTER, endpoint, 1 << 30, 5 * ETHER)
            deals[slot] = chain.market(account).accept(bid_id, slot)
        start = market.get_deal(deals[2]).start_epoch
        chain.warp_to_epoch(start + 4)  # past the grace period with nothing settled
        chain.market(9).fault_missed(deals[2])
        assert market.get_bid(bid_id).open_slots == 0b100

        h = start_hoster(2)
        deal = wait_until(lambda: next(iter(h.hoster.state.deals()), None), what="the reopened slot taken")
        assert (deal.bid_id, deal.slot, deal.cid) == (bid_id, 2, cids[2])
        wait_until(lambda: PinStatus.from_json(httpx.get(h.url + deal_path(deal.deal_id)).json()).pinned,
                   timeout=30, what="the healed shard pinned")  # fmt: skip
        assert h.hoster.state.deal(deal.deal_id).source == "heal"  # type: ignore[union-attr]
        assert parse_cid(cids[2]) in h.hoster.store.pins()
    # The other hosters are gone: the healed shard is served from this hoster's own store.
    car = httpx.get(f"{h.url}/ipfs/{cids[2]}", params={"format": "car"})
    assert car.status_code == 200
    assert h.hoster.metrics.heals.labels("ok")._value.get() == 1
