"""The hoster daemon end to end on anvil (Market version 3): join, reserve, push, check, fill with a
proof, serve, settle with the deal's committee, withdraw, finish; public pins fetched and filled
without a reservation; filters, capacity and races."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.hoster.config import BidFilter
from scatter.hoster.daemon import HosterThread
from scatter.hoster.queue import place_in_queue
from scatter.hoster.state import HosterState
from scatter.ipfs.cid import cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.hoster_api import SlotStatus, deal_path, slot_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    PRICE,
    Content,
    ValidatorNode,
    make_content,
    post_bid,
    signed_upload,
    slot_state,
    wait_slot,
    wait_until,
)

pytestmark = pytest.mark.integration
H = 2  # the hoster's dev account


def test_reserve_push_fill_serve_settle_withdraw_finish(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode], tmp_path: Path
) -> None:
    h = start_hoster(H)
    me = chain.account(H).address
    market = Market(chain.w3, chain.deployment.market)
    params = market.params()
    node = market.node(Role.HOSTER, me)
    assert node.status == NodeStatus.ACTIVE and node.endpoint == h.url

    content = make_content(b"scatter hoster " * 40_000)  # 600 kB: a DAG of 3 leaves
    bid_id = post_bid(chain, [content], duration=6, price=10**14)
    wait_slot(h, bid_id, "reserved")
    assert market.reservation_of(bid_id, 0).hoster == me
    assert market.node(Role.HOSTER, me).locked == 0  # a reservation locks nothing
    status = SlotStatus.from_json(httpx.get(h.url + slot_path(bid_id, 0)).json())
    assert (status.state, status.pinned, status.cid) == ("reserved", False, cid_str(content.cid))
    assert status.reserved_until == market.reservation_of(bid_id, 0).expires_at

    resp = signed_upload(chain, h.url, bid_id, 0, content)
    assert resp.status_code == 200, resp.text
    wait_slot(h, bid_id, "filled")
    deal_id = h.hoster.state.job(bid_id, 0).deal_id  # type: ignore[union-attr]
    assert deal_id is not None
    d = market.get_deal(deal_id)
    assert d.hoster == me and d.bid_id == bid_id and d.collateral == params.collateral(10**14, 6)
    assert market.node(Role.HOSTER, me).locked == d.collateral
    status = SlotStatus.from_json(httpx.get(h.url + deal_path(deal_id)).json())
    assert status.pinned and status.bytes == len(content.data) and status.deal_id == deal_id
    raw = httpx.get(f"{h.url}/ipfs/{cid_str(content.cid)}", headers={"Accept": "application/vnd.ipld.raw"})
    assert raw.status_code == 200
    assert httpx.get(h.url + "/api/v0/id").status_code == 404  # no IPFS RPC API here
    assert (h.hoster.config.state_dir / "possession" / f"{cid_str(content.cid)}.pc").exists()

    # Committee validators check the hoster's gateway each epoch; once the epochs are over the
    # hoster collects one range signature per member (per committee period) and settles.
    for epoch in range(d.start_epoch, d.end_epoch + 1):
        for v in validators:
            assert v.check(deal_id, epoch, content.cid, h.url)
    chain.warp_to_epoch(d.end_epoch + 1)
    wait_until(lambda: market.get_deal(deal_id).paid_through == d.end_epoch, 30, "settlement to the end")
    settled = market.contract.events.DealSettled().get_logs(
        from_block=0, argument_filters={"dealId": deal_id}
    )
    assert (
        sum(e["args"]["toEpoch"] - e["args"]["fromEpoch"] + 1 for e in settled)
        == d.end_epoch - d.start_epoch + 1
    )
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

    # Past end + the proof window, the hoster finishes the deal, unlocks and unpins.
    chain.warp_to_epoch(d.end_epoch + params.proof_window_epochs + 1)
    wait_until(lambda: market.get_deal(deal_id).status == DealStatus.FINISHED, what="finish")
    wait_until(lambda: h.hoster.state.deal(deal_id).state == "ended", what="unpin")  # type: ignore[union-attr]
    assert content.cid not in h.hoster.store.pins()
    assert market.node(Role.HOSTER, me).locked == 0
    assert not (h.hoster.config.state_dir / "possession" / f"{cid_str(content.cid)}.pc").exists()
    metrics = httpx.get(h.url + "/metrics").text
    assert 'scatter_hoster_deals{state="ended"} 1.0' in metrics
    health = httpx.get(h.url + "/healthz")
    assert health.status_code == 200 and health.json()["address"] == me


def test_public_pin_is_fetched_checked_and_filled_without_a_reservation(
    chain: Chain, start_hoster: Callable[..., HosterThread], tmp_path: Path
) -> None:
    content = make_content(b"a public file " * 30_000)
    market = Market(chain.w3, chain.deployment.market)
    with origin_of(content, tmp_path) as origin:
        h = start_hoster(H)
        bid_id = post_bid(chain, [content], slots=2, origins=[origin])
        wait_slot(h, bid_id, "filled", slot=slot_of(h, bid_id))
    assert not market.contract.events.SlotReserved().get_logs(
        from_block=0, argument_filters={"bidId": bid_id}
    )
    # Served from the hoster's own store (the origin is gone).
    assert httpx.get(f"{h.url}/ipfs/{cid_str(content.cid)}", params={"format": "car"}).status_code == 200


def test_hosters_take_a_public_pin_in_turn_and_the_ones_behind_never_fetch_it(
    chain: Chain, start_hoster: Callable[..., HosterThread], tmp_path: Path
) -> None:
    content = make_content(b"a pin for one " * 20_000)
    market = Market(chain.w3, chain.deployment.market)
    with origin_of(content, tmp_path) as origin:
        # a long step: the ones behind would start only after the first filled, however loaded
        hosters = [start_hoster(a, queue_step=600) for a in (2, 3, 6)]
        addresses = [h.hoster.address for h in hosters]
        assert {n.address for n in hosters[0].hoster.index.nodes(Role.HOSTER)} == set(addresses)
        bid_id = post_bid(chain, [content], origins=[origin])
        first = next(h for h in hosters if place_in_queue(h.hoster.address, addresses, bid_id) == 0)
        wait_slot(first, bid_id, "filled")
        for h in hosters:
            h.hoster._tick_count = 0
        wait_until(lambda: all(h.hoster._tick_count > 5 for h in hosters), timeout=90, what="more passes")
    for h in hosters:
        if h is not first:
            assert [j for j in h.hoster.state.jobs() if j.bid_id == bid_id] == []  # never fetched
            assert h.hoster.metrics.races_lost._value.get() == 0
    assert market.get_bid(bid_id).open_slots == 0


def test_a_slot_the_first_in_the_queue_passes_over_is_taken_by_the_next_after_its_step(
    chain: Chain, start_hoster: Callable[..., HosterThread], tmp_path: Path
) -> None:
    content = make_content(b"a pin the first refuses " * 10_000)
    addresses = [str(chain.account(a).address) for a in (2, 3)]
    with origin_of(content, tmp_path) as origin:
        bid_id = post_bid(chain, [content], origins=[origin])
        first, second = sorted(
            (2, 3), key=lambda a: place_in_queue(str(chain.account(a).address), addresses, bid_id)
        )
        refusing = start_hoster(
            first,
            queue_step=2,
            filter=BidFilter(break_even=False, deny_cids=frozenset({cid_str(content.cid)})),
        )
        taker = start_hoster(second, queue_step=2)
        wait_slot(taker, bid_id, "filled", timeout=90)
    assert [j for j in refusing.hoster.state.jobs() if j.bid_id == bid_id] == []


@contextlib.contextmanager
def origin_of(content: Content, tmp_path: Path) -> Iterator[str]:
    """An HTTP origin serving ``content`` (its gateway URL), for the life of the block."""
    store = EmbeddedBlockStore(tmp_path / "origin")
    try:
        store.import_car(io.BytesIO(content.car))
        with GatewayServer(create_gateway_app(store)) as origin:
            yield f"{origin.url}/ipfs/{cid_str(content.cid)}"
    finally:
        store.close()


def slot_of(h: HosterThread, bid_id: int) -> int:
    job = wait_until(
        lambda: next((j for j in h.hoster.state.jobs() if j.bid_id == bid_id), None), what="a job"
    )
    assert job is not None
    return job.slot


def test_filter_capacity_and_stake_decide_which_slots_are_taken(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    denied = chain.account(7).address
    rules = BidFilter(max_size=2000, min_price=PRICE * 1000, deny_clients=frozenset({denied.lower()}),
                      break_even=False)  # fmt: skip
    h = start_hoster(H, capacity=3000, filter=rules)
    c = [make_content(bytes([i]) * 1500) for i in range(6)]
    too_big = post_bid(chain, [c[0]], size=2001)
    too_cheap = post_bid(chain, [c[1]], size=1 << 20, price=PRICE // 2)  # < min per GiB
    from_denied = post_bid(chain, [c[2]], client=7)
    good = post_bid(chain, [c[3]])
    also_good = post_bid(chain, [c[4]])
    over_capacity = post_bid(chain, [c[5]])
    state: HosterState = h.hoster.state
    wait_until(lambda: len(state.jobs(["reserved"])) == 2, what="two reservations")
    wait_until(lambda: h.hoster._tick_count > 20, timeout=90, what="more full passes")
    taken = {j.bid_id for j in state.jobs()}
    assert taken == {good, also_good}
    assert not {too_big, too_cheap, from_denied, over_capacity} & taken


def test_two_hosters_race_and_never_hold_two_live_slots_of_a_bid(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    a = start_hoster(2)
    b = start_hoster(3)
    one, two = make_content(b"one slot"), make_content(b"two slots")
    single = post_bid(chain, [one])
    double = post_bid(chain, [two], slots=3)
    market = Market(chain.w3, chain.deployment.market)
    wait_until(lambda: market.get_bid(single).reserved_slots != 0, what="single slot reserved")
    wait_until(
        lambda: bin(market.get_bid(double).reserved_slots).count("1") == 2, what="two of three reserved"
    )
    for h in (a, b):
        h.hoster._tick_count = 0
    wait_until(
        lambda: a.hoster._tick_count > 10 and b.hoster._tick_count > 10, timeout=90, what="more full passes"
    )
    assert len([h for h in (a, b) if slot_state(h, single, 0) == "reserved"]) <= 1
    for h in (a, b):
        assert len([j for j in h.hoster.state.jobs(["reserved"]) if j.bid_id == double]) == 1
        reverted = h.hoster.db.query("SELECT kind FROM txs WHERE status = 'reverted'")
        assert {r[0] for r in reverted} <= {"reserve"}  # a race lost after a clean estimate at most
        assert h.hoster.metrics.errors.labels("tick")._value.get() == 0
    assert bin(market.get_bid(double).reserved_slots).count("1") == 2  # the third slot stays free
