"""MarketIndex mirrors the market into SQLite from events, and survives reorgs."""

from __future__ import annotations

from pathlib import Path

import pytest
from multiformats import CID, multihash

from scatter.chain.eip712 import Attestation, sign_attestation
from scatter.chain.index import MarketIndex
from scatter.chain.market import DealStatus, NodeStatus, Role
from scatter.chain.params import ETHER
from scatter.daemon.state import StateDB
from tests.conftest import Chain

pytestmark = pytest.mark.integration
PRICE = 10**12


def cid(i: int) -> bytes:
    return bytes(CID("base32", 1, "raw", multihash.digest(f"index {i}".encode(), "sha2-256")))


def index_for(chain: Chain, tmp_path: Path) -> MarketIndex:
    return MarketIndex(StateDB(tmp_path / "state.db"), chain.w3, chain.deployment, confirmations=0)


def test_index_follows_a_lifecycle(chain: Chain, tmp_path: Path) -> None:
    for h in (2, 3):
        chain.market(h).join(Role.HOSTER, f"http://127.0.0.1:{9000 + h}", 10**9, 5 * ETHER)
    for v in (4, 5):
        chain.market(v).join(Role.VALIDATOR, f"http://127.0.0.1:{9100 + v}", 0, 2 * ETHER)
    bid_id = chain.market(1).bid([cid(0), cid(1)], size=4096, slot_count=2, price_per_epoch=PRICE,
                                 duration_epochs=6, origins=["http://127.0.0.1:1/ipfs"])  # fmt: skip
    deal = chain.market(2).accept(bid_id, 0)
    start = chain.market(0).get_deal(deal).start_epoch
    chain.warp_to_epoch(start + 2)
    att = Attestation(deal_id=deal, from_epoch=start, to_epoch=start + 1, ok=True)
    d = chain.deployment
    sigs = [sign_attestation(chain.account(v).key, d.chain_id, d.market, att) for v in (4, 5)]
    chain.market(2).settle(deal, start, start + 1, sigs)
    chain.market(1).cancel(bid_id, 1)

    index = index_for(chain, tmp_path)
    events = index.sync()
    assert [e.name for e in events].count("NodeJoined") == 4
    bid = index.bid(bid_id)
    assert bid is not None and bid.cids == [cid(0), cid(1)] and bid.origins == ["http://127.0.0.1:1/ipfs"]
    assert bid.open_slots == 0 and bid.closed_slots == 0b10
    indexed = index.deal(deal)
    assert indexed is not None and indexed.status == DealStatus.ACTIVE
    assert (indexed.paid_through, indexed.paid_epochs) == (start + 1, 2)
    assert indexed.end_epoch(bid.duration_epochs) == chain.market(0).deal_end_epoch(deal)
    hosters = index.nodes(Role.HOSTER)
    assert sorted(n.endpoint for n in hosters) == [f"http://127.0.0.1:{9000 + h}" for h in (2, 3)]
    assert index.node(Role.VALIDATOR, chain.account(4).address).status == NodeStatus.ACTIVE  # type: ignore[union-attr]
    assert index.sync() == []  # caught up: nothing twice

    # A fresh process over the same database resumes from the saved checkpoint.
    again = index_for(chain, tmp_path)
    assert again.checkpoint() == index.checkpoint()
    assert again.sync() == []


def test_index_rebuilds_rows_after_a_reorg(chain: Chain, tmp_path: Path) -> None:
    w3 = chain.w3
    chain.market(2).join(Role.HOSTER, "http://127.0.0.1:9002", 10**9, 5 * ETHER)
    bid_id = chain.market(1).bid([cid(7)], size=10, slot_count=1, price_per_epoch=PRICE, duration_epochs=4)
    index = index_for(chain, tmp_path)
    index.follower.rewind_depth = 4
    index.sync()
    fork = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    deal = chain.market(2).accept(bid_id, 0)
    index.sync()
    assert index.deal(deal) is not None and index.bid(bid_id).open_slots == 0  # type: ignore[union-attr]

    # The accept is reorganised away; other blocks take its height.
    w3.provider.make_request("evm_revert", [fork])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
    index.sync()
    assert index.deal(deal) is None
    assert index.bid(bid_id).open_slots == 1  # type: ignore[union-attr]
