"""MarketIndex mirrors the market into SQLite from events, and survives reorgs."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.chain.eip712 import Attestation, sign_attestation
from scatter.chain.index import MarketIndex
from scatter.chain.market import DealStatus, NodeStatus, Role
from scatter.chain.params import ETHER
from scatter.daemon.state import StateDB
from tests.conftest import Chain
from tests.integration.chain.shards import Shard, fill, shard_of

pytestmark = pytest.mark.integration
PRICE = 10**12


def shard(i: int, size: int = 4096) -> Shard:
    return shard_of(f"index {i}", size)


def mine(chain: Chain, blocks: int) -> None:
    for _ in range(blocks):
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def index_for(chain: Chain, tmp_path: Path) -> MarketIndex:
    return MarketIndex(StateDB(tmp_path / "state.db"), chain.w3, chain.deployment, confirmations=0)


def test_index_follows_a_lifecycle(chain: Chain, tmp_path: Path) -> None:
    for h in (2, 3):
        chain.market(h).join(Role.HOSTER, f"http://127.0.0.1:{9000 + h}", 10**9, 5 * ETHER)
    for v in (4, 5):
        chain.market(v).join(Role.VALIDATOR, f"http://127.0.0.1:{9100 + v}", 0, 2 * ETHER)
    shards = [shard(0), shard(1)]
    bid_id = chain.market(1).bid([s.cid_bytes for s in shards], roots=[s.root for s in shards], size=4096,
                                 slot_count=2, price_per_epoch=PRICE, duration_epochs=6,
                                 origins=["http://127.0.0.1:1/ipfs"])  # fmt: skip
    chain.market(3).reserve(bid_id, 1, chain.market(0).fill_collateral(bid_id, 1))
    deal = fill(chain.market(2), bid_id, 0, shards[0])
    start = chain.market(0).get_deal(deal).start_epoch
    chain.warp_to_epoch(start + 2)
    att = Attestation(deal_id=deal, from_epoch=start, to_epoch=start + 1, ok=True)
    d = chain.deployment
    sigs = [sign_attestation(chain.account(v).key, d.chain_id, d.market, att) for v in (4, 5)]
    chain.market(2).settle(deal, start, start + 1, sigs)

    index = index_for(chain, tmp_path)
    reserved = index.sync() and index.reservation(bid_id, 1)
    assert reserved and reserved.hoster == chain.account(3).address
    expires = chain.market(0).reservation_of(bid_id, 1).expires_at
    chain.w3.provider.make_request("evm_mine", [expires + 1])  # type: ignore[arg-type]
    chain.market(1).cancel(bid_id, 1)  # releases the expired reservation first
    events = index.sync()
    assert [e.name for e in events if e.name != "Credited"] == ["ReservationReleased", "SlotCancelled"]
    assert index.reservation(bid_id, 1) is None
    bid = index.bid(bid_id)
    assert bid is not None and bid.cids == [s.cid_bytes for s in shards]
    assert bid.roots == [s.root for s in shards] and bid.origins == ["http://127.0.0.1:1/ipfs"]
    assert bid.open_slots == 0 and bid.closed_slots == 0b10
    indexed = index.deal(deal)
    assert indexed is not None and indexed.status == DealStatus.ACTIVE
    assert (indexed.paid_through, indexed.paid_epochs) == (start + 1, 2)
    assert indexed.end_epoch == chain.market(0).get_deal(deal).end_epoch
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
    s7 = shard(7, 10)
    bid_id = chain.market(1).bid([s7.cid_bytes], roots=[s7.root], size=10, slot_count=1,
                                 price_per_epoch=PRICE, duration_epochs=4)  # fmt: skip
    index = index_for(chain, tmp_path)
    index.follower.rewind_depth = 4
    index.sync()
    fork = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    deal = fill(chain.market(2), bid_id, 0, s7)
    index.sync()
    assert index.deal(deal) is not None and index.bid(bid_id).open_slots == 0  # type: ignore[union-attr]

    # The fill is reorganised away; other blocks take its height.
    w3.provider.make_request("evm_revert", [fork])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
    index.sync()
    assert index.deal(deal) is None
    assert index.bid(bid_id).open_slots == 1  # type: ignore[union-attr]


def one_deal(chain: Chain, seed: int) -> tuple[int, int]:
    """(bid id, deal id) of a one-slot bid of a small shard, filled by account 2."""
    chain.market(2).join(Role.HOSTER, "http://127.0.0.1:9002", 10**9, 5 * ETHER)
    s = shard(seed, 500)
    bid_id = chain.market(1).bid([s.cid_bytes], roots=[s.root], size=s.size, slot_count=1,
                                 price_per_epoch=PRICE, duration_epochs=200)  # fmt: skip
    return bid_id, fill(chain.market(2), bid_id, 0, s)


def test_index_tracks_challenges_faults_and_the_reopened_slot(chain: Chain, tmp_path: Path) -> None:
    bid_id, deal = one_deal(chain, 11)
    market = chain.market(9)
    p = market.params()
    index = index_for(chain, tmp_path)
    chain.warp_to_epoch(market.get_deal(deal).paid_through + p.missed_quorum_epochs + 1)
    market.request_proof_for_missed_quorum(deal)
    index.sync()
    d = index.deal(deal)
    assert d is not None and d.challenge_open and d.challenge_due == market.challenge_of(deal).due_epoch
    assert [x.deal_id for x in index.open_challenges(hoster=chain.account(2).address)] == [deal]
    failed = d.challenge_epoch
    chain.warp_to_epoch(d.challenge_due + 1)
    market.report_missed_proof(deal)  # a fault: slashed, and a new challenge at once
    index.sync()
    d = index.deal(deal)
    assert d is not None and (d.faults, d.failed_epoch) == (1, failed)
    assert d.collateral == market.get_deal(deal).collateral and d.challenge_open
    while market.get_deal(deal).status == DealStatus.ACTIVE:
        chain.warp_to_epoch(market.challenge_of(deal).due_epoch + 1)
        market.report_missed_proof(deal)
    index.sync()
    d = index.deal(deal)
    assert d is not None and d.status == DealStatus.FAULTED and not d.challenge_open
    assert index.bid(bid_id).open_slots == 1  # type: ignore[union-attr]
    node = index.node(Role.HOSTER, chain.account(2).address)
    assert node is not None and node.stake == market.node(Role.HOSTER, chain.account(2).address).stake


def test_unapplied_deals_name_the_challenges_the_index_has_not_applied(chain: Chain, tmp_path: Path) -> None:
    """What the validator's signing guard reads instead of two chain calls per signature: a
    challenge opened in blocks the index has not applied refuses an ok, and no deal is read."""
    from scatter.validator.committee import CommitteeCache
    from scatter.validator.daemon import CHALLENGE_EVENTS
    from scatter.validator.guard import ChallengeState, SigningGuard

    _, deal = one_deal(chain, 12)
    market = chain.market(9)
    index = MarketIndex(StateDB(tmp_path / "state.db"), chain.w3, chain.deployment, confirmations=3)
    chain.warp_to_epoch(market.get_deal(deal).paid_through + market.params().missed_quorum_epochs + 1)
    mine(chain, 3)
    index.sync()
    assert index.unapplied_deals(CHALLENGE_EVENTS) == frozenset()
    market.request_proof_for_missed_quorum(deal)
    index.sync()  # three confirmations: the challenge is not applied yet
    row = index.deal(deal)
    assert row is not None and not row.challenge_open
    assert index.unapplied_deals(CHALLENGE_EVENTS) == {deal}

    reads: list[int] = []

    def live(deal_id: int) -> ChallengeState:
        reads.append(deal_id)
        c = market.challenge_of(deal_id)
        return ChallengeState(c.open, market.get_deal(deal_id).failed_epoch)

    def indexed(deal_id: int) -> ChallengeState:
        d = index.deal(deal_id)
        return ChallengeState(False, 0) if d is None else ChallengeState(d.challenge_open, d.failed_epoch)

    committee = CommitteeCache(lambda d, e: True, market.params().period_epochs)
    guard = SigningGuard(committee, live, indexed=indexed,
                         unconfirmed=lambda: index.unapplied_deals(CHALLENGE_EVENTS), ttl=60)  # fmt: skip
    epoch = market.current_epoch() - 1
    refusal = guard.refuse_ok(deal, epoch, epoch)
    assert refusal is not None and refusal.status == 409 and reads == [deal]
    assert guard.refuse_ok(deal + 1, epoch, epoch) is None and reads == [deal]  # untouched: no read

    mine(chain, 3)
    index.sync()
    row = index.deal(deal)
    assert row is not None and row.challenge_open
    assert index.unapplied_deals(CHALLENGE_EVENTS) == frozenset()
