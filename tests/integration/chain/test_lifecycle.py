"""A whole market lifecycle (Market VERSION 3) on a real anvil through the Python bindings:
register, bid with possession roots, reserve, fill with a proof, attest (eth-account EIP-712),
settle, withdraw, request a proof, prove, miss proofs, reopen, cancel, finish and refund —
ending with the ETH ledger balanced."""

from __future__ import annotations

import pytest

from scatter.chain.eip712 import Attestation, SignedAttestation, digest, sign_attestation
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.params import ETHER
from scatter.errors import ContractError, ScatterNotFoundError
from tests.conftest import Chain
from tests.integration.chain.shards import Shard, answer, fill, fill_args, shard_of

pytestmark = pytest.mark.integration

CLIENT, HOSTER_A, HOSTER_B, HOSTER_C = 1, 2, 3, 7
VALIDATORS = (4, 5, 6)
PRICE = 10**12  # wei per slot per epoch
DURATION = 100


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


def post(chain: Chain, shards: list[Shard], *, slots: int, duration: int = DURATION) -> int:
    return chain.market(CLIENT).bid([s.cid_bytes for s in shards], roots=[s.root for s in shards],
                                    size=shards[0].size, slot_count=slots, price_per_epoch=PRICE,
                                    duration_epochs=duration)  # fmt: skip


def ledger_total(chain: Chain, market: Market, bids: list[int]) -> int:
    """What the contract must hold: open escrow + stakes + bonds + withdrawable balances."""
    escrow = sum(market.get_bid(b).escrow for b in bids)
    stakes = sum(market.node(role, chain.account(i).address).stake for i in range(10) for role in Role)
    balances = sum(market.balance_of(chain.account(i).address) for i in range(10))
    return escrow + stakes + balances + market.bonds_held()


def test_full_lifecycle_balances_to_the_wei(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    params = market.params()
    assert market.version() == 3
    assert market.node(Role.HOSTER, chain.account(HOSTER_A).address).status == NodeStatus.ACTIVE
    shards = [shard_of("shard 0", 3000), shard_of("shard 1", 3000)]
    bid_id = post(chain, shards, slots=2)
    assert market.get_bid(bid_id).escrow == PRICE * 2 * DURATION
    assert market.slot_root(bid_id, 1) == shards[1].root and market.slot_epochs(bid_id, 1) == DURATION

    # A reserves slot 0 (nothing locked), then fills it with a proof; B fills slot 1 directly.
    a = chain.market(HOSTER_A)
    a.reserve(bid_id, 0, market.fill_collateral(bid_id, 0))
    assert market.node(Role.HOSTER, chain.account(HOSTER_A).address).locked == 0
    assert market.reservation_of(bid_id, 0).hoster == chain.account(HOSTER_A).address
    with pytest.raises(ContractError, match="SlotIsReserved"):
        fill(chain.market(HOSTER_B), bid_id, 0, shards[0])
    deal_a = fill(a, bid_id, 0, shards[0])
    deal_b = fill(chain.market(HOSTER_B), bid_id, 1, shards[1])
    d = market.get_deal(deal_a)
    start = d.start_epoch
    assert d.end_epoch == start + DURATION - 1 and d.collateral == params.collateral(PRICE, DURATION)
    assert market.hoster_live_in_bid(bid_id, chain.account(HOSTER_A).address)

    # Committee members attest epochs start..start+2 once they are over; the hoster settles.
    chain.warp_to_epoch(start + 4)
    assert all(market.is_committee_member(deal_a, start, chain.account(v).address) for v in VALIDATORS)
    assert not market.is_committee_member(deal_a, start, chain.account(HOSTER_A).address)
    sigs = attest(chain, VALIDATORS[:2], deal_a, start, start + 2)
    onchain_digest = market.attestation_digest(deal_a, start, start + 2, True, b"\x07" * 32)
    assert onchain_digest == digest(chain.deployment.chain_id, chain.deployment.market, sigs[0].attestation)
    a.settle(deal_a, start, start + 2, sigs)
    paid = PRICE * 3
    fee = paid * params.validator_fee_bps // 10_000
    assert market.balance_of(chain.account(HOSTER_A).address) == paid - fee
    for v in VALIDATORS[:2]:
        assert market.balance_of(chain.account(v).address) == fee // 2
    with pytest.raises(ContractError, match="EpochAlreadyPaid"):
        a.settle(deal_a, start, start + 2, sigs)
    with pytest.raises(ContractError, match="NoQuorum"):
        a.settle(deal_a, start + 3, start + 3, attest(chain, VALIDATORS[:1], deal_a, start + 3, start + 3))

    # Withdraw moves the balance out as ETH.
    hoster_a = chain.account(HOSTER_A).address
    before = chain.balance(hoster_a)
    receipt = a.withdraw()
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.balance(hoster_a) == before + paid - fee - gas_cost

    # Deal B is never paid: after missedQuorumEpochs anyone may ask for a proof. B answers once
    # (nothing slashed), then stops answering: each missed proof slashes, the last ends the deal.
    b = market.get_deal(deal_b)
    chain.warp_to_epoch(b.paid_through + params.missed_quorum_epochs + 1)
    reporter = chain.market(VALIDATORS[2])
    reporter.request_proof_for_missed_quorum(deal_b)
    assert market.challenge_of(deal_b).open
    chain.market(HOSTER_B).prove_many([answer(market, deal_b, shards[1])])
    assert not market.challenge_of(deal_b).open and market.get_deal(deal_b).collateral == b.collateral
    chain.warp_to_epoch(market.current_epoch() + params.missed_quorum_epochs + 1)
    reporter.request_proof_for_missed_quorum(deal_b)
    for _ in range(params.max_faults):
        chain.warp_to_epoch(market.challenge_of(deal_b).due_epoch + 1)
        reporter.report_missed_proof(deal_b)
    assert market.get_deal(deal_b).status == DealStatus.FAULTED
    to_client = b.collateral * params.slash_client_bps // 10_000
    assert market.balance_of(chain.account(CLIENT).address) >= to_client - params.max_faults
    assert market.get_bid(bid_id).open_slot_indexes() == [1]
    assert not market.hoster_live_in_bid(bid_id, chain.account(HOSTER_B).address)

    # A third hoster takes the reopened slot with the whole unspent budget.
    deal_c = fill(chain.market(HOSTER_C), bid_id, 1, shards[1])
    c = market.get_deal(deal_c)
    assert c.end_epoch - c.start_epoch + 1 == DURATION

    # A second bid: the client cancels an open slot and gets its escrow back.
    bid2 = post(chain, [shard_of("other", 100)], slots=3, duration=4)
    client_balance = market.balance_of(chain.account(CLIENT).address)
    chain.market(CLIENT).cancel(bid2, 2)
    assert market.balance_of(chain.account(CLIENT).address) == client_balance + PRICE * 4
    with pytest.raises(ContractError, match="NotClient"):
        a.cancel(bid2, 1)

    # After deal A's last epoch plus the proof window it finishes: the unpaid budget is refunded.
    chain.warp_to_epoch(d.end_epoch + params.proof_window_epochs + 1)
    client_balance = market.balance_of(chain.account(CLIENT).address)
    market.finish(deal_a)
    assert market.get_deal(deal_a).status == DealStatus.FINISHED
    assert market.balance_of(chain.account(CLIENT).address) == client_balance + PRICE * (DURATION - 3)
    assert market.node(Role.HOSTER, hoster_a).locked == 0
    assert chain.balance(chain.deployment.market) == ledger_total(chain, market, [bid_id, bid2])


def test_fail_quorum_only_requests_a_proof_and_the_bond_pays_the_hoster(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    shard = shard_of("failed", 500)
    bid_id = post(chain, [shard], slots=1, duration=5)
    deal = fill(chain.market(HOSTER_A), bid_id, 0, shard)
    start = market.get_deal(deal).start_epoch
    chain.warp_to_epoch(start + 1)
    collateral = market.get_deal(deal).collateral
    requester = chain.market(VALIDATORS[0])
    with pytest.raises(ContractError, match=r"NoQuorum|InvalidSignature|NotInCommittee"):
        requester.request_proof(deal, start, attest(chain, VALIDATORS[:1], deal, start, start, ok=False))
    requester.request_proof(deal, start, attest(chain, VALIDATORS[:2], deal, start, start, ok=False))
    challenge = market.challenge_of(deal)
    assert challenge.open and challenge.bond == market.params().proof_bond
    assert market.get_deal(deal).collateral == collateral  # a fail quorum never slashes
    chain.market(HOSTER_A).prove_many([answer(market, deal, shard)])
    assert not market.challenge_of(deal).open
    assert market.balance_of(chain.account(HOSTER_A).address) == market.params().proof_bond


def test_fill_refuses_a_wrong_proof_and_collateral_above_the_cap(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    shard, other = shard_of("right", 700), shard_of("wrong", 700)
    bid_id = post(chain, [shard], slots=1)
    hoster = chain.market(HOSTER_A)
    seed_block, wrong = fill_args(market, bid_id, 0, chain.account(HOSTER_A).address, other)
    with pytest.raises(ContractError, match="InvalidProof"):
        hoster.fill(bid_id, 0, seed_block, market.fill_collateral(bid_id, 0), wrong)
    with pytest.raises(ContractError, match="CollateralTooHigh"):
        fill(hoster, bid_id, 0, shard, max_collateral=market.fill_collateral(bid_id, 0) - 1)
    assert market.node(Role.HOSTER, chain.account(HOSTER_A).address).locked == 0


def test_an_expired_reservation_pays_the_hoster_one_epoch_once(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    params = market.params()
    bid_id = post(chain, [shard_of("never pushed", 300)], slots=2, duration=6)
    hoster = chain.market(HOSTER_A)
    hoster.reserve(bid_id, 0, market.fill_collateral(bid_id, 0))
    with pytest.raises(ContractError, match="SlotIsReserved"):
        market.release_reservation(bid_id, 0)
    expires = market.reservation_of(bid_id, 0).expires_at
    chain.w3.provider.make_request("evm_mine", [expires + 1])  # type: ignore[arg-type]
    market.release_reservation(bid_id, 0)
    assert market.balance_of(chain.account(HOSTER_A).address) == PRICE
    assert market.slot_epochs(bid_id, 0) == 5
    assert market.node(Role.HOSTER, chain.account(HOSTER_A).address).locked == 0
    hoster.reserve(bid_id, 1, market.fill_collateral(bid_id, 1))
    chain.w3.provider.make_request("evm_mine", [market.reservation_of(bid_id, 1).expires_at + 1])  # type: ignore[arg-type]
    market.release_reservation(bid_id, 1)
    assert market.balance_of(chain.account(HOSTER_A).address) == PRICE  # once per (bid, hoster)
    assert params.reserve_epochs > 0


def test_signature_for_another_chain_is_rejected(chain: Chain) -> None:
    register_all(chain)
    market = chain.market(0)
    shard = shard_of("foreign", 200)
    bid_id = post(chain, [shard], slots=1, duration=5)
    deal = fill(chain.market(HOSTER_A), bid_id, 0, shard)
    start = market.get_deal(deal).start_epoch
    chain.warp_to_epoch(start + 1)
    att = Attestation(deal_id=deal, from_epoch=start, to_epoch=start, ok=True, evidence=b"\x07" * 32)
    foreign = [
        sign_attestation(chain.account(v).key, 1, chain.deployment.market, att) for v in VALIDATORS[:2]
    ]
    with pytest.raises(ContractError, match=r"NotInCommittee|SignersNotSorted"):
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


def test_a_live_deal_is_extended_only_with_its_hosters_signature(chain: Chain) -> None:
    from scatter.chain.eip712 import ExtendDeal

    register_all(chain)
    market = chain.market(0)
    shard = shard_of("extended", 400)
    bid_id = post(chain, [shard], slots=1, duration=5)
    deal = fill(chain.market(HOSTER_A), bid_id, 0, shard)
    d = market.get_deal(deal)
    consent = ExtendDeal(deal, 3, d.end_epoch)
    dep = chain.deployment
    assert consent.digest(dep.chain_id, dep.market) == market.extend_deal_digest(deal, 3, d.end_epoch)
    forged = consent.sign(chain.account(CLIENT).key, dep.chain_id, dep.market)
    with pytest.raises(ContractError, match="InvalidHosterSignature"):
        chain.market(CLIENT).extend_deal(deal, 3, forged)
    chain.market(CLIENT).extend_deal(
        deal, 3, consent.sign(chain.account(HOSTER_A).key, dep.chain_id, dep.market)
    )
    after = market.get_deal(deal)
    assert after.end_epoch == d.end_epoch + 3
    assert after.collateral == d.collateral + PRICE * 3 * market.params().collateral_bps // 10_000
    with pytest.raises(ContractError, match="InvalidHosterSignature"):  # no replay: the end moved
        chain.market(CLIENT).extend_deal(deal, 3, consent.sign(chain.account(HOSTER_A).key, dep.chain_id,
                                                               dep.market))  # fmt: skip
