"""Possession challenges are answered within their window (T1): batched across deals in one
``proveMany``, after a restart, after an audit, and while the gateway is flooded."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from scatter.chain.eip712 import Attestation, sign_attestation
from scatter.chain.market import Market, audit_draws
from scatter.hoster.daemon import HosterThread
from scatter.ipfs.cid import CODEC_RAW, cid_str, parse_cid
from scatter.ipfs.dag import walk_dag
from scatter.ipfs.embedded import EmbeddedBlockStore
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
H, REQUESTER = 2, 9


def filled_deal(chain: Chain, h: HosterThread, content: Content, duration: int = 20) -> int:
    bid_id = post_bid(chain, [content], duration=duration)
    wait_slot(h, bid_id, "reserved")
    assert signed_upload(chain, h.url, bid_id, 0, content).status_code == 200
    wait_slot(h, bid_id, "filled")
    deal_id = h.hoster.state.job(bid_id, 0).deal_id  # type: ignore[union-attr]
    assert deal_id is not None
    return deal_id


def request_fail_proof(chain: Chain, deal_id: int, epoch: int, validators: list[ValidatorNode]) -> None:
    d = chain.deployment
    att = Attestation(deal_id=deal_id, from_epoch=epoch, to_epoch=epoch, ok=False, evidence=b"\x01" * 32)
    sigs = [sign_attestation(chain.account(v.account).key, d.chain_id, d.market, att) for v in validators]
    chain.market(REQUESTER).request_proof(deal_id, epoch, sigs)


def proved_in(market: Market, deal_id: int) -> set[bytes]:
    logs = market.contract.events.ProofAccepted().get_logs(from_block=0, argument_filters={"dealId": deal_id})
    return {bytes(e["transactionHash"]) for e in logs}


def test_fail_quorum_challenges_are_answered_in_one_batch_after_a_restart(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    h = start_hoster(H)
    me = chain.account(H).address
    market = Market(chain.w3, chain.deployment.market)
    deals = [filled_deal(chain, h, make_content(bytes([i]) * 300_000)) for i in range(2)]
    collateral = [market.get_deal(d).collateral for d in deals]
    epoch = max(market.get_deal(d).start_epoch for d in deals)
    chain.warp_to_epoch(epoch)
    h.stop()  # the daemon is down when the challenges come
    for d in deals:
        request_fail_proof(chain, d, epoch, validators)
    due = market.challenge_of(deals[0]).due_epoch
    h2 = start_hoster(H)
    wait_until(lambda: not any(market.challenge_of(d).open for d in deals), 30, "both proofs")
    assert market.current_epoch() <= due
    (tx_a,), (tx_b,) = proved_in(market, deals[0]), proved_in(market, deals[1])
    assert tx_a == tx_b  # one proveMany for both deals
    assert [market.get_deal(d).collateral for d in deals] == collateral  # nothing slashed
    assert market.balance_of(me) == 2 * market.params().proof_bond  # the requesters' bonds
    assert h2.hoster.metrics.proofs.labels("sent")._value.get() == 2


def test_a_challenge_is_answered_between_full_passes(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    """A loaded hoster runs its full pass seldom; a challenge must not wait for it."""
    h = start_hoster(H)
    market = Market(chain.w3, chain.deployment.market)
    deal_id = filled_deal(chain, h, make_content(b"\x07" * 300_000))
    epoch = market.get_deal(deal_id).start_epoch
    chain.warp_to_epoch(epoch)
    # the deal is among the daemon's live deals once a full pass after its fill has run
    wait_until(lambda: any(v.local.deal_id == deal_id for v in h.hoster._views), 30, "its pass")

    async def no_full_pass() -> None:
        return None

    h.hoster.tick = no_full_pass  # type: ignore[method-assign]  # from now on: block passes only
    request_fail_proof(chain, deal_id, epoch, validators)
    wait_until(lambda: not market.challenge_of(deal_id).open, 30, "the proof")
    assert proved_in(market, deal_id)


def test_a_shard_that_cannot_answer_never_holds_up_the_proofs_of_other_deals(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    """One deal's shard lost (its blocks deleted here) must cost that deal's proof only: in the
    hour-long soak a batch whose first proof could not be built failed whole, every pass, and
    an intact deal in it missed its window."""
    h = start_hoster(H)
    market = Market(chain.w3, chain.deployment.market)
    lost, kept = (filled_deal(chain, h, make_content(bytes([i]) * 600_000)) for i in (5, 6))
    collateral = market.get_deal(kept).collateral
    store = h.hoster.store
    assert isinstance(store, EmbeddedBlockStore)
    cid = parse_cid(h.hoster.state.deal(lost).cid)  # type: ignore[union-attr]
    for block in [b for b in walk_dag(cid, store) if b.cid.codec.code == CODEC_RAW]:
        store._block_path(bytes(block.cid.digest)).unlink()  # on-disk format: one file per block
    epoch = max(market.get_deal(d).start_epoch for d in (lost, kept))
    chain.warp_to_epoch(epoch)
    for d in (lost, kept):
        request_fail_proof(chain, d, epoch, validators)
    wait_until(lambda: not market.challenge_of(kept).open, 60, "the intact deal's proof")
    assert proved_in(market, kept) and market.get_deal(kept).collateral == collateral
    assert market.challenge_of(lost).open and not proved_in(market, lost)
    assert h.hoster.metrics.proofs.labels("unbuildable")._value.get() >= 1


def test_an_audit_challenge_is_answered(chain: Chain, start_hoster: Callable[..., HosterThread]) -> None:
    h = start_hoster(H)
    market = Market(chain.w3, chain.deployment.market)
    params = market.params()
    deal = filled_deal(chain, h, make_content(b"audited " * 20_000))
    chain.warp_to_epoch(market.get_deal(deal).start_epoch)
    h.stop()  # while thousands of blocks are mined to find a drawing seed block
    w3 = chain.w3
    for _ in range(5_000):  # mine to the next audit seed block until one draws the deal
        head = w3.eth.block_number
        step = params.audit_every_blocks - head % params.audit_every_blocks
        w3.provider.make_request("anvil_mine", [hex(step + 1)])  # type: ignore[arg-type]
        seed_block = head + step
        if audit_draws(bytes(w3.eth.get_block(seed_block)["hash"] or b""), deal, params.audit_bps):
            break
    chain.market(REQUESTER).audit(deal, seed_block)
    assert market.challenge_of(deal).open
    start_hoster(H)
    wait_until(lambda: not market.challenge_of(deal).open, 30, "the audit proof")
    assert proved_in(market, deal)


def test_a_proof_lands_while_the_gateway_is_flooded(
    chain: Chain, start_hoster: Callable[..., HosterThread], validators: list[ValidatorNode]
) -> None:
    h = start_hoster(H)
    market = Market(chain.w3, chain.deployment.market)
    content = make_content(b"flooded " * 100_000)
    deal = filled_deal(chain, h, content)
    epoch = market.get_deal(deal).start_epoch
    chain.warp_to_epoch(epoch)
    stop = threading.Event()
    served = [0]

    def flood() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    client.get(f"{h.url}/ipfs/{cid_str(content.cid)}", params={"format": "car"})
                    served[0] += 1
                except httpx.HTTPError:
                    pass

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(16)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: served[0] > 20, 30, "the flood to start")
        request_fail_proof(chain, deal, epoch, validators)
        due = market.challenge_of(deal).due_epoch
        wait_until(lambda: not market.challenge_of(deal).open, 60, "the proof under load")
        assert market.current_epoch() <= due
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert proved_in(market, deal) and served[0] > 20


def test_after_a_missed_proof_the_new_challenge_is_answered(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    market = Market(chain.w3, chain.deployment.market)
    p = market.params()
    deal = filled_deal(chain, h, make_content(b"down for a while " * 20_000), duration=200)
    collateral = market.get_deal(deal).collateral
    h.stop()  # down through a whole proof window: one fault
    chain.warp_to_epoch(market.get_deal(deal).paid_through + p.missed_quorum_epochs + 1)
    chain.market(REQUESTER).request_proof_for_missed_quorum(deal)
    chain.warp_to_epoch(market.challenge_of(deal).due_epoch + 1)
    chain.market(REQUESTER).report_missed_proof(deal)  # slashed once; a new challenge at once
    slashed = collateral - market.get_deal(deal).collateral
    assert slashed > 0 and market.challenge_of(deal).open
    start_hoster(H)
    wait_until(lambda: not market.challenge_of(deal).open, 30, "the new challenge answered")
    d = market.get_deal(deal)
    assert d.faults == 1 and d.collateral == collateral - slashed  # nothing more was lost
