"""An RPC outage is waited out with backoff; a reorg is replayed and its fills dropped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import record_deployment
from scatter.chain.market import Market, Role
from scatter.chain.params import ETHER, preset
from scatter.chain.tx import Transactor
from scatter.hoster.config import BidFilter, HosterConfig
from scatter.hoster.daemon import HosterThread
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    make_content,
    post_bid,
    signed_upload,
    slot_state,
    wait_slot,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_rpc_outage_is_waited_out_and_the_daemon_resumes(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    node = Anvil(state_path=state).start()
    try:
        w3 = connect(node.url)
        d = deploy(w3, wallet.dev_account(0), preset("devnet").with_overrides(epoch_seconds=60))
        record_deployment(d, tmp_path / "deployments.json")
        cfg = HosterConfig(state_dir=tmp_path / "h", rpc_url=node.url, dev_account=2, confirmations=0,
                           deployments=tmp_path / "deployments.json", poll_interval=0.05,
                           stake=2 * ETHER, filter=BidFilter(break_even=False))  # fmt: skip
        with HosterThread(cfg) as h:
            wait_until(lambda: h.hoster._joined, what="join")
            node.stop()  # the RPC node goes away (its state is dumped)
            wait_until(lambda: h.hoster.metrics.errors.labels("rpc")._value.get() >= 2, what="retries")
            assert httpx.get(h.url + "/healthz").json()["rpc"] in ("ok", "unavailable")
            wait_until(lambda: httpx.get(h.url + "/healthz").status_code == 503, timeout=90, what="unhealthy")
            node.start()  # same port, same state
            w3 = connect(node.url)
            client = Market(w3, d.market, Transactor(w3, wallet.dev_account(1)))
            content = make_content(b"after the outage")
            bid_id = client.bid([content.cid_bytes], roots=[content.root], size=content.size, slot_count=1,
                                price_per_epoch=10**12, duration_epochs=4)  # fmt: skip
            wait_until(
                lambda: h.hoster.state.in_bid(bid_id), timeout=90, what="a slot taken after the outage"
            )
            # healthy again once a whole tick has gone through (the slot may be taken mid-tick)
            wait_until(lambda: httpx.get(h.url + "/healthz").status_code == 200, timeout=90, what="healthy")
            assert Market(w3, d.market).node(Role.HOSTER, h.hoster.address).status == 1
    finally:
        node.stop()


def test_a_reorg_drops_the_fill_and_the_daemon_follows_the_new_chain(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    w3 = chain.w3
    h = start_hoster(2)
    old = make_content(b"content of a reorganised bid " * 20_000)
    fork = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    bid_id = post_bid(chain, [old])
    wait_slot(h, bid_id, "reserved")
    assert signed_upload(chain, h.url, bid_id, 0, old).status_code == 200
    wait_slot(h, bid_id, "filled")
    deal_id = h.hoster.state.job(bid_id, 0).deal_id  # type: ignore[union-attr]
    assert deal_id is not None and old.cid in h.hoster.store.pins()

    # The blocks of the bid, the reservation, the fill and everything after are reorganised away.
    w3.provider.make_request("evm_revert", [fork])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", [10])  # type: ignore[arg-type]  # a longer canonical chain
    wait_until(lambda: h.hoster.state.deal(deal_id).state == "dropped", 60, "deal dropped")  # type: ignore[union-attr]
    assert old.cid not in h.hoster.store.pins()

    # On the new chain the same bid id belongs to another bid: its slot is taken afresh.
    new = make_content(b"content of the canonical bid " * 20_000)
    assert post_bid(chain, [new]) == bid_id
    wait_until(lambda: (h.hoster.state.job(bid_id, 0) or None) is not None
               and h.hoster.state.job(bid_id, 0).cid == str(new.cid)  # type: ignore[union-attr]
               and slot_state(h, bid_id) == "reserved", what="the new slot reserved")  # fmt: skip
    assert signed_upload(chain, h.url, bid_id, 0, new).status_code == 200
    wait_slot(h, bid_id, "filled")
    again = h.hoster.state.job(bid_id, 0).deal_id  # type: ignore[union-attr]
    assert again is not None
    assert Market(w3, chain.deployment.market).get_deal(again).hoster == h.hoster.address

    # The journal is exact: each mined row is in a block of the canonical chain, once per action.
    rows = h.hoster.journal.db.query(
        "SELECT kind, subject, block, block_hash FROM txs WHERE status = 'mined'"
    )
    for row in rows:
        assert bytes(w3.eth.get_block(row["block"])["hash"]) == bytes(row["block_hash"]), dict(row)
    actions = [(row["kind"], row["subject"]) for row in rows]
    assert len(actions) == len(set(actions)), actions
