"""The hoster daemon end to end on anvil: join, accept, upload, pin, serve, settle, withdraw, finish."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.hoster.config import BidFilter
from scatter.hoster.daemon import HosterThread
from scatter.hoster.state import HosterState
from scatter.ipfs.cid import cid_str
from scatter.protocol.hoster_api import PinStatus, deal_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    PRICE,
    ValidatorNode,
    make_content,
    post_bid,
    signed_upload,
    wait_until,
)

pytestmark = pytest.mark.integration
H = 2  # the hoster's dev account


def test_hoster_joins_accepts_pins_serves_settles_withdraws_and_finishes(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode], tmp_path: Path
) -> None:
    h = start_hoster(H)
    me = chain.account(H).address
    market = Market(chain.w3, chain.deployment.market)
    node = market.node(Role.HOSTER, me)
    assert node.status == NodeStatus.ACTIVE and node.endpoint == h.url

    content = make_content(b"scatter hoster " * 40_000)  # 600 kB: a DAG of 3 leaves
    bid_id = post_bid(chain, [content.cid_bytes], size=len(content.data), duration=6, price=10**17)
    deal_id = wait_until(lambda: next(iter(h.hoster.state.deals()), None), what="the accept").deal_id
    d = market.get_deal(deal_id)
    assert d.bid_id == bid_id and d.hoster == me

    status = PinStatus.from_json(httpx.get(h.url + deal_path(deal_id)).json())
    assert (status.pinned, status.cid) == (False, cid_str(content.cid))
    resp = signed_upload(chain, h.url, deal_id, content)
    assert resp.status_code == 200, resp.text
    status = PinStatus.from_json(httpx.get(h.url + deal_path(deal_id)).json())
    assert status.pinned and status.bytes == len(content.data)
    raw = httpx.get(f"{h.url}/ipfs/{cid_str(content.cid)}", headers={"Accept": "application/vnd.ipld.raw"})
    assert raw.status_code == 200
    assert httpx.get(h.url + "/api/v0/id").status_code == 404  # no IPFS RPC API here

    # Validators check the hoster's gateway (their real checker) for each epoch of the deal; once
    # the epochs are over the hoster collects one range signature per validator and settles.
    start = d.start_epoch
    end = market.deal_end_epoch(deal_id)
    for epoch in range(start, end + 1):
        for v in validators:
            assert v.check(deal_id, epoch, content.cid, h.url)
    chain.warp_to_epoch(end + 1)
    wait_until(lambda: market.get_deal(deal_id).paid_through == end, timeout=30, what="settlement to the end")
    settled = market.contract.events.DealSettled().get_logs(
        from_block=0, argument_filters={"dealId": deal_id}
    )
    assert len(settled) == 1  # one range settlement, not one transaction per epoch
    assert sum(e["args"]["toEpoch"] - e["args"]["fromEpoch"] + 1 for e in settled) == end - start + 1
    earned = market.balance_of(me)
    assert earned == sum(e["args"]["hosterAmount"] for e in settled) > 0

    # `scatter hoster withdraw` asks the running daemon, which sends the transaction.
    payout = chain.account(11).address
    before = chain.balance(payout)
    cmd = [sys.executable, "-m", "scatter", "hoster", "withdraw", "--json", "--to", payout, "--state-dir"]
    done = subprocess.run([*cmd, str(h.hoster.config.state_dir)], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["status"] == "done"
    wait_until(lambda: market.balance_of(me) == 0, what="balance withdrawn")
    assert chain.balance(payout) == before + earned

    # Past end + grace, the hoster finishes the deal and unpins.
    chain.warp_to_epoch(end + chain_params(chain).grace_epochs + 1)
    wait_until(lambda: market.get_deal(deal_id).status == DealStatus.FINISHED, what="finish")
    wait_until(lambda: h.hoster.state.deal(deal_id).state == "ended", what="unpin")  # type: ignore[union-attr]
    assert content.cid not in h.hoster.store.pins()
    metrics = httpx.get(h.url + "/metrics").text
    assert 'scatter_hoster_deals{state="ended"} 1.0' in metrics
    assert "scatter_hoster_settlement_lag_epochs" in metrics
    health = httpx.get(h.url + "/healthz")
    assert health.status_code == 200 and health.json()["address"] == me

    # `scatter hoster status --json` reads the state directory.
    cmd = [sys.executable, "-m", "scatter", "hoster", "status", "--json", "--state-dir"]
    out = subprocess.run([*cmd, str(h.hoster.config.state_dir)], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["deals"] == {"ended": 1} and report["address"] == me and report["running"] is True


def chain_params(chain: Chain):  # type: ignore[no-untyped-def]
    return Market(chain.w3, chain.deployment.market).params()


def test_filter_and_capacity_decide_which_slots_are_taken(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    denied = chain.account(7).address
    rules = BidFilter(max_size=2000, min_price=PRICE * 1000, deny_clients=frozenset({denied.lower()}))
    h = start_hoster(H, capacity=3000, filter=rules)
    c = [make_content(bytes([i]) * 100) for i in range(6)]
    too_big = post_bid(chain, [c[0].cid_bytes], size=2001)
    too_cheap = post_bid(chain, [c[1].cid_bytes], size=1 << 20, price=PRICE // 2)  # < min per GiB
    from_denied = post_bid(chain, [c[2].cid_bytes], size=100, client=7)
    good = post_bid(chain, [c[3].cid_bytes], size=1500)
    also_good = post_bid(chain, [c[4].cid_bytes], size=1500)
    over_capacity = post_bid(chain, [c[5].cid_bytes], size=1000)
    state: HosterState = h.hoster.state
    wait_until(lambda: len(state.deals()) == 2, what="two accepts")
    h.hoster.tick  # noqa: B018 - the loop keeps running; give it a few more ticks
    wait_until(lambda: h.hoster._tick_count > 20, what="more ticks")
    taken = {d.bid_id for d in state.deals()}
    assert taken == {good, also_good}
    assert not {too_big, too_cheap, from_denied, over_capacity} & taken


def test_two_hosters_race_for_one_slot_and_never_take_two_slots_of_a_bid(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    a = start_hoster(2)
    b = start_hoster(3)
    one = make_content(b"one slot")
    two = make_content(b"two slots")
    single = post_bid(chain, [one.cid_bytes], size=100)
    double = post_bid(chain, [two.cid_bytes], size=100, slots=3)
    market = Market(chain.w3, chain.deployment.market)
    wait_until(lambda: market.get_bid(single).open_slots == 0, what="single slot taken")
    wait_until(
        lambda: bin(market.get_bid(double).open_slots).count("1") == 1, what="two of three slots taken"
    )
    for h in (a, b):
        h.hoster._tick_count = 0
    wait_until(lambda: a.hoster._tick_count > 10 and b.hoster._tick_count > 10, what="more ticks")
    in_single = [h for h in (a, b) if h.hoster.state.in_bid(single)]
    assert len(in_single) == 1
    for h in (a, b):
        assert h.hoster.state.in_bid(double)
        assert len([d for d in h.hoster.state.deals() if d.bid_id == double]) == 1
        # A lost race is at most an accept that estimated fine but was mined after the other's.
        reverted = h.hoster.db.query("SELECT kind FROM txs WHERE status = 'reverted'")
        assert {r[0] for r in reverted} <= {"accept"}
        assert h.hoster.metrics.errors.labels("tick")._value.get() == 0
    assert bin(market.get_bid(double).open_slots).count("1") == 1  # the third slot stays open


def test_a_faulted_deal_is_unpinned_and_frees_capacity(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    content = make_content(b"never attested " * 20_000)
    h = start_hoster(H, capacity=len(content.data))
    market = Market(chain.w3, chain.deployment.market)
    post_bid(chain, [content.cid_bytes], size=len(content.data), duration=10)
    deal = wait_until(lambda: next(iter(h.hoster.state.deals()), None), what="the accept")
    assert signed_upload(chain, h.url, deal.deal_id, content).status_code == 200
    assert h.hoster.state.used_bytes() == len(content.data)
    # No validator ever attests: past the grace period anyone may fault the deal.
    start = market.get_deal(deal.deal_id).start_epoch
    chain.warp_to_epoch(start + market.params().grace_epochs + 1)
    chain.market(9).fault_missed(deal.deal_id)
    wait_until(lambda: h.hoster.state.deal(deal.deal_id).state == "ended", what="the fault seen")  # type: ignore[union-attr]
    assert h.hoster.state.deal(deal.deal_id).note == "faulted"  # type: ignore[union-attr]
    assert content.cid not in h.hoster.store.pins()
    assert h.hoster.state.used_bytes() == 0
    # The freed capacity takes the next bid.
    nxt = make_content(b"the next bid " * 20_000)
    bid2 = post_bid(chain, [nxt.cid_bytes], size=len(content.data), duration=10)
    wait_until(lambda: h.hoster.state.in_bid(bid2), what="the next accept")
