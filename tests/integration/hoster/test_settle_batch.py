"""Batched settlement on anvil with real validators: one settleMany for many deals, an older
validator without the batch route asked deal by deal, a batch that would revert paid deal by deal."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scatter.chain.market import Market
from scatter.hoster.attest import AttestationCollector, Validator
from scatter.hoster.daemon import HosterThread
from scatter.hoster.settle import MAX_SETTLE_BATCH, Ready
from scatter.protocol.attestations import RANGES_PATH
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    Content,
    ValidatorNode,
    make_content,
    post_bid,
    signed_upload,
    wait_slot,
    wait_until,
)

pytestmark = pytest.mark.integration
H = 2  # the hoster's dev account


def _deals_pinned(chain: Chain, h: HosterThread, count: int) -> list[tuple[int, Content]]:
    """``count`` one-slot bids reserved by ``h``, pushed and filled, all within one committee period."""
    market = Market(chain.w3, chain.deployment.market)
    period = market.params().period_epochs
    chain.warp_to_epoch((market.current_epoch() // period + 1) * period)  # the deals fit in one period
    contents = [make_content(f"batch settlement {i} ".encode() * 3_000) for i in range(count)]
    bids = [post_bid(chain, [c], duration=4) for c in contents]
    for bid_id, c in zip(bids, contents, strict=True):
        wait_slot(h, bid_id, "reserved")
        assert signed_upload(chain, h.url, bid_id, 0, c).status_code == 200
    for bid_id in bids:
        wait_slot(h, bid_id, "filled")
    deal_ids = [h.hoster.state.job(b, 0).deal_id for b in bids]  # type: ignore[union-attr]
    return [(d, c) for d, c in zip(deal_ids, contents, strict=True) if d is not None]


def _check_all(
    chain: Chain, h: HosterThread, validators: list[ValidatorNode], deals: list[tuple[int, Content]]
) -> int:
    """Real checks of every epoch of every deal by every validator; returns the last end epoch."""
    market = Market(chain.w3, chain.deployment.market)
    last = 0
    for deal_id, content in deals:
        start, end = market.get_deal(deal_id).start_epoch, market.get_deal(deal_id).end_epoch
        last = max(last, end)
        for epoch in range(start, end + 1):
            for v in validators:
                assert v.check(deal_id, epoch, content.cid, h.url)
    return last


def _checked_and_settled(
    chain: Chain, h: HosterThread, validators: list[ValidatorNode], deals: list[tuple[int, Content]]
) -> Market:
    """Every epoch checked, then past the deals' end: wait until the hoster has paid them all."""
    end = _check_all(chain, h, validators, deals)
    market = Market(chain.w3, chain.deployment.market)
    chain.warp_to_epoch(end + 1)
    wait_until(
        lambda: all(market.get_deal(d).paid_through == market.get_deal(d).end_epoch for d, _ in deals),
        timeout=30,
        what="every deal settled to its end",
    )
    return market


def _settle_rows(h: HosterThread) -> list[tuple[str, str]]:
    db = sqlite3.connect(h.hoster.config.state_dir / "hoster.db")
    try:
        return [(r[0], r[1]) for r in db.execute("SELECT subject, status FROM txs WHERE kind = 'settle'")]
    finally:
        db.close()


def test_many_deals_are_settled_in_one_transaction(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    h = start_hoster(H)
    deals = _deals_pinned(chain, h, 4)
    market = _checked_and_settled(chain, h, validators, deals)
    settled = market.contract.events.DealSettled().get_logs(from_block=0)
    assert sorted(e["args"]["dealId"] for e in settled) == sorted(d for d, _ in deals)  # each once
    assert len({e["transactionHash"] for e in settled}) == 1  # all in one settleMany
    batch = [(",".join(str(d) for d, _ in sorted(deals)), "mined")]
    # the receipt is read by the daemon's next pass after the block: wait for the row, then compare
    wait_until(lambda: _settle_rows(h) == batch, what="the settlement journalled as mined")
    assert _settle_rows(h) == batch
    for v in validators:  # one batched request per validator, not one per deal
        text = httpx.get(v.server.url + "/metrics").text
        assert 'scatter_validator_attestation_requests_total{route="ranges",status="200"} 1.0' in text
        assert 'route="range"' not in text


def test_a_validator_without_the_batch_route_is_asked_deal_by_deal(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    old = validators[0]  # an older validator: its API has no batch route (404)
    app = old.server._server.config.app
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != RANGES_PATH]
    assert httpx.post(old.server.url + RANGES_PATH, json={"ranges": []}).status_code in (404, 405)
    h = start_hoster(H)
    deals = _deals_pinned(chain, h, 2)
    market = _checked_and_settled(chain, h, validators, deals)
    assert old.ledger.address in h.hoster.settler._no_batch_until
    settled = market.contract.events.DealSettled().get_logs(from_block=0)
    assert len({e["transactionHash"] for e in settled}) == 1  # still paid in one settleMany


def test_a_batch_that_would_revert_is_paid_deal_by_deal(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    h = start_hoster(H)
    deals = _deals_pinned(chain, h, 3)

    async def nothing_due() -> None:  # this test hands the settler its batch itself
        return None

    h.hoster._settle_due = nothing_due  # type: ignore[method-assign]
    end = _check_all(chain, h, validators, deals)
    market = Market(chain.w3, chain.deployment.market)
    chain.warp_to_epoch(end + 1)
    hoster = h.hoster
    asked = [Validator(v.ledger.address, v.server.url) for v in validators]

    async def collect() -> list[Ready]:
        async with httpx.AsyncClient() as http:
            collector = AttestationCollector(chain.deployment.chain_id, chain.deployment.market, http)
            out = []
            for deal_id, _ in deals:
                start, stop = market.get_deal(deal_id).start_epoch, market.get_deal(deal_id).end_epoch
                sigs, errors = await collector.range_signatures(deal_id, start, stop, asked)
                assert len(sigs) == 2, errors
                out.append(Ready(deal_id, start, stop, sigs))
            return out

    ready = asyncio.run(collect())
    bad = ready[1]
    ready[1] = Ready(bad.deal_id, bad.from_epoch, bad.to_epoch - 1, bad.sigs)  # signatures over another range
    refused: list[int] = []
    hoster.settler.retry_later = lambda deal_id, _s: refused.append(deal_id)
    asyncio.run_coroutine_threadsafe(hoster.settler.pay(ready), hoster._loop).result(timeout=60)  # type: ignore[arg-type]
    assert refused == [bad.deal_id]
    good = [ready[0].deal_id, ready[2].deal_id]
    wait_until(
        lambda: all(market.get_deal(d).paid_through == market.get_deal(d).end_epoch for d in good),
        what="the two good deals paid",
    )
    assert market.get_deal(bad.deal_id).paid_through < bad.from_epoch
    assert sorted(s for s, _ in _settle_rows(h)) == sorted(
        str(d) for d in good
    )  # one by one, nothing reverted
    assert market.contract.functions.MAX_SETTLE_BATCH().call() == MAX_SETTLE_BATCH


def test_settle_subjects_round_trip(tmp_path: Path) -> None:
    from scatter.hoster.settle import settle_subject, subject_deals

    assert settle_subject([3, 10, 7]) == "3,10,7"
    assert subject_deals({"3,10,7", "12", ""}) == {3, 7, 10, 12}
