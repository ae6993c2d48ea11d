"""A validator checks and signs only the deals whose committee it sits on (real-time anvil).

One seat per committee (``committeeSize`` 1) and two equal validators: each is drawn for a
deal and period with probability 1/2, so over eight deals and several periods both cases
occur; the contract's ``isCommitteeMember`` is the judge.
"""

from __future__ import annotations

import httpx
import pytest

from scatter.chain.market import NodeStatus, Role
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.memory import MemoryBlockStore
from scatter.protocol.attestations import range_path
from scatter.validator.daemon import ValidatorThread
from tests.integration.validator.conftest import LiveMarket, wait_until
from tests.integration.validator.helpers import make_shard

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize(
        "live", [{"epoch_seconds": 3, "committee_size": 1, "quorum": 1, "period_epochs": 2}], indirect=True
    ),
]

CLIENT, HOSTER = 1, 2
V1, V2 = 5, 6


def test_only_the_deals_of_its_committees_are_checked_and_signed(live: LiveMarket) -> None:
    shards = [make_shard(8 * 1024, seed=i) for i in range(8)]
    store = MemoryBlockStore()
    for shard in shards:
        store.put_many(shard.blocks)
    with GatewayServer(create_gateway_app(store)) as gw:
        deals = [live.deal(HOSTER, CLIENT, shard, gw.url) for shard in shards]
        validators = {V1: live.start_validator(V1), V2: live.start_validator(V2)}
        joined = all(
            live.market().node(Role.VALIDATOR, live.address(a)).status == NodeStatus.ACTIVE
            for a in validators
        )
        assert joined
        # stakes are settled from here: judge from the next period on (the cache keeps a period)
        period = live.market().params().period_epochs
        first = (live.epoch() // period + 1) * period
        wait_until(lambda: live.epoch() >= first + 3 * period, timeout=90, what="three full periods")
        market = live.market()
        seen = {True: 0, False: 0}
        for account, v in validators.items():
            address = live.address(account)
            for deal_id in deals:
                for epoch in range(first, first + 3 * period):
                    member = market.is_committee_member(deal_id, epoch, address)
                    # the raw eth_call agrees with web3's contract call
                    assert member == market._call("isCommitteeMember", deal_id, epoch, address)
                    verdict = v.daemon.ledger.verdict(deal_id, epoch)
                    seen[member] += 1
                    if not member:
                        assert verdict is None, (account, deal_id, epoch)  # never checked
                        refused = httpx.post(
                            v.url + range_path(deal_id), json={"fromEpoch": epoch, "toEpoch": epoch}
                        )
                        assert refused.status_code == 403 and "not in the committee" in refused.text
        assert seen[True] and seen[False]  # both cases happened
        for account, v in validators.items():
            checked = [
                (d, e)
                for d in deals
                for e in range(first, first + 3 * period)
                if market.is_committee_member(d, e, live.address(account))
            ]
            done = [(d, e) for d, e in checked if (x := v.daemon.ledger.verdict(d, e)) is not None and x.ok]
            assert len(done) >= len(checked) // 3, (account, len(done), len(checked))  # it did its part
        periods = live.epoch() // period + 1
        assert _committee_reads(validators[V1]) <= len(deals) * periods  # once per deal and period, not epoch


def _committee_reads(v: ValidatorThread) -> int:
    return v.daemon.committee.calls
