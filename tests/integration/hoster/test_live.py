"""Real time, real daemons: the hoster daemon paid through two real validator daemons' attestations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import record_deployment
from scatter.chain.market import Market
from scatter.chain.params import ETHER, preset
from scatter.chain.tx import Transactor
from scatter.hoster.config import BidFilter, HosterConfig
from scatter.hoster.daemon import HosterThread
from scatter.validator.config import ValidatorConfig
from scatter.validator.daemon import ValidatorThread
from tests.integration.hoster.conftest import make_content, upload_car, wait_slot, wait_until

pytestmark = pytest.mark.integration
EPOCH_SECONDS = 3


@pytest.fixture()
def live_chain(tmp_path: Path) -> Iterator[tuple[Anvil, Path, str]]:
    with Anvil(block_time=1) as node:
        w3 = connect(node.url)
        params = preset("devnet").with_overrides(epoch_seconds=EPOCH_SECONDS, quorum=2, committee_size=8)
        d = deploy(w3, wallet.dev_account(0), params)
        yield node, record_deployment(d, tmp_path / "deployments.json"), d.market


def test_hoster_daemon_settles_ranges_with_real_validator_daemons(
    live_chain: tuple[Anvil, Path, str], tmp_path: Path
) -> None:
    node, record, market_address = live_chain
    w3 = connect(node.url)
    market = Market(w3, market_address)
    validators = []
    try:
        for account in (4, 5):
            cfg = ValidatorConfig(state_dir=tmp_path / f"v{account}", rpc_url=node.url, dev_account=account,
                                  deployments=record, confirmations=1, poll_interval=0.2, stake=2 * ETHER,
                                  max_cpu=None)  # fmt: skip
            validators.append(ValidatorThread(cfg).start())
        hcfg = HosterConfig(state_dir=tmp_path / "hoster", rpc_url=node.url, dev_account=2,
                            deployments=record, confirmations=1, poll_interval=0.2, stake=5 * ETHER,
                            settle_every=3, filter=BidFilter(break_even=False))  # fmt: skip
        with HosterThread(hcfg) as h:
            wait_until(lambda: h.hoster._joined, what="join")
            content = make_content(b"paid by real validators " * 20_000)
            client = Market(w3, market_address, Transactor(w3, wallet.dev_account(1)))
            bid_id = client.bid([content.cid_bytes], roots=[content.root], size=content.size, slot_count=1,
                                price_per_epoch=10**15, duration_epochs=8)  # fmt: skip
            wait_slot(h, bid_id, "reserved")
            key = wallet.dev_account(1).key
            resp = upload_car(h.url, bid_id, 0, content, key=key, chain_id=int(w3.eth.chain_id),
                              market=market_address)  # fmt: skip
            assert resp.status_code == 200
            wait_slot(h, bid_id, "filled")
            deal = h.hoster.state.deal(h.hoster.state.job(bid_id, 0).deal_id or 0)  # type: ignore[union-attr]
            assert deal is not None
            end = market.get_deal(deal.deal_id).end_epoch
            start = market.get_deal(deal.deal_id).start_epoch
            wait_until(lambda: market.get_deal(deal.deal_id).paid_through >= start + 3, timeout=90,
                       what="settlements from the validators' attestations")  # fmt: skip
        events = market.contract.events.DealSettled().get_logs(from_block=0)
        ranges = [(e["args"]["fromEpoch"], e["args"]["toEpoch"]) for e in events]
        assert any(b > a for a, b in ranges)  # ranges, not one epoch per transaction
        paid = [e for a, b in ranges for e in range(a, b + 1)]
        assert len(paid) == len(set(paid)) and max(paid) <= end  # no epoch twice
        assert market.balance_of(h.hoster.address) > 0
    finally:
        for v in validators:
            v.stop()
