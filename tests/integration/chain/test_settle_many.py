"""Batched settlement (``Market.settleMany``) on a real anvil through the Python binding, and
the directly encoded calldata against web3's own encoding."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from scatter.chain.eip712 import Attestation, SignedAttestation, quorum_tuples, sign_attestation
from scatter.chain.market import (
    MAX_PROOF_BATCH,
    MAX_SETTLE_BATCH,
    Market,
    Role,
    prove_many_calldata,
    settle_many_calldata,
)
from scatter.chain.params import ETHER
from scatter.errors import ContractError
from tests.conftest import Chain
from tests.integration.chain.shards import answer, fill, shard_of

pytestmark = pytest.mark.integration

CLIENT = 1
HOSTERS = (2, 3, 7)
VALIDATORS = (4, 5, 6)
PRICE = 10**12
DURATION = 40  # longer than a committee period (30 epochs)


def three_deals(chain: Chain) -> tuple[list[int], int]:
    """Three hosters on the three slots of one bid; returns the deal ids and their start epoch."""
    for h in HOSTERS:
        chain.market(h).join(Role.HOSTER, f"http://127.0.0.1:{9000 + h}", 10**12, 5 * ETHER)
    for v in VALIDATORS:
        chain.market(v).join(Role.VALIDATOR, f"http://127.0.0.1:{9100 + v}", 0, 2 * ETHER)
    shard = shard_of("batched", 1024)
    bid_id = chain.market(CLIENT).bid([shard.cid_bytes], roots=[shard.root], size=shard.size, slot_count=3,
                                      price_per_epoch=PRICE, duration_epochs=DURATION)  # fmt: skip
    deals = [fill(chain.market(h), bid_id, slot, shard) for slot, h in enumerate(HOSTERS)]
    return deals, chain.market(0).get_deal(deals[0]).start_epoch


def attest(chain: Chain, deal_id: int, start: int, end: int) -> list[SignedAttestation]:
    att = Attestation(deal_id=deal_id, from_epoch=start, to_epoch=end, ok=True, evidence=b"\x07" * 32)
    return [
        sign_attestation(chain.account(v).key, chain.deployment.chain_id, chain.deployment.market, att)
        for v in VALIDATORS[:2]
    ]


def test_settle_many_settles_three_deals_in_one_transaction(chain: Chain) -> None:
    deals, start = three_deals(chain)
    chain.warp_to_epoch(start + 4)
    ranges = [(deals[0], start, start + 2), (deals[1], start, start + 3), (deals[2], start, start)]
    market = chain.market(HOSTERS[0])  # any account may settle next unpaid ranges

    receipt = market.settle_many([(d, a, b, attest(chain, d, a, b)) for d, a, b in ranges])

    assert receipt["status"] == 1
    assert market.skipped_settlements(receipt) == []
    assert len(market.contract.events.DealSettled().process_receipt(receipt, errors=DISCARD)) == 3
    for deal_id, _, to_epoch in ranges:
        assert market.get_deal(deal_id).paid_through == to_epoch
        assert market.get_deal(deal_id).paid_epochs == to_epoch - start + 1


def test_settle_many_skips_an_item_settled_first_and_pays_the_rest(chain: Chain) -> None:
    deals, start = three_deals(chain)
    chain.warp_to_epoch(start + 3)
    market = chain.market(HOSTERS[0])
    market.settle(deals[0], start, start + 1, attest(chain, deals[0], start, start + 1))

    receipt = market.settle_many(
        [(d, start, start + 1, attest(chain, d, start, start + 1)) for d in deals[:2]]
    )

    assert market.skipped_settlements(receipt) == [(deals[0], start, start + 1)]
    assert market.get_deal(deals[1]).paid_through == start + 1


def test_settle_many_reverts_whole_batch_on_a_bad_signature(chain: Chain) -> None:
    deals, start = three_deals(chain)
    chain.warp_to_epoch(start + 2)
    market = chain.market(HOSTERS[0])
    stranger = attest(chain, deals[0], start, start)  # signed for deal 0, used for deal 1
    with pytest.raises(ContractError) as info:
        market.settle_many(
            [
                (deals[0], start, start, attest(chain, deals[0], start, start)),
                (deals[1], start, start, stranger),
            ]
        )
    assert info.value.error_name in {"NotInCommittee", "SignersNotSorted"}
    assert market.get_deal(deals[0]).paid_epochs == 0


def test_settle_many_refuses_more_than_the_contract_takes(chain: Chain) -> None:
    market = chain.market(0)
    assert market.contract.functions.MAX_SETTLE_BATCH().call() == MAX_SETTLE_BATCH
    with pytest.raises(ContractError, match="split the batch") as info:
        market.settle_many([(1, 1, 1, [])] * (MAX_SETTLE_BATCH + 1))
    assert info.value.error_name == "TooManySettlements"


def test_settle_many_calldata_equals_web3_encoding(chain: Chain) -> None:
    market = Market(chain.w3, chain.deployment.market)
    items = [
        (7, 3, 12, quorum_tuples(attest(chain, 7, 3, 12))),
        (2**64, 0, 2**32 - 1, quorum_tuples(attest(chain, 2**64, 0, 2**32 - 1))),
        (9, 5, 5, []),
    ]
    for batch in (items, items[:1], []):
        expected = market.contract.encode_abi("settleMany", [[list(item) for item in batch]])
        assert "0x" + settle_many_calldata(batch).hex() == expected


def test_settle_many_refuses_a_range_across_two_periods(chain: Chain) -> None:
    deals, start = three_deals(chain)
    period = chain.market(0).params().period_epochs
    first, last = start, (start // period + 1) * period  # the first epoch of the next period
    chain.warp_to_epoch(last + 1)
    with pytest.raises(ContractError, match="RangeCrossesPeriod"):
        chain.market(HOSTERS[0]).settle(deals[0], first, last, attest(chain, deals[0], first, last))


def test_prove_many_answers_three_challenges_in_one_transaction(chain: Chain) -> None:
    deals, start = three_deals(chain)
    market = chain.market(HOSTERS[0])
    params = market.params()
    chain.warp_to_epoch(start + params.missed_quorum_epochs + 1)
    for d in deals:
        market.request_proof_for_missed_quorum(d)
    shard = shard_of("batched", 1024)
    receipt = market.prove_many([answer(market, d, shard) for d in deals])
    assert [e["dealId"] for e in market.events(receipt, "ProofAccepted")] == deals
    assert not any(market.challenge_of(d).open for d in deals)
    again = market.prove_many([answer(market, deals[0], shard)])
    assert market.skipped_proofs(again) == [deals[0]]  # already closed: skipped, not reverted


def test_prove_many_calldata_equals_web3_encoding(chain: Chain) -> None:
    market = Market(chain.w3, chain.deployment.market)
    items = [(7, b"\x02" * 32, b"\x01" * 1000), (2**64, bytes(32), b""), (3, b"\x03" * 32, bytes(range(256)))]
    for batch in (items, items[:1], []):
        expected = market.contract.encode_abi("proveMany", [[list(item) for item in batch]])
        assert "0x" + prove_many_calldata(batch).hex() == expected
    with pytest.raises(ContractError, match="split the batch"):
        market.prove_many([(1, bytes(32), b"")] * (MAX_PROOF_BATCH + 1))
