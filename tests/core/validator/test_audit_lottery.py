"""The audit lottery computed off chain: which seed blocks, which deals (only winners are sent)."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from scatter.validator.reports import BLOCKHASH_WINDOW, audit_seed_blocks, audit_winners


def test_seed_blocks_are_multiples_within_the_blockhash_window_and_new() -> None:
    assert audit_seed_blocks(head=100, every=30, after=0) == [30, 60, 90]
    assert audit_seed_blocks(head=90, every=30, after=0) == [30, 60]  # the head's own hash is not usable
    assert audit_seed_blocks(head=100, every=30, after=60) == [90]
    far = audit_seed_blocks(head=1000, every=30, after=0)
    assert far[0] > 1000 - BLOCKHASH_WINDOW and far[-1] == 990


def test_winners_are_the_contract_formula() -> None:
    block_hash = keccak(b"seed block")
    deals = list(range(1, 2001))
    winners = audit_winners(block_hash, deals, 500)

    def draw(deal_id: int) -> int:
        return int.from_bytes(keccak(encode(["bytes32", "uint256"], [block_hash, deal_id])), "big") % 10_000

    expected = [d for d in deals if draw(d) < 500]
    assert winners == expected
    assert 60 < len(winners) < 140  # 5 % of 2,000 = 100 expected
    assert audit_winners(block_hash, deals, 0) == [] and audit_winners(block_hash, deals, 10_000) == deals
