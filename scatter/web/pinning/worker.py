"""The worker: turns pin requests into bids on the market, paid from the node's wallet.

One thread makes every spending decision, in order, so that a token's spend cap is
checked against everything it spent before. A pin's life:

==========  ==================================================================
``queued``  accepted; waiting for the worker (or for its content to be reachable)
``pinning`` the content is being read (the bid commits to its possession root),
            or the bid is posted and not every replica is filled yet
``pinned``  every replica's slot is filled: its hoster proved possession on chain
``failed``  no origin served the content, it is too big, the token's spend cap
            or the wallet ran out, or no hoster filled a slot in ``fill_timeout``
==========  ==================================================================

``info`` carries ``status_details``, ``bid_id``, ``replicas`` (filled/wanted),
``dag_size`` and ``escrow_wei``. A pinned pin is **renewed**: once its deals come within
``renew_before`` of their end, a new bid for the same content (same replicas, the current
default price) is charged to the token and posted as the first was (crash-safe the same way);
the pin stays ``pinned`` while the old deals hold it and ``info.bid_id`` names the newest bid.
A removed (or replaced) pin's open slots (of every bid it made) are cancelled and their escrow
comes back to the wallet and to the token's budget; filled deals run to their end (the Market
has no early termination by the client).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from scatter.chain.tx import rpc_guard
from scatter.errors import ScatterError
from scatter.sdk.pin import DagTooBigError
from scatter.sdk.pricing import price_bid
from scatter.web.pinning.addresses import endpoint_multiaddr, origin_urls
from scatter.web.pinning.settings import PinSettings
from scatter.web.pinning.store import NotRenewableError, PinRecord, PinStore, SpendCapError

if TYPE_CHECKING:
    from scatter.client import Scatter

log = logging.getLogger("scatter.pins")

RECHECK_PINNED_MS = 60_000  # a pinned pin is looked at again this often (a lost replica: pinning)
RETRY_BASE_MS = 5_000  # the first retry of an unreachable origin; doubled each time
_NO_ORIGIN = (
    "no origin the node can read: give an HTTP(S) origin (/dns4/HOST/tcp/443/https or https://HOST) "
    "that serves the CID"
)


@dataclass(frozen=True)
class Quote:
    """What a bid for the content costs, from its size and the node's settings."""

    size: int
    root: bytes
    price_per_slot: int  # wei per slot per epoch
    epochs: int
    escrow: int  # price_per_slot x replicas x epochs


@dataclass(frozen=True)
class Progress:
    slots: int
    filled: int  # slots with a live deal
    open: int  # slots still open (a hoster may fill them)
    endpoints: tuple[str, ...]  # the filling hosters' HTTP endpoints
    epochs_left: int | None = None  # epochs until the first live deal ends (None: no live deal)


class Backend(Protocol):
    """The market as the worker uses it (:class:`SdkBackend` over the SDK; tests use a fake)."""

    def quote(self, cid: str, gateways: Sequence[str], settings: PinSettings) -> Quote: ...

    def renewal_quote(self, bid_id: int, settings: PinSettings) -> Quote:
        """A bid for the content of ``bid_id`` again (its size and root), at today's price."""
        ...

    def renew_margin(self, settings: PinSettings) -> int:
        """``settings.renew_before`` in epochs."""
        ...

    def post(self, cid: str, quote: Quote, replicas: int, origins: Sequence[str]) -> int: ...

    def progress(self, bid_id: int) -> Progress: ...

    def cancel(self, bid_id: int) -> tuple[int, bool]:
        """(wei refunded, whether every open slot is now closed)."""
        ...

    def head(self) -> int:
        """The chain's latest block number."""
        ...

    def find_posted(self, cid: str, from_block: int, exclude: set[int]) -> int | None:
        """A bid of the node's wallet for ``cid`` posted since ``from_block``, not in ``exclude``."""
        ...


class SdkBackend:
    """:class:`Backend` over :class:`scatter.Scatter` (the node's wallet is the SDK's account)."""

    def __init__(self, sdk: Scatter) -> None:
        self.sdk = sdk

    def quote(self, cid: str, gateways: Sequence[str], settings: PinSettings) -> Quote:
        size, root = self.sdk.possession_of(cid, gateways, max_size=settings.max_size)
        return self._priced(cid, size, root, settings)

    def renewal_quote(self, bid_id: int, settings: PinSettings) -> Quote:
        bid = self.sdk.market.get_bid(bid_id)
        return self._priced(f"bid {bid_id}", bid.size, self.sdk.market.slot_root(bid_id, 0), settings)

    def renew_margin(self, settings: PinSettings) -> int:
        return settings.renew_margin(self.sdk.epochs(settings.duration), self.sdk.epochs)

    def _priced(self, what: str, size: int, root: bytes, settings: PinSettings) -> Quote:
        epochs = self.sdk.epochs(settings.duration)
        price = price_bid(
            self.sdk.w3, self.sdk.params, size=size, duration=epochs, per_gib_epoch=settings.price
        )
        if price.below_break_even:
            log.warning("pin %s: %s", what, price.below_break_even_message())
        per_slot = price.per_slot_epoch
        return Quote(size, root, per_slot, epochs, per_slot * settings.replicas * epochs)

    def post(self, cid: str, quote: Quote, replicas: int, origins: Sequence[str]) -> int:
        from multiformats import CID

        return self.sdk.market.bid(
            [bytes(CID.decode(cid))],
            roots=[quote.root],
            size=quote.size,
            slot_count=replicas,
            price_per_epoch=quote.price_per_slot,
            duration_epochs=quote.epochs,
            origins=list(origins),
        )

    def progress(self, bid_id: int) -> Progress:
        bid, deals = self.sdk.bid_status(bid_id, ask_hosters=False)
        live = {d.slot: d for d in deals if d.live}
        now = self.sdk.market.current_epoch() if live else 0
        return Progress(
            slots=bid.slot_count,
            filled=len(live),
            open=len(bid.open_slots),
            endpoints=tuple(dict.fromkeys(d.endpoint for d in live.values() if d.endpoint)),
            epochs_left=min((d.end_epoch - now for d in live.values()), default=None),
        )

    def head(self) -> int:
        return int(rpc_guard("reading the block number", lambda: self.sdk.w3.eth.block_number))

    def find_posted(self, cid: str, from_block: int, exclude: set[int]) -> int | None:
        from multiformats import CID

        want = [bytes(CID.decode(cid))]
        event = self.sdk.market.contract.events.BidPosted()
        logs = rpc_guard(
            "reading BidPosted events",
            lambda: event.get_logs(from_block=from_block, argument_filters={"client": self.sdk.address}),
        )
        for entry in logs:
            bid_id = int(entry["args"]["bidId"])
            if bid_id not in exclude and [bytes(c) for c in entry["args"]["cids"]] == want:
                return bid_id
        return None

    def cancel(self, bid_id: int) -> tuple[int, bool]:
        bid = self.sdk.market.get_bid(bid_id)
        if not bid.open_slot_indexes():
            return 0, True
        result = self.sdk.cancel(bid_id)
        return result.refund, not result.reserved_slots


class PinWorker:
    """Advances pins in the store; :meth:`run_once` is one pass, :meth:`start` a thread of passes."""

    def __init__(self, store: PinStore, backend: Backend, settings: PinSettings) -> None:
        self.store = store
        self.backend = backend
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PinWorker:
        self._thread = threading.Thread(target=self._loop, name="scatter-pins", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a pass that failed is retried on the next; the thread must live
                log.exception("pinning worker pass failed")
            self._stop.wait(self.settings.poll_interval)

    def run_once(self, now_ms: int | None = None) -> int:
        """Settle removals, then advance every due pin; returns how many pins were looked at."""
        seen = 0
        for rec in self.store.unsettled_removals():
            self._settle_removal(rec)
            seen += 1
        for rec in self.store.due(now_ms if now_ms is not None else _now_ms()):
            if self._stop.is_set():
                break
            now = now_ms if now_ms is not None else _now_ms()
            try:
                self._advance(rec, now)
            except Exception as exc:  # the chain node away, or a bug: this pin waits, the others go on
                trace = not isinstance(exc, ScatterError)
                log.warning("pin %s: %s", rec.requestid, _line(exc), exc_info=trace)
                info = {**rec.info, "status_details": f"retrying: {_line(exc)}"}
                self.store.update(rec.requestid, next_try=now + RETRY_BASE_MS, info=info)
            seen += 1
        return seen

    # ------------------------------------------------------------------ steps

    def _advance(self, rec: PinRecord, now: int) -> None:
        if rec.bid_id is None:
            self._buy(rec, now)
        elif rec.renew_block is not None:  # charged for a renewal whose bid's id is not recorded
            self._follow(self._recover_renewal(rec, now), now)
        else:
            self._follow(rec, now)

    def _recover_renewal(self, rec: PinRecord, now: int) -> PinRecord:
        """A renewal charged but with no bid id recorded (a crash or a lost receipt): the bid found
        on chain is recorded, else the charge is released. Returns the pin as stored after."""
        assert rec.renew_block is not None
        found = self.backend.find_posted(rec.pin.cid, rec.renew_block, self.store.known_bids())
        if found is None:
            self.store.release_renewal(rec)
        else:
            log.info("pin %s: found its renewal bid %s, posted before a restart", rec.requestid, found)
            self.store.record_renewal(rec, found, now)
        return self.store.record(rec.requestid)

    def _buy(self, rec: PinRecord, now: int) -> None:
        s = self.settings
        if rec.bid_block is not None and self._recover(rec, now):
            return
        gateways = [*origin_urls(rec.pin.origins, allow_private=s.allow_private_origins), *s.gateways]
        if not gateways:
            self._fail(rec, "NO_ORIGIN", _NO_ORIGIN)
            return
        reading = f"reading the content once from {len(gateways)} origin(s) to compute its possession root"
        self.store.update(rec.requestid, status="pinning", info={"status_details": reading})
        try:
            quote = self.backend.quote(rec.pin.cid, gateways, s)
        except DagTooBigError as exc:
            self._fail(rec, "DAG_TOO_BIG", _line(exc))
            return
        except ScatterError as exc:
            self._retry_or_fail(rec, now, "CONTENT_UNREACHABLE", exc)
            return
        if quote.size > s.max_size:
            self._fail(rec, "DAG_TOO_BIG", f"{quote.size} bytes; this node pins at most {s.max_size}")
            return
        if rec.bid_block is not None:  # charged before a crash or a failed send, and no bid is out
            self.store.release_charge(rec)
        try:
            self.store.charge_for_bid(rec, quote.escrow, self.backend.head())
        except SpendCapError as exc:
            self._fail(rec, "INSUFFICIENT_FUNDS", str(exc))
            return
        try:
            bid_id = self.backend.post(rec.pin.cid, quote, s.replicas, gateways)
        except ScatterError as exc:
            # the transaction may still be mined (a lost receipt): the next pass looks for it first
            self._retry_or_fail(self.store.record(rec.requestid), now, "BID_FAILED", exc)
            return
        self._posted(rec, bid_id, quote.escrow, now, {"dag_size": str(quote.size)})

    def _recover(self, rec: PinRecord, now: int) -> bool:
        """After a crash (or a send that failed) between charging a bid and recording its id: find
        the bid if it went out, rather than post a second one."""
        found = self._unrecorded_bid(rec)
        if found is None:
            return False
        log.info("pin %s: found its bid %s, posted before a restart", rec.requestid, found)
        self._posted(rec, found, rec.escrow, now, {})
        return True

    def _unrecorded_bid(self, rec: PinRecord) -> int | None:
        """The bid of ``rec`` sent since its ``bid_block`` (and held by no other pin), if it is out."""
        assert rec.bid_block is not None
        return self.backend.find_posted(rec.pin.cid, rec.bid_block, self.store.known_bids())

    def _posted(self, rec: PinRecord, bid_id: int, escrow: int, now: int, extra: dict[str, str]) -> None:
        s = self.settings
        self.store.update(
            rec.requestid,
            status="pinning",
            bid_id=bid_id,
            attempts=0,
            next_try=now,
            info={
                "status_details": f"bid {bid_id} posted: waiting for hosters to fill {s.replicas} slots",
                "bid_id": str(bid_id),
                **extra,
                "escrow_wei": str(escrow),
                "replicas": f"0/{s.replicas}",
            },
        )

    def _retry_or_fail(self, rec: PinRecord, now: int, reason: str, exc: ScatterError) -> None:
        attempts = rec.attempts + 1
        if attempts >= self.settings.fetch_attempts:
            if rec.bid_block is not None:
                if self._recover(rec, now):
                    return
                self.store.release_charge(rec)
            self._fail(rec, reason, f"after {attempts} attempts: {_line(exc)}")
            return
        details = f"attempt {attempts} of {self.settings.fetch_attempts}: {_line(exc)}"
        retry = now + RETRY_BASE_MS * 2 ** (attempts - 1)
        info = {"status_details": details}
        self.store.update(rec.requestid, status="queued", attempts=attempts, next_try=retry, info=info)

    def _follow(self, rec: PinRecord, now: int) -> None:
        assert rec.bid_id is not None
        p = self.backend.progress(rec.bid_id)
        info = {**rec.info, "replicas": f"{p.filled}/{p.slots}"}
        delegates = tuple(m for m in (endpoint_multiaddr(e) for e in p.endpoints) if m)[:20]
        if p.filled == p.slots:
            info["status_details"] = f"every replica is held under a deal of bid {rec.bid_id}"
            again = now + RECHECK_PINNED_MS
            self.store.update(rec.requestid, status="pinned", info=info, delegates=delegates, next_try=again)
            if p.epochs_left is not None and p.epochs_left <= self.backend.renew_margin(self.settings):
                self._renew(self.store.record(rec.requestid), now)
            return
        if rec.prev_bids:  # a renewal bid is filling: the deals of the bid it renews may hold the pin
            old = self.backend.progress(rec.prev_bids[-1])
            if old.filled == old.slots:
                info["status_details"] = (
                    f"every replica is held under a deal of bid {rec.prev_bids[-1]} "
                    f"({old.epochs_left} epochs left); its renewal, bid {rec.bid_id}: "
                    f"{p.filled} of {p.slots} replicas filled"
                )
                again = now + int(self.settings.poll_interval * 1000)
                self.store.update(rec.requestid, status="pinned", info=info, next_try=again)
                return
        waited = now - (rec.renewed or rec.created)
        if p.filled == 0 and (p.open == 0 or waited > self.settings.fill_timeout * 1000):
            refund, _closed = self.backend.cancel(rec.bid_id)
            self.store.refund(rec.token_id, refund)
            why = "its slots closed" if p.open == 0 else f"no hoster filled a slot in {waited // 1000} s"
            self._fail(rec, "NOT_FILLED", f"bid {rec.bid_id}: {why}; its escrow was refunded")
            return
        info["status_details"] = f"bid {rec.bid_id}: {p.filled} of {p.slots} replicas filled"
        again = now + int(self.settings.poll_interval * 1000)
        self.store.update(rec.requestid, status="pinning", info=info, delegates=delegates, next_try=again)

    def _renew(self, rec: PinRecord, now: int) -> None:
        """Bid again for a pinned pin whose deals end within ``renew_before``: charged to its token as
        the first bid was (past the cap the pin fails and nothing is bid), then posted."""
        assert rec.bid_id is not None
        s = self.settings
        quote = self.backend.renewal_quote(rec.bid_id, s)
        try:
            self.store.charge_for_renewal(rec, quote.escrow, self.backend.head())
        except NotRenewableError:
            return  # removed since this pass began (settled next), or its token revoked: runs to its end
        except SpendCapError as exc:
            self._fail(rec, "INSUFFICIENT_FUNDS", f"renewing bid {rec.bid_id}: {exc}")
            return
        gateways = [*origin_urls(rec.pin.origins, allow_private=s.allow_private_origins), *s.gateways]
        try:
            bid_id = self.backend.post(rec.pin.cid, quote, s.replicas, gateways)
        except ScatterError as exc:  # maybe mined (a lost receipt): the next pass looks for it first
            log.warning("pin %s: renewal bid failed: %s", rec.requestid, _line(exc))
            info = {**rec.info, "status_details": f"renewal of bid {rec.bid_id}: retrying: {_line(exc)}"}
            self.store.update(rec.requestid, info=info, next_try=now + RETRY_BASE_MS)
            return
        self.store.record_renewal(rec, bid_id, now)
        log.info("pin %s: bid %s renews bid %s", rec.requestid, bid_id, rec.bid_id)
        info = {
            **self.store.record(rec.requestid).info,
            "status_details": f"bid {bid_id} posted to renew bid {rec.bid_id}, whose deals end soon",
            "bid_id": str(bid_id),
            "escrow_wei": str(quote.escrow),
        }
        self.store.update(rec.requestid, info=info, next_try=now)

    def _settle_removal(self, rec: PinRecord) -> None:
        if rec.bid_id is None and rec.bid_block is not None:  # a bid may be out, its id unrecorded
            found = self._unrecorded_bid(rec)
            if found is None:
                self.store.release_charge(rec)
                self.store.update(rec.requestid, settled=True)
                return
            self.store.update(rec.requestid, bid_id=found)
            rec = self.store.record(rec.requestid)
        if rec.renew_block is not None:  # a renewal bid may be out, its id unrecorded
            rec = self._recover_renewal(rec, _now_ms())
        if rec.bid_id is None or (rec.status == "failed" and not rec.prev_bids):
            self.store.update(rec.requestid, settled=True)
            return
        closed = True
        for bid_id in (*rec.prev_bids, rec.bid_id):
            try:
                refund, bid_closed = self.backend.cancel(bid_id)
            except Exception as exc:  # tried again on the next pass
                log.warning("pin %s: cancelling bid %s failed: %s", rec.requestid, bid_id, _line(exc))
                return
            self.store.refund(rec.token_id, refund)
            closed = closed and bid_closed
        self.store.update(rec.requestid, settled=closed)

    def _fail(self, rec: PinRecord, reason: str, details: str) -> None:
        log.info("pin %s of %s failed: %s: %s", rec.requestid, rec.pin.cid, reason, details)
        info = {**rec.info, "status_details": f"{reason}: {details}"[:500]}
        self.store.update(rec.requestid, status="failed", info=info)


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
