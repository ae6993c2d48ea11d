"""Typed binding of the Market contract, VERSION 3 (docs/trust.md).

Every write goes through :class:`~scatter.chain.tx.Transactor`, so reverts
arrive as one-line :class:`~scatter.errors.ContractError` naming the custom
error (gas is estimated first: a call that would revert is never sent). Views
return frozen dataclasses built from the ABI's field *names*, so the order of
a Solidity struct's fields never matters here.

Lifecycle, in the order a slot lives it: :meth:`Market.bid` (client) ->
:meth:`Market.reserve` (optional, hoster) -> :meth:`Market.fill` (hoster, with a
possession proof) -> :meth:`Market.settle` / :meth:`Market.settle_many` (committee
quorum) -> challenges (:meth:`Market.request_proof`,
:meth:`Market.request_proof_for_missed_quorum`, :meth:`Market.audit`) answered
by :meth:`Market.prove_many` or reported by :meth:`Market.report_missed_proof`
-> :meth:`Market.finish`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any, TypeVar

from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from scatter.chain._abi import function_abi, named_output
from scatter.chain.artifacts import load_artifact
from scatter.chain.eip712 import SignedAttestation, quorum_tuples
from scatter.chain.params import MarketParams, snake
from scatter.chain.tx import Transactor, raw_call, rpc_guard
from scatter.errors import ContractError

VERSION = 3
"""The Market version these bindings speak (``Market.VERSION()``)."""

MAX_SETTLE_BATCH = 100
"""Most items one ``settleMany`` call takes (``Market.MAX_SETTLE_BATCH``)."""

MAX_PROOF_BATCH = 100
"""Most items one ``proveMany`` call takes (``Market.MAX_PROOF_BATCH``)."""

FILL_SEED_WINDOW = 128
"""How many blocks back ``fill``'s seed block may be (``Market.FILL_SEED_WINDOW``)."""

SETTLE_MANY_ARGS = ["(uint256,uint32,uint32,(bytes32,uint8,bytes32,bytes32)[])[]"]
SETTLE_MANY_SELECTOR = function_signature_to_4byte_selector(f"settleMany({SETTLE_MANY_ARGS[0]})")
PROVE_MANY_ARGS = ["(uint256,bytes32,bytes)[]"]
PROVE_MANY_SELECTOR = function_signature_to_4byte_selector(f"proveMany({PROVE_MANY_ARGS[0]})")

SignatureTuple = tuple[bytes, int, bytes, bytes]
"""One signature as the contract takes it: (evidence, v, r, s)."""

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def settle_many_calldata(items: Sequence[tuple[int, int, int, list[SignatureTuple]]]) -> bytes:
    """Calldata of ``settleMany(items)`` encoded directly, without a contract object.

    Each item is ``(deal_id, from_epoch, to_epoch, sigs)`` with ``sigs`` already in the
    contract's order (:func:`~scatter.chain.eip712.quorum_tuples`).
    """
    settlements = [(deal_id, a, b, list(sigs)) for deal_id, a, b, sigs in items]
    return SETTLE_MANY_SELECTOR + abi_encode(SETTLE_MANY_ARGS, [settlements])


ProofItem = tuple[int, bytes, bytes]
"""One ``proveMany`` item: (deal id, the challenge seed the proof answers, the proof). The Market
skips an item whose seed is not the deal's open challenge's (a proof built for an earlier one)."""


def prove_many_calldata(items: Sequence[ProofItem]) -> bytes:
    """Calldata of ``proveMany(items)``: each item ``(deal_id, seed, proof)``."""
    encoded = [(d, bytes(s).rjust(32, b"\x00"), bytes(p)) for d, s, p in items]
    return PROVE_MANY_SELECTOR + abi_encode(PROVE_MANY_ARGS, [encoded])


def fill_seed(block_hash: bytes, bid_id: int, slot: int, hoster: str) -> bytes:
    """The challenge seed ``fill`` answers:
    ``keccak256(abi.encode(blockhash(seedBlock), bidId, slot, msg.sender))``."""
    encoded = abi_encode(
        ["bytes32", "uint256", "uint256", "address"],
        [bytes(block_hash), bid_id, slot, Web3.to_checksum_address(hoster)],
    )
    return bytes(keccak(encoded))


def audit_draws(block_hash: bytes, deal_id: int, audit_bps: int) -> bool:
    """Whether the audit seed block with ``block_hash`` draws ``deal_id``:
    ``uint256(keccak256(abi.encode(blockhash(seedBlock), dealId))) % 10000 < auditBps``."""
    digest = keccak(abi_encode(["bytes32", "uint256"], [bytes(block_hash), deal_id]))
    return int.from_bytes(digest, "big") % 10_000 < audit_bps


class Role(IntEnum):
    HOSTER = 0
    VALIDATOR = 1


class NodeStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    EXITING = 2


class DealStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    FINISHED = 2
    FAULTED = 3


C = TypeVar("C")


def _build(cls: type[C], named: Mapping[str, Any], **given: Any) -> C:
    """A dataclass from {ABI name: value}: fields matched by snake-cased name, the rest defaulted."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {snake(k): v for k, v in named.items() if snake(k) in known}
    values.update(given)
    if "raw" in known:
        values["raw"] = dict(named)
    return cls(**values)


@dataclass(frozen=True)
class Node:
    stake: int
    locked: int
    capacity: int
    exit_at: int
    status: NodeStatus
    endpoint: str
    joined_at: int = 0

    @property
    def free_stake(self) -> int:
        return self.stake - self.locked if self.status == NodeStatus.ACTIVE else 0


@dataclass(frozen=True)
class Bid:
    bid_id: int
    client: str = ZERO_ADDRESS
    size: int = 0
    slot_count: int = 0
    price_per_epoch: int = 0
    duration_epochs: int = 0
    open_slots: int = 0  # reserved or not
    reserved_slots: int = 0  # a subset of open_slots (a reservation may have expired)
    closed_slots: int = 0
    escrow: int = 0
    posted_block: int = 0
    root_per_slot: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def open_slot_indexes(self) -> list[int]:
        return [i for i in range(self.slot_count) if self.open_slots >> i & 1]

    def unreserved_slot_indexes(self) -> list[int]:
        return [i for i in self.open_slot_indexes() if not self.reserved_slots >> i & 1]


@dataclass(frozen=True)
class Deal:
    deal_id: int
    hoster: str = ZERO_ADDRESS
    bid_id: int = 0
    slot: int = 0
    status: DealStatus = DealStatus.NONE
    start_epoch: int = 0
    end_epoch: int = 0
    paid_through: int = 0
    paid_epochs: int = 0
    collateral: int = 0
    failed_epoch: int = 0  # challenge epoch of the last missed proof; 0 = none
    faults: int = 0
    root_index: int = 0
    seed: int = 0  # committee seed (low 64 bits)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Challenge:
    """A deal's possession challenge (``challengeOf``): open or the last one."""

    deal_id: int
    open: bool = False
    seed: bytes = b"\x00" * 32
    requested_epoch: int = 0  # the challenge epoch (becomes failedEpoch if missed)
    due_epoch: int = 0  # the proof must land by the end of this epoch
    bond: int = 0


@dataclass(frozen=True)
class Reservation:
    """Who holds an open slot, until when (``reservationOf``); ``hoster`` zero: nobody."""

    bid_id: int
    slot: int
    hoster: str = ZERO_ADDRESS
    expires_at: int = 0  # unix time; the reservation holds while block.timestamp < expires_at

    @property
    def held(self) -> bool:
        return int(self.hoster, 16) != 0

    def live_at(self, timestamp: int) -> bool:
        return self.held and timestamp < self.expires_at


def challenge_from_named(deal_id: int, named: Mapping[str, Any]) -> Challenge:
    n = {snake(k): v for k, v in named.items()}
    return Challenge(
        deal_id,
        open=bool(n.get("open", False)),
        seed=bytes(n.get("seed", b"\x00" * 32)),
        requested_epoch=int(n.get("requested_epoch", 0)),
        due_epoch=int(n.get("due_epoch", 0)),
        bond=int(n.get("bond", 0)),
    )


def reservation_from_named(bid_id: int, slot: int, named: Mapping[str, Any]) -> Reservation:
    n = {snake(k): v for k, v in named.items()}
    return Reservation(bid_id, slot, str(n.get("hoster", ZERO_ADDRESS)), int(n.get("expires_at", 0)))


_COMMITTEE_SELECTOR = function_signature_to_4byte_selector("isCommitteeMember(uint256,uint32,address)")


class Market:
    """The Market at ``address``; ``tx`` is needed only for writes."""

    def __init__(self, w3: Web3, address: str, tx: Transactor | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.abi = load_artifact("Market").abi
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.abi)
        self._tx = tx
        self._params: MarketParams | None = None

    def with_signer(self, tx: Transactor) -> Market:
        return Market(self.w3, self.address, tx)

    # ------------------------------------------------------------------ views

    def _call(self, name: str, *args: Any, block: int | str = "latest") -> Any:
        fn = getattr(self.contract.functions, name)(*args)
        return rpc_guard(f"Market.{name}", lambda: fn.call(block_identifier=block))

    def _named(self, name: str, *args: Any, block: int | str = "latest") -> dict[str, Any]:
        return named_output(self.abi, name, self._call(name, *args, block=block))

    def has(self, name: str) -> bool:
        """Whether the shipped ABI has function ``name``."""
        return function_abi(self.abi, name) is not None

    def version(self) -> int:
        return int(self._call("VERSION"))

    def params(self) -> MarketParams:
        """The deployment's parameters (read once per binding: they are immutable)."""
        if self._params is None:
            self._params = MarketParams.from_struct(self._named("params"))
        return self._params

    def max_proof_batch(self) -> int:
        return MAX_PROOF_BATCH

    def current_epoch(self) -> int:
        return int(self._call("currentEpoch"))

    def period_of(self, epoch: int) -> int:
        """The committee period of ``epoch``."""
        return int(self._call("periodOf", epoch))

    def node(self, role: Role, account: str) -> Node:
        node = _build(Node, self._named("node", int(role), Web3.to_checksum_address(account)))
        return Node(node.stake, node.locked, node.capacity, node.exit_at, NodeStatus(node.status),
                    node.endpoint, node.joined_at)  # fmt: skip

    def nodes(self, role: Role, page_size: int = 200) -> list[str]:
        count = int(self._call("nodeCount", int(role)))
        found: list[str] = []
        for offset in range(0, count, page_size):
            found.extend(self._call("nodesPage", int(role), offset, page_size))
        return found

    def is_eligible_validator(self, account: str) -> bool:
        return bool(self._call("isEligibleValidator", Web3.to_checksum_address(account)))

    def is_committee_member(self, deal_id: int, epoch: int, validator: str) -> bool:
        """Whether ``validator`` is in the committee of ``deal_id`` for the period of ``epoch``.

        A raw ``eth_call`` (selector and arguments encoded here, the bool read from the last byte),
        without web3's contract machinery: daemons ask it for every deal at every committee period,
        and through web3 it took 15 % of a validator's CPU at 300 deals (``scatter.bench.scale``)."""
        data = _COMMITTEE_SELECTOR + abi_encode(
            ["uint256", "uint32", "address"], [deal_id, epoch, Web3.to_checksum_address(validator)]
        )
        call = {"to": self.address, "data": "0x" + data.hex()}
        result = rpc_guard(
            "Market.isCommitteeMember", lambda: raw_call(self.w3, "eth_call", [call, "latest"])
        )
        return int(str(result), 16) != 0

    def committee(self, deal_id: int, epoch: int, validators: Sequence[str]) -> list[str]:
        """The members among ``validators`` of the deal's committee for the period of ``epoch``."""
        return [v for v in validators if self.is_committee_member(deal_id, epoch, v)]

    def get_bid(self, bid_id: int, *, block: int | str = "latest") -> Bid:
        return _build(Bid, self._named("getBid", bid_id, block=block), bid_id=bid_id)

    def get_deal(self, deal_id: int, *, block: int | str = "latest") -> Deal:
        d = _build(Deal, self._named("getDeal", deal_id, block=block), deal_id=deal_id)
        return _replace_status(d)

    def challenge_of(self, deal_id: int, *, block: int | str = "latest") -> Challenge:
        return challenge_from_named(deal_id, self._named("challengeOf", deal_id, block=block))

    def challenge_segments(self, seed: bytes, size: int) -> list[int]:
        """The segment indices a challenge with ``seed`` asks of a shard of ``size`` bytes."""
        return [int(i) for i in self._call("challengeSegments", bytes(seed), size)]

    def slot_root(self, bid_id: int, slot: int) -> bytes:
        """The slot's possession root (``bytes32``: 20-byte node, 12 zero bytes)."""
        return bytes(self._call("slotRoot", bid_id, slot))

    def slot_epochs(self, bid_id: int, slot: int) -> int:
        """Epochs left in the slot's budget (what a fill would run for)."""
        return int(self._call("slotEpochs", bid_id, slot))

    def reservation_of(self, bid_id: int, slot: int, *, block: int | str = "latest") -> Reservation:
        return reservation_from_named(bid_id, slot, self._named("reservationOf", bid_id, slot, block=block))

    def hoster_live_in_bid(self, bid_id: int, hoster: str) -> bool:
        """Whether ``hoster`` holds a live (reserved or filled) slot of the bid."""
        return bool(self._call("hosterLiveInBid", bid_id, Web3.to_checksum_address(hoster)))

    def free_stake(self, role: Role, account: str) -> int:
        return int(self._call("freeStake", int(role), Web3.to_checksum_address(account)))

    def total_validator_stake(self) -> int:
        return int(self._call("totalValidatorStake"))

    def bonds_held(self) -> int:
        return int(self._call("bondsHeld"))

    def fill_collateral(self, bid_id: int, slot: int) -> int:
        """What a fill of the slot would lock now: price x budget x collateralBps."""
        bid = self.get_bid(bid_id)
        return self.params().collateral(bid.price_per_epoch, self.slot_epochs(bid_id, slot))

    def bid_count(self) -> int:
        return int(self._call("bidCount"))

    def deal_count(self) -> int:
        return int(self._call("dealCount"))

    def balance_of(self, account: str) -> int:
        return int(self._call("balanceOf", Web3.to_checksum_address(account)))

    def attestation_digest(
        self, deal_id: int, from_epoch: int, to_epoch: int, ok: bool, evidence: bytes
    ) -> bytes:
        return bytes(self._call("attestationDigest", deal_id, from_epoch, to_epoch, ok, evidence))

    def extend_deal_digest(self, deal_id: int, extra_epochs: int, end_epoch: int) -> bytes:
        return bytes(self._call("extendDealDigest", deal_id, extra_epochs, end_epoch))

    # ----------------------------------------------------------------- writes

    def _send(self, name: str, *args: Any, value: int = 0) -> TxReceipt:
        if self._tx is None:
            raise ContractError(f"Market.{name} needs a signing account (Market.with_signer)")
        fn = getattr(self.contract.functions, name)(*args)
        return self._tx.send(fn, value=value, what=f"Market.{name}")

    def _event_arg(self, receipt: TxReceipt, event: str, arg: str) -> Any:
        logs = getattr(self.contract.events, event)().process_receipt(receipt, errors=DISCARD)
        if not logs:
            raise ContractError(f"{event} event missing from receipt {receipt['transactionHash'].hex()}")
        return logs[0]["args"][arg]

    def events(self, receipt: TxReceipt, event: str) -> list[dict[str, Any]]:
        """The args of every ``event`` the Market emitted in ``receipt``."""
        logs = getattr(self.contract.events, event)().process_receipt(receipt, errors=DISCARD)
        return [dict(e["args"]) for e in logs]

    def join(self, role: Role, endpoint: str, capacity: int, stake: int) -> TxReceipt:
        return self._send("join", int(role), endpoint, capacity, value=stake)

    def update_node(self, role: Role, endpoint: str, capacity: int) -> TxReceipt:
        return self._send("updateNode", int(role), endpoint, capacity)

    def top_up(self, role: Role, amount: int) -> TxReceipt:
        return self._send("topUp", int(role), value=amount)

    def announce_exit(self, role: Role) -> TxReceipt:
        return self._send("announceExit", int(role))

    def exit(self, role: Role) -> TxReceipt:
        return self._send("exit", int(role))

    def bid(
        self,
        cids: Sequence[bytes],
        *,
        roots: Sequence[bytes],
        size: int,
        slot_count: int,
        price_per_epoch: int,
        duration_epochs: int,
        origins: Sequence[str] = (),
    ) -> int:
        """Post a bid paying exactly price x slots x epochs; returns the bid id.

        ``cids`` and ``roots`` (possession roots, 32 bytes each) hold one entry for all
        slots (replicas) or one per slot; ``size`` is the shard's exact size in bytes.
        """
        escrow = price_per_epoch * slot_count * duration_epochs
        receipt = self._send("bid", list(cids), [bytes(r) for r in roots], size, slot_count, price_per_epoch,
                             duration_epochs, list(origins), value=escrow)  # fmt: skip
        return int(self._event_arg(receipt, "BidPosted", "bidId"))

    def reserve(self, bid_id: int, slot: int, max_collateral: int) -> TxReceipt:
        """Hold an open slot for ``reserveEpochs`` while the client pushes; nothing is locked."""
        return self._send("reserve", bid_id, slot, max_collateral)

    def release_reservation(self, bid_id: int, slot: int) -> TxReceipt:
        """After a reservation expired (anyone): reopen the slot and pay the hoster its fee."""
        return self._send("releaseReservation", bid_id, slot)

    def fill(self, bid_id: int, slot: int, seed_block: int, max_collateral: int, proof: bytes) -> int:
        """Fill the slot with a possession proof over ``blockhash(seed_block)`` (see
        :func:`fill_seed`); locks at most ``max_collateral``. Returns the deal id."""
        receipt = self._send("fill", bid_id, slot, seed_block, max_collateral, bytes(proof))
        return int(self._event_arg(receipt, "SlotFilled", "dealId"))

    def settle(
        self, deal_id: int, from_epoch: int, to_epoch: int, sigs: list[SignedAttestation]
    ) -> TxReceipt:
        return self._send("settle", deal_id, from_epoch, to_epoch, quorum_tuples(sigs))

    def settle_many(self, items: Sequence[tuple[int, int, int, Sequence[SignedAttestation]]]) -> TxReceipt:
        """Settle up to :data:`MAX_SETTLE_BATCH` ranges ``(deal_id, from_epoch, to_epoch, sigs)`` in
        one transaction. Items another transaction overtook (deal no longer active, first epoch
        already paid) are skipped on chain with a ``SettlementSkipped`` event; any other bad item
        reverts the whole call."""
        if len(items) > MAX_SETTLE_BATCH:
            raise ContractError(
                f"Market.settleMany takes at most {MAX_SETTLE_BATCH} items, got {len(items)}: "
                "split the batch",
                error_name="TooManySettlements",
                args_=(len(items), MAX_SETTLE_BATCH),
            )
        settlements = [(deal_id, a, b, quorum_tuples(list(sigs))) for deal_id, a, b, sigs in items]
        return self._send("settleMany", settlements)

    def skipped_settlements(self, receipt: TxReceipt) -> list[tuple[int, int, int]]:
        """``(deal_id, from_epoch, to_epoch)`` of each item a ``settleMany`` receipt skipped."""
        return [(int(e["dealId"]), int(e["fromEpoch"]), int(e["toEpoch"]))
                for e in self.events(receipt, "SettlementSkipped")]  # fmt: skip

    def request_proof(self, deal_id: int, epoch: int, fail_sigs: list[SignedAttestation]) -> TxReceipt:
        """Ask the hoster for a proof with a committee quorum of ``fail`` attestations for
        [epoch, epoch], posting ``proofBond`` (paid to the hoster if the proof verifies)."""
        bond = self.params().proof_bond
        return self._send("requestProof", deal_id, epoch, quorum_tuples(fail_sigs), value=bond)

    def request_proof_for_missed_quorum(self, deal_id: int) -> TxReceipt:
        """Free, once no epoch was paid or proven for more than ``missedQuorumEpochs``."""
        return self._send("requestProofForMissedQuorum", deal_id)

    def audit(self, deal_id: int, seed_block: int) -> TxReceipt:
        """Free, if the audit seed block draws the deal (:func:`audit_draws`)."""
        return self._send("audit", deal_id, seed_block)

    def prove_many(self, items: Sequence[ProofItem]) -> TxReceipt:
        """Answer the open challenges of ``(deal_id, seed, proof)`` items in one transaction."""
        limit = self.max_proof_batch()
        if len(items) > limit:
            raise ContractError(
                f"Market.proveMany takes at most {limit} items, got {len(items)}: split the batch",
                error_name="TooManyProofs",
                args_=(len(items), limit),
            )
        return self._send("proveMany", [(d, bytes(s).rjust(32, b"\x00"), bytes(p)) for d, s, p in items])

    def skipped_proofs(self, receipt: TxReceipt) -> list[int]:
        """Deal ids of the ``proveMany`` items whose challenge was already closed."""
        return [int(e["dealId"]) for e in self.events(receipt, "ProofSkipped")]

    def report_missed_proof(self, deal_id: int) -> TxReceipt:
        """Once the deal's challenge is overdue (anyone): slash, and reward the caller."""
        return self._send("reportMissedProof", deal_id)

    def report_equivocation(self, deal_id: int, ok: SignedAttestation, fail: SignedAttestation) -> TxReceipt:
        """A validator signed ``ok`` over a range containing an epoch it also signed ``fail`` for."""
        a, f = ok.attestation, fail.attestation
        return self._send("reportEquivocation", deal_id, a.from_epoch, a.to_epoch, ok.as_contract_tuple(),
                          f.from_epoch, f.to_epoch, fail.as_contract_tuple())  # fmt: skip

    def report_false_ok(self, deal_id: int, ok: SignedAttestation) -> TxReceipt:
        """A validator signed ``ok`` over a range containing the deal's failed epoch."""
        a = ok.attestation
        return self._send("reportFalseOk", deal_id, a.from_epoch, a.to_epoch, ok.as_contract_tuple())

    def finish(self, deal_id: int) -> TxReceipt:
        return self._send("finish", deal_id)

    def cancel(self, bid_id: int, slot: int) -> TxReceipt:
        return self._send("cancel", bid_id, slot)

    def extendable_slots(self, bid_id: int) -> int:
        """Slots ``extend`` adds epochs to: open and unreserved."""
        return len(self.get_bid(bid_id).unreserved_slot_indexes())

    def extend(self, bid_id: int, extra_epochs: int, *, slots: int | None = None) -> TxReceipt:
        """Add ``extra_epochs`` to the bid's open, unreserved slots, paying price x slots x epochs."""
        bid = self.get_bid(bid_id)
        n = self.extendable_slots(bid_id) if slots is None else slots
        return self._send("extend", bid_id, extra_epochs, value=bid.price_per_epoch * n * extra_epochs)

    def extend_deal(self, deal_id: int, extra_epochs: int, hoster_sig: bytes) -> TxReceipt:
        """Client: extend a live deal its hoster agreed to (``ExtendDeal`` signature), paying
        price x extra epochs."""
        deal = self.get_deal(deal_id)
        price = self.get_bid(deal.bid_id).price_per_epoch
        return self._send("extendDeal", deal_id, extra_epochs, bytes(hoster_sig), value=price * extra_epochs)

    def withdraw(self, to: str | None = None) -> TxReceipt:
        if self._tx is None:
            raise ContractError("Market.withdraw needs a signing account")
        return self._send("withdraw", Web3.to_checksum_address(to or self._tx.address))


def _replace_status(d: Deal) -> Deal:
    from dataclasses import replace

    return replace(d, status=DealStatus(int(d.status)))
