"""What every flow of the SDK shares: the chain connection, the account, and the deal lookups.

:class:`ScatterBase` is the root of :class:`scatter.Scatter`; each flow adds its
methods in its own module on top of it (market views, money, files, upload,
pin, download). It holds the connected :class:`~scatter.sdk.network.Network`, the
signing account, the Market and FileRegistry bindings, the SDK's local state
root (upload sessions, watch state) and the deal lookups all flows use.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scatter.chain.files import FileRegistry
from scatter.chain.market import DealStatus, Market, Role
from scatter.chain.tx import Transactor, rpc_guard
from scatter.errors import ScatterError, ScatterNotFoundError, ScatterTimeoutError
from scatter.sdk import units
from scatter.sdk.models import DealInfo
from scatter.sdk.network import Network
from scatter.sdk.session import UploadSession, list_sessions

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from scatter.chain.deployments import Deployment
    from scatter.chain.market import Bid, Deal
    from scatter.chain.params import MarketParams
    from scatter.formats.metadata_schema import FileMetadata

#: Seconds between two looks at the chain while waiting for hosters.
POLL = 0.5
#: The Market event naming the deal that filled a slot (Market VERSION 3).
_FILLED = "SlotFilled"


class FillTimeoutError(ScatterTimeoutError):
    """Slots of a bid were not all reserved, pushed and filled in time."""

    def __init__(self, message: str, *, bid_id: int, open_slots: Sequence[int]) -> None:
        super().__init__(message)
        self.bid_id = bid_id
        self.open_slots = tuple(open_slots)


def bits(mask: int, count: int) -> list[int]:
    """The indexes set in a slot bitmask of ``count`` slots."""
    return [i for i in range(count) if mask >> i & 1]


class ScatterBase:
    """A client of one Scatter deployment, signing with one account (the shared part)."""

    def __init__(
        self,
        network: Network,
        account: LocalAccount,
        *,
        state_root: Path | None = None,
        gateways: Sequence[str] = (),
    ) -> None:
        self.network = network
        self.w3: Web3 = network.w3
        self.account = account
        self.address = str(account.address)
        tx = Transactor(self.w3, account)
        self.market = Market(self.w3, network.deployment.market, tx)
        self.files = FileRegistry(self.w3, network.deployment.file_registry, tx)
        self.state_root = state_root or Path.cwd() / ".scatter"
        self.gateways = tuple(gateways)
        self._params: MarketParams | None = None
        self._metadata_key: bytes | None = None

    @property
    def deployment(self) -> Deployment:
        return self.network.deployment

    @property
    def params(self) -> MarketParams:
        if self._params is None:
            self._params = self.market.params()
        return self._params

    def epochs(self, duration: str | int) -> int:
        """A duration (``"30d"``, ``"90s"``, seconds) in this deployment's epochs, rounded up."""
        return units.parse_duration(duration, self.params.epoch_seconds)

    @property
    def metadata_key(self) -> bytes:
        """The wallet-derived key of this account's file metadata (scatter.formats.keyderiv)."""
        if self._metadata_key is None:
            from scatter.formats.keyderiv import metadata_key_for_account

            self._metadata_key = metadata_key_for_account(self.account)
        return self._metadata_key

    def _block(self) -> int:
        return int(rpc_guard("reading block number", lambda: self.w3.eth.block_number))

    def _metadata(self, file_id: int) -> FileMetadata:
        from scatter.formats.metadata import decrypt_metadata

        return decrypt_metadata(self.metadata_key, self.files.metadata(file_id))

    # ------------------------------------------------------------------ local upload sessions

    def pending_uploads(self) -> list[UploadSession]:
        """Unfinished uploads of this account on this deployment (run the same upload to resume)."""
        return [
            s
            for s in list_sessions(self.state_root)
            if s.chain_id == self.network.chain_id
            and s.market.lower() == self.deployment.market.lower()
            and s.client.lower() == self.address.lower()
        ]

    def _forget_uploads(self, *, file_id: int, bids: Collection[int]) -> None:
        """Delete the local state (encoded shards, CARs) of the unfinished uploads of a removed file:
        of its bids (``bids``), or adding a version to it."""
        for session in self.pending_uploads():
            if session.bid_id in bids or file_id in (session.file_id, session.replaces):
                session.remove()

    def _give_up_uploads(self, bid_id: int) -> int | None:
        """Give up the unfinished uploads of a bid whose slots were cancelled (they cannot finish):
        take back the entry they recorded if it names nothing (:meth:`_withdraw_entry`), then
        delete their local state. Returns the id of the file entry withdrawn or changed, if any."""
        withdrawn = None
        for session in self.pending_uploads():
            if session.bid_id == bid_id:
                withdrawn = self._withdraw_entry(session) or withdrawn
                session.remove()  # after the entry: a failure leaves the session to try again
        return withdrawn

    def _withdraw_entry(self, session: UploadSession) -> int | None:
        """An entry recorded (stage ``recording`` or later) for a bid that can store nothing — no
        slot ever filled and none left open — is removed, or for a new version (``replaces``) that
        version is taken back out. An entry whose bid holds or may still hold shards stays: it
        names what the account pays for, and ``ls`` shows its health."""
        if session.bid_id is None or session.stage not in ("recording", "recorded"):
            return None
        bid = self.market.get_bid(session.bid_id)
        if bid.open_slots or self._slot_filled_logs(bid):
            return None
        file_id = session.replaces if session.replaces is not None else session.file_id
        if file_id is None:  # a crash between sending the entry and recording its id
            file_id = self._find_my_entry(session.bid_id, session.bid_block or self.deployment.block)
        if file_id is None:
            return None
        try:
            owner = self.files.entry(file_id).owner
        except ScatterNotFoundError:
            return None  # removed meanwhile
        record = self._metadata(file_id)
        if owner.lower() != self.address.lower() or record.current.bid_id != session.bid_id:
            return None  # given away, or this version never got in
        if session.replaces is None:
            self.files.remove(file_id)
        elif record.history:
            previous = replace(record, current=record.history[0], history=record.history[1:])
            self.files.replace(file_id, self._seal(previous))
        return file_id

    def _find_my_entry(self, bid_id: int | None, from_block: int) -> int | None:
        """This account's entry added since ``from_block`` whose current version is stored by ``bid_id``."""
        from scatter.formats.metadata import decrypt_metadata

        ev = self.files.contract.events.FileAdded()
        logs = rpc_guard(
            "reading FileAdded events",
            lambda: ev.get_logs(from_block=from_block, argument_filters={"owner": self.address}),
        )
        for log in logs:
            try:
                record = decrypt_metadata(self.metadata_key, bytes(log["args"]["metadata"]))
            except ScatterError:
                continue
            if record.current.bid_id == bid_id:
                return int(log["args"]["fileId"])
        return None

    def _seal(self, record: FileMetadata) -> bytes:
        from scatter.formats.metadata import encrypt_metadata

        return encrypt_metadata(self.metadata_key, record)

    # ------------------------------------------------------------------ deals

    def _slot_filled_logs(self, bid: Bid) -> list[Any]:
        ev = self.market.contract.events[_FILLED]()
        return list(
            rpc_guard(
                "reading SlotFilled events",
                lambda: ev.get_logs(from_block=bid.posted_block, argument_filters={"bidId": bid.bid_id}),
            )
        )

    def deals_of_bid(self, bid_id: int) -> list[Deal]:
        """Every deal ever made on the bid's slots, oldest first."""
        bid = self.market.get_bid(bid_id)
        return [self.market.get_deal(int(log["args"]["dealId"])) for log in self._slot_filled_logs(bid)]

    def _active_deals(self, bid: Bid) -> dict[int, Deal]:
        active: dict[int, Deal] = {}
        for log in self._slot_filled_logs(bid):
            deal = self.market.get_deal(int(log["args"]["dealId"]))
            if deal.status == DealStatus.ACTIVE:
                active[deal.slot] = deal
        return active

    def _endpoint(self, hoster: str) -> str:
        return self.market.node(Role.HOSTER, hoster).endpoint

    def _deal_info(
        self, deal: Deal, bid: Bid | None = None, *, pinned: bool | None = None, epoch: int | None = None
    ) -> DealInfo:
        from scatter.sdk.health import is_live

        endpoint = self._endpoint(deal.hoster)
        current = self.market.current_epoch() if epoch is None else epoch
        return DealInfo(
            deal_id=deal.deal_id,
            bid_id=deal.bid_id,
            slot=deal.slot,
            hoster=deal.hoster,
            endpoint=endpoint,
            status=deal.status.name.lower(),
            start_epoch=deal.start_epoch,
            end_epoch=deal.end_epoch,
            paid_through=deal.paid_through,
            paid_epochs=deal.paid_epochs,
            collateral=deal.collateral,
            faults=deal.faults,
            live=is_live(deal, current),
            pinned=pinned,
        )
