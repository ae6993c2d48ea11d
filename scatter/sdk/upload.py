"""Upload: store a private file on the market, resumable at every step.

The flow, top-down (one method per step)::

    _session       encode the file once (scatter.formats.pipeline) into an upload session
    _post_bid      a bid naming the shard CIDs, their possession roots and the exact shard size
    _start_entry   the encrypted metadata entry (scatter.formats.metadata + FileRegistry), sent
                   in the background as soon as the bid id is known, while ...
    _push_until_filled
                   each slot's CAR is pushed to the hoster that reserved it (scatter.sdk.push),
                   until every slot is filled with a possession proof (SlotFilled)

Every step is recorded in the upload session (:mod:`scatter.sdk.session`), so
running the same upload again after an interruption carries on where it stopped.
The session has one writer, the thread that runs :meth:`Uploads.upload`: the
entry's thread gets plain values and returns the file id, which that thread records.
:meth:`Uploads.abort_upload` (or cancelling the bid) gives the upload up, and takes
back the entry it recorded if no slot of the bid was ever filled
(:meth:`~scatter.sdk.base.ScatterBase._give_up_uploads`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Container, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multiformats import CID

from scatter.chain.tx import on_loopback, raw_call, rpc_guard
from scatter.daemon.backoff import Backoff
from scatter.errors import ScatterError, ScatterNotFoundError, ScatterValueError
from scatter.formats.manifest_schema import Manifest
from scatter.formats.metadata_schema import FileMetadata, FileVersion
from scatter.formats.params import ErasureParams, parse_shards
from scatter.sdk import units
from scatter.sdk.base import POLL, FillTimeoutError, bits
from scatter.sdk.files import FileEntries
from scatter.sdk.models import CancelResult, DealInfo, Reporter, SilentReporter, UploadResult
from scatter.sdk.pricing import BidPrice, bid_price, positive_price, warn_if_short_of_collateral
from scatter.sdk.session import SlotState, UploadSession, sessions_root
from scatter.units import parse_amount

if TYPE_CHECKING:
    from scatter.chain.market import Bid, Deal

#: Seconds between asking a hoster we pushed to whether it still waits for the content.
_RECHECK = 10.0
#: Seconds before pushing again to a hoster that refused (1, 2, 4, then 5): it may not have seen
#: its reservation yet.
_push_delay = Backoff(initial=1.0, maximum=5.0, jitter=0.0).delays()
#: The Market event of a new bid (naming its CIDs), looked up when resuming a bid sent before a crash.
_POSTED = "BidPosted"
#: Seconds between looks at the chain while waiting for hosters, on a node on this machine
#: (elsewhere POLL): reservations and fills show up within that of their transaction or block.
_LOCAL_POLL = 0.05


def _shard_size(manifest: Manifest) -> int:
    """The exact shard size a bid names (erasure coding makes every shard the same length)."""
    sizes = {s.size for s in manifest.shards}
    if len(sizes) != 1:
        raise ScatterValueError(f"shards of unequal sizes {sorted(sizes)}: re-encode the file")
    return sizes.pop()


def _shards_text(erasure: ErasureParams) -> str:
    return f"{erasure.k}/{erasure.n}/{erasure.codec.value}/{erasure.block_size}"


def erasure_of(shards: tuple[int, int] | str | ErasureParams | None, replicas: int | None) -> ErasureParams:
    """The erasure parameters of ``shards`` (k/n) or ``replicas`` (default: ``SCATTER_SHARDS`` or 3/6)."""
    if replicas is not None:
        if shards is not None:
            raise ScatterValueError("give either shards (k/n) or replicas, not both")
        if replicas < 1:
            raise ScatterValueError("replicas must be at least 1")
        return ErasureParams.replication(replicas)
    if shards is None:
        from scatter.formats.params import erasure_from_env

        return erasure_from_env()
    if isinstance(shards, ErasureParams):
        return shards
    if isinstance(shards, str):
        return parse_shards(shards)
    return parse_shards(f"{shards[0]}/{shards[1]}")


class Uploads(FileEntries):
    """``upload`` (resumable) and ``abort_upload``."""

    def upload(
        self,
        path: str | os.PathLike[str],
        *,
        shards: tuple[int, int] | str | ErasureParams | None = None,
        replicas: int | None = None,
        duration: str | int = units.DEFAULT_DURATION,
        price: str | int | None = None,
        name: str | None = None,
        timeout: float = 300.0,
        reporter: Reporter | None = None,
        replaces: int | None = None,
    ) -> UploadResult:
        """Store a private file: encode, bid, then record the metadata while each shard is pushed
        to its hoster and the slots are filled.

        ``shards`` is k-of-n erasure coding (default 3/6); ``replicas=r`` stores r
        encrypted copies instead. ``duration`` is human (``"30d"``) or seconds;
        ``price`` is wei (or ``"2gwei"``) per GiB of slot per epoch; without it, the
        default pays the hosters' gas (:mod:`scatter.sdk.pricing`). Running the same
        upload again after an interruption or a timeout resumes it. ``replaces``
        makes the upload a new version of an existing file entry.
        """
        rep = reporter or SilentReporter()
        started = time.monotonic()
        src = Path(path)
        if not src.is_file():
            raise ScatterValueError(f"{src} is not a file; give the path of a file to upload")
        erasure = erasure_of(shards, replicas)
        # Check the terms before any work: a typo should cost nothing.
        duration_epochs = self.epochs(duration)
        per_gib = None if price is None else positive_price(parse_amount(price))
        session, resumed = self._session(src, erasure, rep, name=name, replaces=replaces)
        from scatter.formats.pipeline import ensure_roots, load_manifest
        from scatter.sdk.push import car_sha256

        # A session left by an older release holds roots of an older possession format: a bid
        # still to post gets them recomputed (the market would refuse them).
        manifest = (
            ensure_roots(session.directory) if session.bid_id is None else load_manifest(session.directory)
        )
        cars = [session.directory / (s.car or "") for s in manifest.shards]
        shard_size = _shard_size(manifest)
        with ThreadPoolExecutor(len(cars) + 1, thread_name_prefix="scatter-push") as pool:
            # Each CAR's sha256 (signed with its push) is hashed while the bid is mined and reserved.
            digests = [pool.submit(car_sha256, car) for car in cars]
            if session.bid_id is None:
                priced = bid_price(
                    self.w3, self.params, size=shard_size, duration=duration_epochs, per_gib_epoch=per_gib
                )
                self._post_bid(
                    session,
                    [bytes(CID.decode(s.cid)) for s in manifest.shards],
                    list(manifest.roots),
                    shard_size,
                    priced,
                    duration_epochs,
                    rep,
                )
            assert session.bid_id is not None
            bid_id = session.bid_id
            entry = self._start_entry(session, manifest, pool, rep)
            try:
                deals = self._push_until_filled(
                    session, manifest.shards, cars, digests, entry, pool, timeout, rep
                )
            finally:
                wait([entry])  # its transaction is never left behind, nor its file id unrecorded
                self._note_entry(session, entry)
        assert session.file_id is not None
        file_id = session.file_id
        bid = self.market.get_bid(bid_id)
        session.remove()
        return UploadResult(
            file_id=file_id,
            bid_id=bid_id,
            name=manifest.name,
            size=manifest.size,
            sha256=manifest.sha256,
            shards=f"{manifest.erasure.k}/{manifest.erasure.n}",
            cids=tuple(s.cid for s in manifest.shards),
            deals=tuple(deals),
            price_per_epoch=bid.price_per_epoch,
            duration_epochs=bid.duration_epochs,
            escrow=bid.escrow,
            seconds=time.monotonic() - started,
            resumed=resumed,
        )

    def abort_upload(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        session: UploadSession | None = None,
        shards: tuple[int, int] | str | ErasureParams | None = None,
        replicas: int | None = None,
    ) -> CancelResult | None:
        """Give up an unfinished upload: cancel its open slots (refund) and delete its local state.

        Its metadata entry, if recorded, goes too when no slot of the bid was ever filled and none
        is left open (a new version is taken back out of the file's entry); otherwise it stays, and
        ``ls`` shows the health of what is stored."""
        if session is None:
            if path is None:
                raise ScatterValueError("give the path of the upload to abort")
            src = Path(path)
            directory = self._session_directory(src, erasure_of(shards, replicas))
            if not (directory / "session.json").is_file():
                raise ScatterNotFoundError(f"no unfinished upload of {src} with these shards")
            session = UploadSession.load(directory)
        if session.bid_id is None:
            session.remove()
            return None
        result = self.cancel(session.bid_id)
        if session.path.is_file():  # no slot could be cancelled (all filled or reserved): cancel left it
            withdrawn = self._give_up_uploads(session.bid_id)
            result = replace(result, withdrawn_file=withdrawn or result.withdrawn_file)
        return result

    def _session_directory(self, src: Path, erasure: ErasureParams) -> Path:
        st = src.stat()
        sid = UploadSession.session_id(
            src,
            st.st_size,
            st.st_mtime_ns,
            _shards_text(erasure),
            self.network.chain_id,
            self.deployment.market,
            self.address,
        )
        return sessions_root(self.state_root) / sid

    def _session(
        self, src: Path, erasure: ErasureParams, rep: Reporter, *, name: str | None, replaces: int | None
    ) -> tuple[UploadSession, bool]:
        st = src.stat()
        directory = self._session_directory(src, erasure)
        if (directory / "session.json").is_file():
            session = UploadSession.load(directory)
            rep.step(f"resuming the upload of {src.name} (stage: {session.stage}, bid: {session.bid_id})")
            return session, True
        from scatter.formats.pipeline import encode_file

        directory.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(directory.parent, 0o700)
        with rep.bar(f"encrypting + encoding {src.name} ({erasure})", st.st_size) as advance:
            encode_file(src, directory, erasure=erasure, name=name, overwrite=True, progress=advance)
        if src.stat().st_mtime_ns != st.st_mtime_ns:
            raise ScatterValueError(f"{src} changed while it was being encoded; upload it again")
        session = UploadSession(
            directory=directory,
            source=str(src.resolve()),
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            shards=_shards_text(erasure),
            chain_id=self.network.chain_id,
            market=self.deployment.market,
            client=self.address,
            replaces=replaces,
            started=time.time(),
        )
        session.save()
        return session, False

    def _post_bid(
        self,
        session: UploadSession,
        cids: list[bytes],
        roots: list[bytes],
        shard_size: int,
        price: BidPrice,
        duration_epochs: int,
        rep: Reporter,
    ) -> None:
        if session.stage == "bidding" and session.bid_block is not None:
            found = self._find_my_bid(cids, session.bid_block)
            if found is not None:
                session.bid_id, session.stage = found, "posted"
                session.save()
                return
        session.stage, session.bid_block = "bidding", self._block()
        session.save()
        escrow = price.escrow(len(cids), duration_epochs)
        warn_if_short_of_collateral(
            self.market,
            self.params,
            per_slot_epoch=price.per_slot_epoch,
            duration=duration_epochs,
            slots=len(cids),
        )
        rep.step(
            f"posting a bid: {len(cids)} slots of {shard_size} bytes for {duration_epochs} epochs at "
            f"{price.describe()}, escrow {units.format_eth(escrow)}"
        )
        session.bid_id = self.market.bid(
            cids,
            roots=roots,
            size=shard_size,
            slot_count=len(cids),
            price_per_epoch=price.per_slot_epoch,
            duration_epochs=duration_epochs,
        )
        session.stage = "posted"
        session.save()

    def _find_my_bid(self, cids: list[bytes], from_block: int) -> int | None:
        """A bid of ours posted since ``from_block`` naming exactly ``cids`` (a bid sent before a crash)."""
        ev = self.market.contract.events[_POSTED]()
        logs = rpc_guard(
            "reading BidPosted events",
            lambda: ev.get_logs(from_block=from_block, argument_filters={"client": self.address}),
        )
        for log in logs:
            if [bytes(c) for c in log["args"]["cids"]] == cids:
                return int(log["args"]["bidId"])
        return None

    def _waits_for_push(self, hoster: str, bid_id: int, slot: int) -> bool:
        """Whether a hoster we pushed to still waits for the content (it lost the push, e.g. in a
        crash before importing it, and reserved the slot again): then the CAR goes again."""
        from scatter.sdk.push import slot_status

        try:
            status = slot_status(self._endpoint(hoster), bid_id, slot, timeout=5.0)
        except ScatterError:
            return False  # unreachable: its reservation will lapse, another hoster takes the slot
        return status is not None and status.state == "reserved" and not status.pinned

    def _push_until_filled(
        self,
        session: UploadSession,
        shard_entries: Sequence[Any],
        cars: list[Path],
        digests: list[Future[bytes]],
        entry: Future[int],
        pool: ThreadPoolExecutor,
        timeout: float,
        rep: Reporter,
    ) -> list[DealInfo]:
        """Push each slot's CAR to the hoster that reserved it, until every slot is filled.

        A hoster reserves a slot (``SlotReserved``), receives the CAR, checks it against the
        slot's CID, size and possession root, and fills the slot with a proof (``SlotFilled``).
        Each CAR goes as soon as its slot is reserved, while other pushes are still in flight.
        A reservation that lapses reopens the slot; the CAR goes to whoever reserves it next.

        On a node on this machine the reservations are read from its pending state: a CAR goes
        as soon as the hoster's ``reserve`` is sent, while it waits for its block (the hoster
        takes the push then, and fills only once the reservation is mined). Fills are read from
        mined blocks only.
        """
        from scatter.sdk.push import push_car

        assert session.bid_id is not None
        bid_id = session.bid_id
        n = len(cars)
        deadline = time.monotonic() + timeout
        rep.step(f"bid {bid_id}: waiting for hosters to reserve the {n} slots")
        sizes = [p.stat().st_size for p in cars]
        errors: dict[int, str] = {}
        retry_at: dict[int, float] = {}
        failures: dict[int, int] = {}  # failed pushes in a row to the slot's current hoster
        asked: dict[int, float] = {}  # slot -> when its hoster last had (or was asked about) the CAR
        inflight: dict[int, tuple[str, Future[dict[str, Any]]]] = {}  # slot -> (hoster, push)
        known: dict[int, Deal] = {}  # deal id -> deal, as read once
        local = on_loopback(self.network.rpc_url)
        with rep.bar(f"pushing shards of bid {bid_id}", sum(sizes)) as advance:
            advance(sum(sizes[s] for s, st in session.slots.items() if st.pushed or st.filled))
            while True:
                news = self._chain_news(local)  # before the reads: they see at least this
                self._note_entry(session, entry)
                for slot, (hoster, fut) in list(inflight.items()):
                    if not fut.done():
                        continue
                    del inflight[slot]
                    state = session.slots[slot]
                    if state.hoster is None or state.hoster.lower() != hoster.lower():
                        continue  # the slot changed hands meanwhile
                    try:
                        fut.result()
                    except ScatterError as exc:
                        # The hoster may not have seen its reservation yet: back off, then push again.
                        errors[slot] = str(exc)
                        retry_at[slot] = time.monotonic() + _push_delay(failures.get(slot, 0))
                        failures[slot] = failures.get(slot, 0) + 1
                        continue
                    state.pushed = True
                    asked[slot] = time.monotonic()  # it has the CAR now: ask again in _RECHECK seconds
                    errors.pop(slot, None)
                    session.save()
                    advance(sizes[slot])
                bid = self.market.get_bid(bid_id)
                active = self._filled_deals(bid, known)
                if len(active) == n:
                    active = self._active_deals(bid)  # confirmed with every deal read afresh
                for slot, deal in active.items():
                    state = session.slots.setdefault(slot, SlotState())
                    if not state.filled or state.deal_id != deal.deal_id:
                        if not (state.pushed or state.filled):
                            advance(sizes[slot])  # filled without our push (a healer)
                        state.hoster, state.deal_id, state.filled = deal.hoster, deal.deal_id, True
                        errors.pop(slot, None)
                        session.save()
                if len(active) == n:
                    break
                now = time.monotonic()
                at = "pending" if local else "latest"  # reservations: see above
                reserved = self.market.get_bid(bid_id, block=at) if local else bid
                for slot, hoster in self._reserved_to_push(reserved, session, inflight, asked, at).items():
                    if slot in active:
                        continue
                    state = session.slots.setdefault(slot, SlotState())
                    if state.hoster is None or state.hoster.lower() != hoster.lower():
                        state.hoster, state.pushed, state.filled, state.deal_id = hoster, False, False, None
                        retry_at.pop(slot, None)
                        failures.pop(slot, None)
                        session.save()
                    if state.pushed and now - asked.get(slot, 0.0) > _RECHECK:
                        asked[slot] = now
                        state.pushed = not self._waits_for_push(hoster, bid_id, slot)
                    if not state.pushed and retry_at.get(slot, 0.0) <= now:
                        push = pool.submit(
                            push_car,
                            self._endpoint(hoster),
                            bid_id,
                            slot,
                            bytes(CID.decode(shard_entries[slot].cid)),
                            cars[slot],
                            account=self.account,
                            chain_id=self.network.chain_id,
                            market=self.deployment.market,
                            digest=digests[slot].result(),
                        )
                        inflight[slot] = (hoster, push)
                if time.monotonic() > deadline:
                    waiting = [s for s in range(n) if s not in active]
                    detail = "; ".join(f"slot {s}: {errors[s][:160]}" for s in waiting if s in errors)
                    raise FillTimeoutError(
                        f"bid {bid_id}: slots {waiting} not reserved, pushed and filled within {timeout:.0f}s"
                        + (f" ({detail})" if detail else "")
                        + f"; run the same upload again to keep waiting, or `scatter upload --abort` "
                        f"(or `scatter cancel {bid_id}`) to take back the escrow of open slots",
                        bid_id=bid_id,
                        open_slots=bid.open_slot_indexes(),
                    )
                self._wait_for_news(news, local, [f for _h, f in inflight.values()])
        rep.step(f"bid {bid_id}: all {n} slots filled (each hoster proved possession on chain)")
        return [self._deal_info(active[s], bid) for s in range(n)]

    def _chain_news(self, local: bool) -> tuple[int, int]:
        """What changes when a reservation or a fill may have: the head's number, and on a node
        on this machine the transactions waiting for the next block (its pending block)."""
        if not local:
            return self._block(), 0
        block = rpc_guard(
            "reading the pending block", lambda: raw_call(self.w3, "eth_getBlockByNumber", ["pending", False])
        )
        return int(str(block["number"]), 16), len(block["transactions"])

    def _wait_for_news(
        self, news: tuple[int, int], local: bool, pushes: list[Future[dict[str, Any]]]
    ) -> None:
        """Until a push is answered, the chain has news (:meth:`_chain_news`, looked at every
        ``_LOCAL_POLL`` on this machine) or POLL seconds passed (retries and rechecks go by the clock)."""
        step = _LOCAL_POLL if local else POLL
        until = time.monotonic() + POLL
        while time.monotonic() < until:
            if pushes:
                done, _ = wait(pushes, timeout=step, return_when=FIRST_COMPLETED)
                if done:
                    return
            else:
                time.sleep(step)
            if self._chain_news(local) != news:
                return

    def _filled_deals(self, bid: Bid, known: dict[int, Deal]) -> dict[int, Deal]:
        """slot -> its active deal, for the bid's slots that are neither open nor closed; a deal is
        read once (``known``), and the events only when a slot was filled by a deal not seen yet."""
        from scatter.chain.market import DealStatus

        unfilled = bid.open_slots | bid.closed_slots
        filled = [s for s in range(bid.slot_count) if not unfilled >> s & 1]
        latest: dict[int, Deal] = {}
        for deal in sorted(known.values(), key=lambda d: d.deal_id):
            latest[deal.slot] = deal
        if any(s not in latest for s in filled):
            for log in self._slot_filled_logs(bid):
                deal_id = int(log["args"]["dealId"])
                if deal_id not in known:
                    known[deal_id] = deal = self.market.get_deal(deal_id)
                    if deal.deal_id >= latest.get(deal.slot, deal).deal_id:
                        latest[deal.slot] = deal
        return {s: latest[s] for s in filled if s in latest and latest[s].status == DealStatus.ACTIVE}

    def _reserved_to_push(
        self,
        bid: Bid,
        session: UploadSession,
        inflight: Container[int],
        asked: dict[int, float],
        block: str = "latest",
    ) -> dict[int, str]:
        """slot -> the hoster holding it, for the reserved slots that may need a push: not those
        being pushed, and those already pushed only when due for a recheck (every ``_RECHECK``).
        ``bid`` and the reservations as of ``block``."""
        now = time.monotonic()
        held: dict[int, str] = {}
        for slot in bits(bid.reserved_slots & bid.open_slots, bid.slot_count):
            state = session.slots.get(slot)
            if slot in inflight or (
                state is not None and state.pushed and now - asked.get(slot, 0.0) <= _RECHECK
            ):
                continue
            reservation = self.market.reservation_of(bid.bid_id, slot, block=block)
            if reservation.held:
                held[slot] = reservation.hoster
        return held

    def _start_entry(
        self, session: UploadSession, manifest: Manifest, pool: ThreadPoolExecutor, rep: Reporter
    ) -> Future[int]:
        """Send the metadata entry in the background: it needs only the bid id, so it is mined
        while the shards are pushed. The session says ``recording`` before anything is sent, so
        that after a crash the entry is looked for (``_find_my_entry``) before it is sent again."""
        assert session.bid_id is not None
        if session.file_id is not None:
            recorded: Future[int] = Future()
            recorded.set_result(session.file_id)
            return recorded
        # Sent already, before a crash? Then it is looked for from the bid's block.
        look_from = (session.bid_block or self.deployment.block) if session.stage == "recording" else None
        session.stage = "recording"
        session.save()
        version = manifest.file_version(bid_id=session.bid_id, created=int(time.time()))
        return pool.submit(self._send_entry, manifest, version, session.replaces, look_from, rep)

    def _note_entry(self, session: UploadSession, entry: Future[int]) -> None:
        """Once the entry is mined, record its file id (raising the error of its thread, if any)."""
        if session.file_id is None and entry.done():
            session.file_id, session.stage = entry.result(), "recorded"
            session.save()

    def _send_entry(
        self,
        manifest: Manifest,
        version: FileVersion,
        replaces: int | None,
        look_from: int | None,
        rep: Reporter,
    ) -> int:
        """The entry's thread: add the file's entry (or the new version of ``replaces``) unless it is
        there already; returns its file id. It never touches the session (see the module's doc)."""
        from scatter.formats.metadata import decrypt_metadata

        if replaces is not None:
            old = decrypt_metadata(self.metadata_key, self.files.metadata(replaces))
            if any(v.bid_id == version.bid_id for v in (old.current, *old.history)):
                return replaces
            record = old.with_new_version(version)
            rep.step(f"recording version {len(record.history) + 1} of file {replaces}")
            self.files.replace(replaces, self._seal(record))
            rep.step(f"recorded the entry of file {replaces}")
            return replaces
        if look_from is not None:
            found = self._find_my_entry(version.bid_id, look_from)
            if found is not None:
                return found
        rep.step("recording the encrypted metadata entry")
        record = FileMetadata(name=manifest.name, media_type=manifest.media_type, current=version)
        file_id = self.files.add(self._seal(record))
        rep.step(f"recorded the entry of file {file_id}")
        return file_id
