"""Money: this account's bids and what they hold — cancel (refund), extend, finish, balance, withdraw.

Every amount is in wei. What a cancel or a finish gives back is credited by the
Market to the client (a pull-payment ledger) and reaches the wallet with
:meth:`Payments.withdraw`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from web3 import Web3
from web3.logs import DISCARD

from scatter.chain.market import DealStatus
from scatter.chain.tx import rpc_guard
from scatter.errors import ContractError, ScatterNotFoundError, ScatterValueError
from scatter.sdk.base import bits
from scatter.sdk.models import Balance, CancelResult, ExtendResult, WithdrawResult
from scatter.sdk.views import MarketViews

if TYPE_CHECKING:
    from scatter.chain.market import Bid


class Payments(MarketViews):
    """This account's bids: cancel, extend and finish them; its balance, and withdrawals."""

    def _my_bid(self, bid_id: int) -> Bid:
        bid = self.market.get_bid(bid_id)
        if int(bid.client, 16) == 0:
            raise ScatterNotFoundError(f"no bid {bid_id} on this market")
        if bid.client.lower() != self.address.lower():
            raise ScatterValueError(f"bid {bid_id} belongs to {bid.client}, not to {self.address}")
        return bid

    def cancel(self, bid_id: int, slots: Sequence[int] | None = None) -> CancelResult:
        """Cancel open slots of one of this account's bids (default: every open slot no hoster
        holds a live reservation of); refunds their escrow. A reserved slot can be cancelled once
        its reservation expired (the hoster then gets its one-epoch reservation fee).

        An unfinished upload of the bid cannot finish once a slot is cancelled (a closed slot is
        never filled): its local state under ``.scatter/uploads`` is deleted, and the metadata
        entry it recorded too if the bid stores nothing and no slot is left open
        (``CancelResult.withdrawn_file``)."""
        result = self._cancel_open(bid_id, slots)
        if result.cancelled_slots:
            withdrawn = self._give_up_uploads(bid_id)
            if withdrawn is not None:
                result = replace(result, withdrawn_file=withdrawn)
        return result

    def _cancel_open(self, bid_id: int, slots: Sequence[int] | None) -> CancelResult:
        bid = self._my_bid(bid_id)
        open_now = bid.open_slot_indexes()
        held = self._live_reservations(bid)
        if slots is None:
            wanted = [s for s in open_now if s not in held]
        else:
            wanted = list(slots)
            not_open = [s for s in wanted if s not in open_now]
            if not_open:
                raise ScatterValueError(
                    f"bid {bid_id}: slots {not_open} are not open (filled or closed); open slots: {open_now}"
                )
            busy = [s for s in wanted if s in held]
            if busy:
                raise ScatterValueError(
                    f"bid {bid_id}: slots {busy} are reserved by a hoster receiving the content; "
                    "cancel them once the reservation expired (or let the hoster fill them)"
                )
        refund = 0
        for slot in wanted:
            receipt = self.market.cancel(bid_id, slot)
            for log in self.market.contract.events.SlotCancelled().process_receipt(receipt, errors=DISCARD):
                refund += int(log["args"]["refund"])
        active = tuple(d.deal_id for d in self._active_deals(self.market.get_bid(bid_id)).values())
        return CancelResult(
            bid_id=bid_id,
            cancelled_slots=tuple(wanted),
            refund=refund,
            active_deals=active,
            reserved_slots=tuple(sorted(held)) if slots is None else (),
        )

    def extend(self, bid_id: int, duration: str | int) -> ExtendResult:
        """Add ``duration`` to the bid's open, unreserved slots (paying price x those slots x epochs).

        A filled deal's end is fixed at fill (docs/trust.md, T7): it changes only through
        ``extendDeal`` with its hoster's signature, which this SDK does not collect; a live deal
        runs to its end, and its slot reopens for a new deal only if it faults.
        """
        self._my_bid(bid_id)
        extra = self.epochs(duration)
        try:
            receipt = self.market.extend(bid_id, extra)
        except ContractError as exc:
            if exc.error_name != "NothingToExtend":
                raise
            raise ScatterValueError(
                f"bid {bid_id} has no open, unreserved slot to extend: its live deals run to the end "
                "fixed when they were filled (extending a live deal needs its hoster's signature)"
            ) from None
        args = self.market.events(receipt, "BidExtended")[0]
        bid = self.market.get_bid(bid_id)
        return ExtendResult(
            bid_id=bid_id,
            extra_epochs=extra,
            slots=tuple(bits(int(args["slots"]), bid.slot_count)),
            paid=int(args["paid"]),
            unchanged_deals=tuple(d.deal_id for d in self._active_deals(bid).values()),
        )

    def my_bids(self) -> list[int]:
        ev = self.market.contract.events.BidPosted()
        logs = rpc_guard(
            "reading BidPosted events",
            lambda: ev.get_logs(from_block=self.deployment.block, argument_filters={"client": self.address}),
        )
        return [int(log["args"]["bidId"]) for log in logs]

    def balance(self) -> Balance:
        """ETH in the wallet, ETH the Market holds for this account, and escrow still in its bids."""
        wallet = int(rpc_guard("reading balance", lambda: self.w3.eth.get_balance(self.address)))  # type: ignore[arg-type]
        escrow = sum(self.market.get_bid(b).escrow for b in self.my_bids())
        return Balance(
            address=self.address,
            wallet=wallet,
            withdrawable=self.market.balance_of(self.address),
            escrow=escrow,
        )

    def withdraw(self, to: str | None = None) -> WithdrawResult:
        """Send what the Market credited to this account (refunds, earnings) to ``to`` (default: itself)."""
        amount = self.market.balance_of(self.address)
        if amount == 0:
            raise ScatterValueError(f"nothing to withdraw: the Market holds no balance for {self.address}")
        receipt = self.market.withdraw(to)
        return WithdrawResult(
            address=self.address,
            to=Web3.to_checksum_address(to or self.address),
            amount=amount,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        )

    def finish_deals(self, bid_id: int) -> int:
        """Finish every deal of the bid that is over (anyone may): its end plus the proof window
        passed and no challenge is open. Unspent escrow goes back to the client."""
        done = 0
        current = self.market.current_epoch()
        window = self.params.proof_window_epochs
        for deal in self.deals_of_bid(bid_id):
            if deal.status == DealStatus.ACTIVE and current > deal.end_epoch + window:
                try:
                    self.market.finish(deal.deal_id)
                    done += 1
                except ContractError as exc:
                    if exc.error_name not in ("DealNotActive", "DealNotOver", "ChallengeOpen"):
                        raise
        return done
