"""Typed binding of the Market contract (stake registry + bids, deals, settlement).

Every write goes through :class:`~scatter.chain.tx.Transactor`, so reverts
arrive as one-line :class:`~scatter.errors.ContractError` naming the custom
error. Views return frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from scatter.chain.artifacts import load_artifact
from scatter.chain.eip712 import SignedAttestation, quorum_tuples
from scatter.chain.params import MarketParams
from scatter.chain.tx import Transactor, rpc_guard
from scatter.errors import ContractError

MAX_SETTLE_BATCH = 100
"""Most items one ``settleMany`` call takes (``Market.MAX_SETTLE_BATCH``)."""

SETTLE_MANY_ARGS = ["(uint256,uint32,uint32,(bytes32,uint8,bytes32,bytes32)[])[]"]
SETTLE_MANY_SELECTOR = function_signature_to_4byte_selector(f"settleMany({SETTLE_MANY_ARGS[0]})")

SignatureTuple = tuple[bytes, int, bytes, bytes]
"""One signature as the contract takes it: (evidence, v, r, s)."""


def settle_many_calldata(items: Sequence[tuple[int, int, int, list[SignatureTuple]]]) -> bytes:
    """Calldata of ``settleMany(items)`` encoded directly, without a contract object.

    Each item is ``(deal_id, from_epoch, to_epoch, sigs)`` with ``sigs`` already in the
    contract's order (:func:`~scatter.chain.eip712.quorum_tuples`).
    """
    settlements = [(deal_id, a, b, list(sigs)) for deal_id, a, b, sigs in items]
    return SETTLE_MANY_SELECTOR + abi_encode(SETTLE_MANY_ARGS, [settlements])


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


@dataclass(frozen=True)
class Node:
    stake: int
    locked: int
    capacity: int
    exit_at: int
    status: NodeStatus
    endpoint: str

    @property
    def free_stake(self) -> int:
        return self.stake - self.locked if self.status == NodeStatus.ACTIVE else 0


@dataclass(frozen=True)
class Bid:
    bid_id: int
    client: str
    size: int
    slot_count: int
    price_per_epoch: int
    duration_epochs: int
    open_slots: int
    closed_slots: int
    escrow: int
    posted_block: int

    def open_slot_indexes(self) -> list[int]:
        return [i for i in range(self.slot_count) if self.open_slots >> i & 1]


@dataclass(frozen=True)
class Deal:
    deal_id: int
    hoster: str
    bid_id: int
    slot: int
    status: DealStatus
    start_epoch: int
    paid_through: int
    paid_epochs: int
    slot_offset: int
    collateral: int


class Market:
    """The Market at ``address``; ``tx`` is needed only for writes."""

    def __init__(self, w3: Web3, address: str, tx: Transactor | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=load_artifact("Market").abi)
        self._tx = tx

    def with_signer(self, tx: Transactor) -> Market:
        return Market(self.w3, self.address, tx)

    # ------------------------------------------------------------------ views

    def _call(self, name: str, *args: Any) -> Any:
        fn = getattr(self.contract.functions, name)(*args)
        return rpc_guard(f"Market.{name}", fn.call)

    def params(self) -> MarketParams:
        return MarketParams.from_struct(self._call("params"))

    def current_epoch(self) -> int:
        return int(self._call("currentEpoch"))

    def node(self, role: Role, account: str) -> Node:
        n = self._call("node", int(role), Web3.to_checksum_address(account))
        return Node(n[0], n[1], n[2], n[3], NodeStatus(n[4]), n[5])

    def nodes(self, role: Role, page_size: int = 200) -> list[str]:
        count = int(self._call("nodeCount", int(role)))
        found: list[str] = []
        for offset in range(0, count, page_size):
            found.extend(self._call("nodesPage", int(role), offset, page_size))
        return found

    def is_eligible_validator(self, account: str) -> bool:
        return bool(self._call("isEligibleValidator", Web3.to_checksum_address(account)))

    def get_bid(self, bid_id: int) -> Bid:
        b = self._call("getBid", bid_id)
        return Bid(bid_id, *b)

    def get_deal(self, deal_id: int) -> Deal:
        d = self._call("getDeal", deal_id)
        return Deal(deal_id, d[0], d[1], d[2], DealStatus(d[3]), *d[4:])

    def deal_end_epoch(self, deal_id: int) -> int:
        return int(self._call("dealEndEpoch", deal_id))

    def bid_count(self) -> int:
        return int(self._call("bidCount"))

    def deal_count(self) -> int:
        return int(self._call("dealCount"))

    def balance_of(self, account: str) -> int:
        return int(self._call("balanceOf", Web3.to_checksum_address(account)))

    def hoster_in_bid(self, bid_id: int, hoster: str) -> bool:
        return bool(self._call("hosterInBid", bid_id, Web3.to_checksum_address(hoster)))

    def attestation_digest(
        self, deal_id: int, from_epoch: int, to_epoch: int, ok: bool, evidence: bytes
    ) -> bytes:
        return bytes(self._call("attestationDigest", deal_id, from_epoch, to_epoch, ok, evidence))

    # ----------------------------------------------------------------- writes

    def _send(self, name: str, *args: Any, value: int = 0) -> TxReceipt:
        if self._tx is None:
            raise ContractError(f"Market.{name} needs a signing account (Market.with_signer)")
        fn = getattr(self.contract.functions, name)(*args)
        return self._tx.send(fn, value=value, what=f"Market.{name}")

    def _event_arg(self, receipt: TxReceipt, event: str, arg: str) -> Any:
        logs = getattr(self.contract.events, event)().process_receipt(receipt)
        if not logs:
            raise ContractError(f"{event} event missing from receipt {receipt['transactionHash'].hex()}")
        return logs[0]["args"][arg]

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
        size: int,
        slot_count: int,
        price_per_epoch: int,
        duration_epochs: int,
        origins: Sequence[str] = (),
    ) -> int:
        """Post a bid paying exactly price x slots x epochs; returns the bid id."""
        escrow = price_per_epoch * slot_count * duration_epochs
        receipt = self._send(
            "bid", list(cids), size, slot_count, price_per_epoch, duration_epochs, list(origins), value=escrow
        )
        return int(self._event_arg(receipt, "BidPosted", "bidId"))

    def accept(self, bid_id: int, slot: int) -> int:
        receipt = self._send("accept", bid_id, slot)
        return int(self._event_arg(receipt, "SlotAccepted", "dealId"))

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
        logs = self.contract.events.SettlementSkipped().process_receipt(receipt, errors=DISCARD)
        return [
            (int(e["args"]["dealId"]), int(e["args"]["fromEpoch"]), int(e["args"]["toEpoch"])) for e in logs
        ]

    def fault_failed(
        self, deal_id: int, from_epoch: int, to_epoch: int, sigs: list[SignedAttestation]
    ) -> TxReceipt:
        return self._send("faultFailed", deal_id, from_epoch, to_epoch, quorum_tuples(sigs))

    def fault_missed(self, deal_id: int) -> TxReceipt:
        return self._send("faultMissed", deal_id)

    def finish(self, deal_id: int) -> TxReceipt:
        return self._send("finish", deal_id)

    def cancel(self, bid_id: int, slot: int) -> TxReceipt:
        return self._send("cancel", bid_id, slot)

    def extend(self, bid_id: int, extra_epochs: int) -> TxReceipt:
        bid = self.get_bid(bid_id)
        live = bin(~bid.closed_slots & ((1 << bid.slot_count) - 1)).count("1")
        return self._send("extend", bid_id, extra_epochs, value=bid.price_per_epoch * live * extra_epochs)

    def withdraw(self, to: str | None = None) -> TxReceipt:
        if self._tx is None:
            raise ContractError("Market.withdraw needs a signing account")
        return self._send("withdraw", Web3.to_checksum_address(to or self._tx.address))
