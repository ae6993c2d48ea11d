"""Pin: buy storage of a public CID on hosters that fetch it themselves (from origins or IPFS)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from multiformats import CID

from scatter.blocking import run_blocking
from scatter.errors import ScatterConnectionError, ScatterError, ScatterValueError
from scatter.sdk import units
from scatter.sdk.base import POLL, FillTimeoutError
from scatter.sdk.models import DealInfo, PinResult, Reporter, SilentReporter
from scatter.sdk.money import Payments
from scatter.sdk.pricing import bid_price, positive_price, warn_if_short_of_collateral
from scatter.units import parse_amount

if TYPE_CHECKING:
    from scatter.ipfs.embedded import EmbeddedBlockStore


class DagTooBigError(ScatterError):
    """:meth:`Pinning.possession_of` read more than its ``max_size`` bytes of blocks (and stopped)."""


class Pinning(Payments):
    """``pin`` a public CID, the ``possession_of`` it, and ``wait_filled`` for a bid's slots."""

    def pin(
        self,
        cid: str,
        *,
        replicas: int = 3,
        duration: str | int = units.DEFAULT_DURATION,
        price: str | int | None = None,
        origins: Sequence[str] = (),
        size: int | None = None,
        wait: bool = False,
        timeout: float = 300.0,
        reporter: Reporter | None = None,
    ) -> PinResult:
        """Buy pinning of a public CID on ``replicas`` hosters (they fetch it from ``origins`` or IPFS).

        The bid commits to the content's possession root, so the SDK first reads the content
        once from ``origins`` (or the SDK's ``gateways``), every block verified against the CID,
        and computes its exact size and root (:func:`scatter.formats.possession.root_of_cid`).
        ``size``, when given, must match. With ``wait`` it returns once every replica is filled.
        ``price`` is wei (or ``"2gwei"``) per GiB per epoch; without it, the default pays the
        hosters' gas (:mod:`scatter.sdk.pricing`).
        """
        rep = reporter or SilentReporter()
        try:
            parsed = CID.decode(cid)
        except Exception:
            raise ScatterValueError(f"{cid!r} is not a CID") from None
        duration_epochs = self.epochs(duration)
        per_gib = None if price is None else positive_price(parse_amount(price))
        found, root = self.possession_of(parsed, origins or self.gateways, reporter=rep)
        if size is not None and size != found:
            raise ScatterValueError(f"{cid} is {found} bytes, not {size}: leave out --size, or check the CID")
        priced = bid_price(self.w3, self.params, size=found, duration=duration_epochs, per_gib_epoch=per_gib)
        per_slot = priced.per_slot_epoch
        warn_if_short_of_collateral(
            self.market, self.params, per_slot_epoch=per_slot, duration=duration_epochs, slots=replicas
        )
        rep.step(
            f"posting a bid for {cid}: {replicas} replicas for {duration_epochs} epochs at "
            f"{priced.describe()}, escrow {units.format_eth(priced.escrow(replicas, duration_epochs))}"
        )
        bid_id = self.market.bid(
            [bytes(parsed)],
            roots=[root],
            size=found,
            slot_count=replicas,
            price_per_epoch=per_slot,
            duration_epochs=duration_epochs,
            origins=list(origins),
        )
        deals: tuple[DealInfo, ...] = ()
        if wait:
            deals = tuple(self.wait_filled(bid_id, timeout=timeout, reporter=rep))
        bid = self.market.get_bid(bid_id)
        return PinResult(
            bid_id=bid_id,
            cid=str(parsed),
            replicas=replicas,
            size=found,
            price_per_epoch=per_slot,
            duration_epochs=duration_epochs,
            escrow=bid.escrow,
            deals=deals,
            root="0x" + root.hex(),
        )

    def possession_of(
        self,
        cid: CID | str,
        gateways: Sequence[str],
        *,
        reporter: Reporter | None = None,
        max_size: int | None = None,
    ) -> tuple[int, bytes]:
        """``(size, possession root)`` of a public UnixFS file, read once from ``gateways``.

        Every block is verified against its CID as it arrives (a gateway that lies is dropped),
        into a temporary block store that is deleted afterwards. With ``max_size``, the read
        stops with :class:`DagTooBigError` as soon as more than that many bytes of blocks came.
        """
        from scatter.formats.possession import root_of_cid
        from scatter.ipfs.embedded import EmbeddedBlockStore
        from scatter.ipfs.gateway.client import GatewayClient

        rep = reporter or SilentReporter()
        root_cid = CID.decode(cid) if isinstance(cid, str) else cid
        if not gateways:
            raise ScatterValueError(
                f"give an origin gateway that serves {root_cid} (--origin URL): the bid commits to the "
                "content's possession root, which the SDK computes from the content"
            )

        async def fetch(store: EmbeddedBlockStore, advance: Callable[[int], object]) -> None:
            read = 0

            def counted(n: int) -> None:
                nonlocal read
                read += n
                if max_size is not None and read > max_size:
                    raise DagTooBigError(f"{root_cid}: read over {max_size} bytes of blocks; stopped there")
                advance(n)

            async with GatewayClient(list(gateways), timeout=30.0) as gw:
                await gw.fetch_dag(root_cid, store, pin=False, prefer_car=True, progress=counted)

        with tempfile.TemporaryDirectory(prefix="scatter-pin-") as tmp:
            store = EmbeddedBlockStore(Path(tmp) / "blocks", durable=False)
            rep.step(f"reading {root_cid} once from {gateways[0]} to compute its possession root")
            with rep.bar(f"fetching {root_cid}", 0) as advance:
                try:
                    run_blocking(fetch(store, advance))
                except DagTooBigError:
                    raise
                except ScatterError as exc:
                    raise ScatterConnectionError(
                        f"could not read {root_cid} from {', '.join(gateways)}: {exc}"
                    ) from exc
            size, root = root_of_cid(store, root_cid)
        return size, root

    def wait_filled(
        self, bid_id: int, *, timeout: float = 300.0, reporter: Reporter | None = None
    ) -> list[DealInfo]:
        """Wait until every slot of the bid is filled (its hoster proved possession on chain)."""
        rep = reporter or SilentReporter()
        deadline = time.monotonic() + timeout
        rep.step(f"bid {bid_id}: waiting for every slot to be filled")
        while True:
            bid = self.market.get_bid(bid_id)
            active = self._active_deals(bid)
            if len(active) == bid.slot_count:
                epoch = self.market.current_epoch()
                return [self._deal_info(active[s], bid, epoch=epoch) for s in range(bid.slot_count)]
            if time.monotonic() > deadline:
                raise FillTimeoutError(
                    f"bid {bid_id}: {len(active)} of {bid.slot_count} slots filled after {timeout:.0f}s; "
                    f"`scatter status --bid {bid_id}` shows them, `scatter cancel {bid_id}` refunds",
                    bid_id=bid_id,
                    open_slots=bid.open_slot_indexes(),
                )
            time.sleep(POLL)

    #: The name of :meth:`wait_filled` before Market version 2.
    wait_pinned = wait_filled
