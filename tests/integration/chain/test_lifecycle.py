"""A whole market lifecycle on a real anvil through the Python bindings:
register, bid, accept, attest (eth-account EIP-712), settle, withdraw, fault,
reopen, cancel, finish and refund — ending with the ETH ledger balanced."""

from __future__ import annotations

import pytest
from multiformats import CID, multihash

from scatter.chain.eip712 import Attestation, SignedAttestation, digest, sign_attestation
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.params import ETHER
from scatter.errors import ContractError, ScatterNotFoundError
from tests.conftest import Chain

pytestmark = pytest.mark.integration

CLIENT, HOSTER_A, HOSTER_B, HOSTER_C = 1, 2, 3, 7
VALIDATORS = (4, 5, 6)
PRICE = 10**12  # wei per slot per epoch
DURATION = 10


def shard_cid(i: int) -> bytes:
    return bytes(CID("base32", 1, "raw", multihash.digest(f"shard {i}".encode(), "sha2-256")))


def register_all(chain: Chain) -> None:
    for h in (HOSTER_A, HOSTER_B, HOSTER_C):
        chain.market(h).join(Role.HOSTER, f"http://127.0.0.1:{9000 + h}", 10**12, 5 * ETHER)
    for v in VALIDATORS:
        chain.market(v).join(Role.VALIDATOR, f"http://127.0.0.1:{9100 + v}", 0, 2 * ETHER)


def attest(
    chain: Chain, signers: tuple[int, ...], deal_id: int, start: int, end: int, ok: bool = True
) -> list[SignedAttestation]:
    att = Attestation(deal_id=deal_id, from_epoch=start, to_epoch=end, ok=ok, evidence=b"\x07" * 32)
    return [
        sign_attestation(chain.account(i).key, chain.deployment.chain_id, chain.deployment.market, att)
        for i in signers
    ]


def ledger_total(chain: Chain, market: Market, bids: list[int]) -> int:
    """What the contract must hold: open escrow + stakes + withdrawable balances."""
    escrow = sum(market.get_bid(b).escrow for b in bids)
    stakes = sum(market.node(role, chain.account(i).address).stake for i in range(10) for role in Role)
    balances = sum(market.balance_of(chain.account(i).address) for i in range(10))
    return escrow + stakes + balances


def test_full_lifecycle_balances_to_the_wei(chain: Chain) -> None:
    register_all(chain)
    client = chain.market(CLIENT)
    market = chain.market(0)
    params = market.params()
    assert market.node(Role.HOSTER, chain.account(HOSTER_A).address).status == NodeStatus.ACTIVE

    bid_id = client.bid(
        [shard_cid(0), shard_cid(1)],
        size=2**20,
        slot_count=2,
        price_per_epoch=PRICE,
        duration_epochs=DURATION,
    )
    assert market.get_bid(bid_id).escrow == PRICE * 2 * DURATION
    deal_a = chain.market(HOSTER_A).accept(bid_id, 0)
    deal_b = chain.market(HOSTER_B).accept(bid_id, 1)
    start = market.get_deal(deal_a).start_epoch
    assert market.deal_end_epoch(deal_a) == start + DURATION - 1

    # Validators attest epochs start..start+2 once they are over; the hoster settles.
    chain.warp_to_epoch(start + 4)
    sigs = attest(chain, VALIDATORS[:2], deal_a, start, start + 2)
    onchain_digest = market.attestation_digest(deal_a, start, start + 2, True, b"\x07" * 32)
    assert onchain_digest == digest(chain.deployment.chain_id, chain.deployment.market, sigs[0].attestation)
    chain.market(HOSTER_A).settle(deal_a, start, start + 2, sigs)
    paid = PRICE * 3
    fee = paid * params.validator_fee_bps // 10_000
    assert market.balance_of(chain.account(HOSTER_A).address) == paid - fee
    for v in VALIDATORS[:2]:
        assert market.balance_of(chain.account(v).address) == fee // 2

    # The same epochs cannot be paid twice, and the hoster cannot attest its own deal.
    with pytest.raises(ContractError, match="EpochAlreadyPaid"):
        chain.market(HOSTER_A).settle(deal_a, start, start + 2, sigs)
    with pytest.raises(ContractError, match="NoQuorum"):
        chain.market(HOSTER_A).settle(
            deal_a, start + 3, start + 3, attest(chain, VALIDATORS[:1], deal_a, start + 3, start + 3)
        )

    # Withdraw moves the balance out as ETH.
    hoster_a = chain.account(HOSTER_A).address
    before = chain.balance(hoster_a)
    receipt = chain.market(HOSTER_A).withdraw()
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.balance(hoster_a) == before + paid - fee - gas_cost
    assert market.balance_of(hoster_a) == 0

    # Deal B never settles: after the grace period anyone may fault it; the slot reopens.
    deal_b_before = market.get_deal(deal_b)
    chain.warp_to_epoch(deal_b_before.paid_through + params.grace_epochs + 1)
    chain.market(VALIDATORS[2]).fault_missed(deal_b)
    assert market.get_deal(deal_b).status == DealStatus.FAULTED
    collateral = deal_b_before.collateral
    to_client = collateral * params.slash_client_bps // 10_000
    assert market.balance_of(chain.account(CLIENT).address) == to_client
    assert market.balance_of(chain.account(VALIDATORS[2]).address) == collateral - to_client
    assert market.get_bid(bid_id).open_slot_indexes() == [1]

    # A third hoster takes the reopened slot with the whole unspent budget.
    deal_c = chain.market(HOSTER_C).accept(bid_id, 1)
    c = market.get_deal(deal_c)
    assert market.deal_end_epoch(deal_c) - c.start_epoch + 1 == DURATION

    # A second bid: the client cancels an open slot and gets its escrow back.
    bid2 = client.bid([shard_cid(9)], size=1024, slot_count=3, price_per_epoch=PRICE, duration_epochs=4)
    client_balance = market.balance_of(chain.account(CLIENT).address)
    client.cancel(bid2, 2)
    assert market.balance_of(chain.account(CLIENT).address) == client_balance + PRICE * 4
    with pytest.raises(ContractError, match="NotClient"):
        chain.market(HOSTER_A).cancel(bid2, 1)

    # After deal A's last epoch plus grace it finishes: the unpaid budget is refunded.
    end_a = market.deal_end_epoch(deal_a)
    chain.warp_to_epoch(end_a + params.grace_epochs + 1)
    client_balance = market.balance_of(chain.account(CLIENT).address)
    # Deal A could now also be faulted (no quorum since start+2); finishing first is legitimate too.
    market.finish(deal_a)
    assert market.get_deal(deal_a).status == DealStatus.FINISHED
    assert market.balance_of(chain.account(CLIENT).address) == client_balance + PRICE * (DURATION - 3)
    assert market.node(Role.HOSTER, hoster_a).locked == 0

    contract_eth = chain.balance(chain.deployment.market)
    assert contract_eth == ledger_total(chain, market, [bid_id, bid2])


def test_fail_quorum_faults_and_pays_the_signers(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    bid_id = chain.market(CLIENT).bid(
        [shard_cid(0)], size=10, slot_count=1, price_per_epoch=PRICE, duration_epochs=5
    )
    deal = chain.market(HOSTER_A).accept(bid_id, 0)
    start = market.get_deal(deal).start_epoch
    chain.warp_to_epoch(start)
    collateral = market.get_deal(deal).collateral
    sigs = attest(chain, VALIDATORS[:2], deal, start, start, ok=False)
    # ok=True signatures do not fault; ok=False ones do.
    with pytest.raises(ContractError, match=r"IneligibleValidator|InvalidSignature"):
        market.fault_failed(
            deal, start, start, attest(chain, VALIDATORS[:2], deal, start, start, ok=True)[:1] + sigs[1:]
        )
    market.fault_failed(deal, start, start, sigs)
    assert market.get_deal(deal).status == DealStatus.FAULTED
    to_reporters = collateral - collateral * market.params().slash_client_bps // 10_000
    for v in VALIDATORS[:2]:
        assert market.balance_of(chain.account(v).address) == to_reporters // 2


def test_signature_for_another_chain_is_rejected(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    bid_id = chain.market(CLIENT).bid(
        [shard_cid(0)], size=10, slot_count=1, price_per_epoch=PRICE, duration_epochs=5
    )
    deal = chain.market(HOSTER_A).accept(bid_id, 0)
    start = market.get_deal(deal).start_epoch
    chain.warp_to_epoch(start + 1)
    att = Attestation(deal_id=deal, from_epoch=start, to_epoch=start, ok=True, evidence=b"\x07" * 32)
    foreign = [
        sign_attestation(chain.account(v).key, 1, chain.deployment.market, att) for v in VALIDATORS[:2]
    ]
    with pytest.raises(ContractError, match=r"IneligibleValidator|SignersNotSorted"):
        market.settle(deal, start, start, foreign)


def test_exit_returns_stake_after_the_delay(chain: Chain) -> None:
    market = chain.market(VALIDATORS[0])
    market.join(Role.VALIDATOR, "http://127.0.0.1:9999", 0, 3 * ETHER)
    with pytest.raises(ContractError, match="ExitNotAnnounced"):
        market.exit(Role.VALIDATOR)
    market.announce_exit(Role.VALIDATOR)
    with pytest.raises(ContractError, match="ExitDelayNotOver"):
        market.exit(Role.VALIDATOR)
    exit_at = market.node(Role.VALIDATOR, chain.account(VALIDATORS[0]).address).exit_at
    chain.w3.provider.make_request("evm_mine", [exit_at + 1])  # type: ignore[arg-type]
    market.exit(Role.VALIDATOR)
    assert market.balance_of(chain.account(VALIDATORS[0]).address) == 3 * ETHER
    assert market.node(Role.VALIDATOR, chain.account(VALIDATORS[0]).address).status == NodeStatus.NONE


def test_file_registry_entries_round_trip_and_only_owner_changes_them(chain: Chain) -> None:
    owner, other = chain.files(CLIENT), chain.files(HOSTER_A)
    blob = bytes(range(256)) * 2
    file_id = owner.add(blob)
    assert owner.metadata(file_id) == blob
    owner.replace(file_id, b"v2" * 100)
    assert owner.metadata(file_id) == b"v2" * 100
    assert owner.entry(file_id).version == 2
    with pytest.raises(ContractError, match="NotOwner"):
        other.replace(file_id, b"mine now")
    owner.transfer(file_id, chain.account(HOSTER_A).address, b"for you")
    assert other.entry(file_id).owner == chain.account(HOSTER_A).address
    assert other.metadata(file_id) == b"for you"
    with pytest.raises(ContractError, match="NotOwner"):
        owner.remove(file_id)
    other.remove(file_id)
    with pytest.raises(ScatterNotFoundError, match="no file entry"):
        other.entry(file_id)
