"""Market views: what the chain says about the market, its bids, deals and nodes (read only)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from scatter.chain.market import DealStatus, NodeStatus, Role
from scatter.chain.tx import rpc_guard
from scatter.errors import ScatterError, ScatterNotFoundError
from scatter.sdk.base import ScatterBase, bits
from scatter.sdk.models import BidInfo, DealInfo, MarketStatus, NodeInfo

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scatter.chain.market import Bid, Deal, Market

#: The Market event that names a bid's CIDs, roots and origins.
_POSTED = "BidPosted"


def registered_hosters(market: Market) -> dict[str, str]:
    """Every hoster registered in ``market`` (not exited) and its public endpoint (read only)."""
    found = {}
    for address in market.nodes(Role.HOSTER):
        node = market.node(Role.HOSTER, address)
        if node.status != NodeStatus.NONE:
            found[address] = node.endpoint
    return found


def _cid_text(raw: bytes) -> str:
    from multiformats import CID

    return str(CID.decode(bytes(raw)).set(base="base32"))


class MarketViews(ScatterBase):
    """Read-only views of the market: status, bids, deals, hosters and validators."""

    def market_status(self) -> MarketStatus:
        return MarketStatus(
            chain_id=self.network.chain_id,
            rpc_url=self.network.rpc_url,
            market=self.deployment.market,
            file_registry=self.deployment.file_registry,
            block=self._block(),
            current_epoch=self.market.current_epoch(),
            epoch_seconds=self.params.epoch_seconds,
            bids=self.market.bid_count(),
            deals=self.market.deal_count(),
            hosters=len(self.market.nodes(Role.HOSTER)),
            validators=len(self.market.nodes(Role.VALIDATOR)),
            contract_balance=int(
                rpc_guard("reading balance", lambda: self.w3.eth.get_balance(self.market.address))
            ),
        )

    def recent_bids(self, limit: int = 50) -> list[BidInfo]:
        count = self.market.bid_count()
        return [self.bid_info(i) for i in range(count, max(0, count - limit), -1)]

    def recent_deals(self, limit: int = 100) -> list[DealInfo]:
        count = self.market.deal_count()
        return [self._deal_info(self.market.get_deal(i)) for i in range(count, max(0, count - limit), -1)]

    def bid_info(self, bid_id: int) -> BidInfo:
        bid = self.market.get_bid(bid_id)
        if int(bid.client, 16) == 0:
            raise ScatterNotFoundError(f"no bid {bid_id} on this market")
        ev = self.market.contract.events[_POSTED]()
        logs = rpc_guard(
            "reading BidPosted",
            lambda: ev.get_logs(
                from_block=bid.posted_block, to_block=bid.posted_block, argument_filters={"bidId": bid_id}
            ),
        )
        cids: tuple[str, ...] = ()
        origins: tuple[str, ...] = ()
        roots: tuple[str, ...] = ()
        if logs:
            cids = tuple(_cid_text(c) for c in logs[0]["args"]["cids"])
            origins = tuple(logs[0]["args"]["origins"])
            roots = tuple("0x" + bytes(r).hex() for r in logs[0]["args"].get("roots", ()))
        return BidInfo(
            bid_id=bid_id,
            client=bid.client,
            size=bid.size,
            slot_count=bid.slot_count,
            price_per_epoch=bid.price_per_epoch,
            duration_epochs=bid.duration_epochs,
            open_slots=tuple(bid.open_slot_indexes()),
            closed_slots=tuple(i for i in range(bid.slot_count) if bid.closed_slots >> i & 1),
            escrow=bid.escrow,
            cids=cids,
            origins=origins,
            posted_block=bid.posted_block,
            reserved_slots=tuple(bits(int(bid.raw.get("reservedSlots", 0)) & bid.open_slots, bid.slot_count)),
            roots=roots,
        )

    def bid_status(self, bid_id: int, *, ask_hosters: bool = True) -> tuple[BidInfo, list[DealInfo]]:
        bid = self.bid_info(bid_id)
        return bid, self._deal_infos(bid_id, ask_hosters=ask_hosters)

    def _deal_infos(
        self,
        bid_id: int,
        *,
        ask_hosters: bool,
        deals: Sequence[Deal] | None = None,
        epoch: int | None = None,
    ) -> list[DealInfo]:
        """Every deal of the bid; with ``ask_hosters``, each active deal's hoster is asked (in parallel)."""
        from scatter.sdk.push import pin_status

        bid = self.market.get_bid(bid_id)
        deals = list(self.deals_of_bid(bid_id) if deals is None else deals)
        epoch = self.market.current_epoch() if epoch is None else epoch

        def ask(deal: Deal) -> bool | None:
            if not ask_hosters or deal.status != DealStatus.ACTIVE:
                return None
            try:
                return pin_status(self._endpoint(deal.hoster), deal.deal_id, timeout=10.0).pinned
            except ScatterError:
                return False  # unreachable or not holding it

        with ThreadPoolExecutor(max(1, min(16, len(deals)))) as pool:
            answers = list(pool.map(ask, deals))
        return [self._deal_info(d, bid, pinned=p, epoch=epoch) for d, p in zip(deals, answers, strict=True)]

    def _reservations(self, bid: Bid) -> dict[int, str]:
        """slot -> the hoster holding it, for the bid's reserved slots (expired or not)."""
        held = {}
        for slot in bits(bid.reserved_slots & bid.open_slots, bid.slot_count):
            r = self.market.reservation_of(bid.bid_id, slot)
            if r.held:
                held[slot] = r.hoster
        return held

    def _live_reservations(self, bid: Bid) -> dict[int, str]:
        """slot -> hoster, for reservations that still hold (``block.timestamp < expiresAt``)."""
        reserved = bid.reserved_slots & bid.open_slots
        if not reserved:
            return {}
        latest = rpc_guard("reading the latest block", lambda: self.w3.eth.get_block("latest"))
        now = int(latest["timestamp"])
        held = {}
        for slot in bits(reserved, bid.slot_count):
            r = self.market.reservation_of(bid.bid_id, slot)
            if r.live_at(now):
                held[slot] = r.hoster
        return held

    def hoster_endpoints(self) -> dict[str, str]:
        """Active hosters and their public endpoints."""
        return registered_hosters(self.market)

    def nodes(self, role: Role) -> list[NodeInfo]:
        out = []
        for address in self.market.nodes(role):
            node = self.market.node(role, address)
            out.append(
                NodeInfo(
                    role=role.name.lower(),
                    address=address,
                    endpoint=node.endpoint,
                    status=node.status.name.lower(),
                    stake=node.stake,
                    locked=node.locked,
                    capacity=node.capacity,
                )
            )
        return out
