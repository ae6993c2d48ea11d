"""The Scatter SDK: store, share and get back files on the market; the CLI and the web API wrap it.

A private file goes top-down through the library::

    encode (scatter.formats.pipeline: encrypt -> erasure-code -> UnixFS CIDs + CARs
            + each shard's possession root)
    -> bid (scatter.chain.market: CIDs, roots, exact shard size)
    -> wait for a hoster to reserve each slot (SlotReserved)
    -> push the slot's CAR to that hoster (scatter.sdk.push)
    -> wait for the hoster to fill the slot with a possession proof (SlotFilled)
    -> encrypted metadata entry (scatter.formats.metadata + scatter.chain.files)

and comes back with :meth:`Scatter.download` (any k shards from the hosters'
gateways, scatter.sdk.fetch). Every step of an upload is recorded in an upload
session (scatter.sdk.session), so running the same upload again after an
interruption carries on where it stopped.

Example::

    from scatter import Scatter

    sc = Scatter.connect()                       # dev network, or SCATTER_RPC_URL + SCATTER_PRIVATE_KEY
    up = sc.upload("report.pdf", shards=(3, 6), duration="30d")
    sc.download(up.file_id, "copy.pdf")
    link = sc.share(up.file_id)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from multiformats import CID
from web3 import Web3
from web3.logs import DISCARD

from scatter.chain.deployments import Deployment
from scatter.chain.files import FileRegistry
from scatter.chain.market import Bid, Deal, DealStatus, Market, NodeStatus, Role
from scatter.chain.params import MarketParams
from scatter.chain.tx import Transactor, rpc_guard
from scatter.errors import (
    ContractError,
    ScatterConnectionError,
    ScatterError,
    ScatterNotFoundError,
    ScatterTimeoutError,
    ScatterValueError,
)
from scatter.formats.manifest_schema import Manifest
from scatter.formats.metadata_schema import FileMetadata, FileVersion
from scatter.formats.params import ErasureParams, parse_shards
from scatter.sdk import units
from scatter.sdk.health import HealthWarning
from scatter.sdk.models import (
    Balance,
    BidInfo,
    CancelResult,
    DealInfo,
    DownloadResult,
    ExtendResult,
    FileHealth,
    FileInfo,
    FileStatus,
    MarketStatus,
    NodeInfo,
    PinResult,
    RemoveResult,
    Reporter,
    SilentReporter,
    UploadResult,
    WithdrawResult,
)
from scatter.sdk.network import Network, resolve_account, resolve_deployment, resolve_rpc_url
from scatter.sdk.session import SlotState, UploadSession, list_sessions, sessions_root
from scatter.units import parse_amount

__all__ = ["AcceptTimeoutError", "FillTimeoutError", "HealthWarning", "Scatter"]

_POLL = 0.5
#: Seconds between asking a hoster we pushed to whether it still waits for the content.
_RECHECK = 10.0
_SHARE_PREFIXES = ("scatter:file?", "https://")
#: Market events the SDK reads (Market VERSION 2).
_FILLED = "SlotFilled"
_POSTED = "BidPosted"


class FillTimeoutError(ScatterTimeoutError):
    """Slots of a bid were not all reserved, pushed and filled in time."""

    def __init__(self, message: str, *, bid_id: int, open_slots: Sequence[int]) -> None:
        super().__init__(message)
        self.bid_id = bid_id
        self.open_slots = tuple(open_slots)


#: The name of :class:`FillTimeoutError` before Market version 2 (slots were "accepted").
AcceptTimeoutError = FillTimeoutError


def _cid_text(raw: bytes) -> str:
    return str(CID.decode(bytes(raw)).set(base="base32"))


def _bits(mask: int, count: int) -> list[int]:
    return [i for i in range(count) if mask >> i & 1]


def _shard_size(manifest: Manifest) -> int:
    """The exact shard size a bid names (erasure coding makes every shard the same length)."""
    sizes = {s.size for s in manifest.shards}
    if len(sizes) != 1:
        raise ScatterValueError(f"shards of unequal sizes {sorted(sizes)}: re-encode the file")
    return sizes.pop()


class Scatter:
    """A client of one Scatter deployment, signing with one account."""

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

    @classmethod
    def connect(
        cls,
        rpc_url: str | None = None,
        *,
        private_key: str | None = None,
        keystore: Path | None = None,
        password: str | None = None,
        dev_account: int | None = None,
        state_root: Path | None = None,
        gateways: Sequence[str] = (),
    ) -> Scatter:
        """Connect to the chain (argument, ``SCATTER_RPC_URL``, ``./.scatter/dev/dev.json``, localhost)
        and load the account (argument, ``SCATTER_PRIVATE_KEY``/keystore, dev account 1 on the dev chain)."""
        from scatter.chain.deploy import connect

        url, summary = resolve_rpc_url(rpc_url)
        try:
            w3 = connect(url)
        except ScatterConnectionError as exc:
            if rpc_url is not None or os.environ.get("SCATTER_RPC_URL"):
                raise
            where = "the dev network of this directory" if summary is not None else "the default local node"
            raise ScatterConnectionError(
                f"{where} ({url}) does not answer: start it with `scatter dev`, "
                "or give --rpc-url / SCATTER_RPC_URL"
            ) from exc
        chain_id = rpc_guard("reading chain id", lambda: w3.eth.chain_id)
        deployment = resolve_deployment(chain_id, summary)
        is_dev = summary is not None and int(summary.get("chainId", -1)) == chain_id
        account = resolve_account(
            private_key=private_key,
            keystore=keystore,
            password=password,
            dev_account=dev_account,
            on_dev_chain=is_dev,
        )
        return cls(Network(w3, url, deployment, is_dev), account, state_root=state_root, gateways=gateways)

    # ------------------------------------------------------------------ basics

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

    # ------------------------------------------------------------------ upload

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
        """Store a private file: encode, bid, push each shard to its hoster, record the metadata.

        ``shards`` is k-of-n erasure coding (default 3/6); ``replicas=r`` stores r
        encrypted copies instead. ``duration`` is human (``"30d"``) or seconds;
        ``price`` is wei (or ``"2gwei"``) per GiB of slot per epoch. Running the same
        upload again after an interruption or a timeout resumes it. ``replaces``
        makes the upload a new version of an existing file entry.
        """
        rep = reporter or SilentReporter()
        started = time.monotonic()
        src = Path(path)
        if not src.is_file():
            raise ScatterValueError(f"{src} is not a file; give the path of a file to upload")
        erasure = self._erasure(shards, replicas)
        # Check the terms before any work: a typo should cost nothing.
        duration_epochs = self.epochs(duration)
        per_gib = units.DEFAULT_PRICE_PER_GIB_EPOCH if price is None else parse_amount(price)
        session, resumed = self._session(src, erasure, rep, name=name, replaces=replaces)
        from scatter.formats.pipeline import load_manifest

        manifest = load_manifest(session.directory)
        cars = [session.directory / (s.car or "") for s in manifest.shards]
        shard_size = _shard_size(manifest)
        if session.bid_id is None:
            per_slot = units.slot_price(per_gib, shard_size)
            self._post_bid(
                session,
                [bytes(CID.decode(s.cid)) for s in manifest.shards],
                list(manifest.roots),
                shard_size,
                per_slot,
                duration_epochs,
                rep,
            )
        assert session.bid_id is not None
        bid_id = session.bid_id
        deals = self._push_until_filled(session, manifest.shards, cars, timeout, rep)
        file_id = self._record_metadata(session, manifest, rep)
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

    def pending_uploads(self) -> list[UploadSession]:
        """Unfinished uploads of this account on this deployment (run the same upload to resume)."""
        return [
            s
            for s in list_sessions(self.state_root)
            if s.chain_id == self.network.chain_id
            and s.market.lower() == self.deployment.market.lower()
            and s.client.lower() == self.address.lower()
        ]

    def abort_upload(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        session: UploadSession | None = None,
        shards: tuple[int, int] | str | ErasureParams | None = None,
        replicas: int | None = None,
    ) -> CancelResult | None:
        """Give up an unfinished upload: cancel its open slots (refund) and delete its local state."""
        if session is None:
            if path is None:
                raise ScatterValueError("give the path of the upload to abort")
            src = Path(path)
            st = src.stat()
            erasure = self._erasure(shards, replicas)
            sid = UploadSession.session_id(
                src,
                st.st_size,
                st.st_mtime_ns,
                self._shards_text(erasure),
                self.network.chain_id,
                self.deployment.market,
                self.address,
            )
            directory = sessions_root(self.state_root) / sid
            if not (directory / "session.json").is_file():
                raise ScatterNotFoundError(f"no unfinished upload of {src} with these shards")
            session = UploadSession.load(directory)
        result = self.cancel(session.bid_id) if session.bid_id is not None else None
        session.remove()
        return result

    def _erasure(
        self, shards: tuple[int, int] | str | ErasureParams | None, replicas: int | None
    ) -> ErasureParams:
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

    @staticmethod
    def _shards_text(erasure: ErasureParams) -> str:
        return f"{erasure.k}/{erasure.n}/{erasure.codec.value}/{erasure.block_size}"

    def _session(
        self, src: Path, erasure: ErasureParams, rep: Reporter, *, name: str | None, replaces: int | None
    ) -> tuple[UploadSession, bool]:
        st = src.stat()
        shards_text = self._shards_text(erasure)
        sid = UploadSession.session_id(
            src,
            st.st_size,
            st.st_mtime_ns,
            shards_text,
            self.network.chain_id,
            self.deployment.market,
            self.address,
        )
        directory = sessions_root(self.state_root) / sid
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
            shards=shards_text,
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
        price_per_epoch: int,
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
        escrow = price_per_epoch * len(cids) * duration_epochs
        rep.step(
            f"posting a bid: {len(cids)} slots of {shard_size} bytes for {duration_epochs} epochs, "
            f"escrow {units.format_eth(escrow)}"
        )
        session.bid_id = self.market.bid(
            cids,
            roots=roots,
            size=shard_size,
            slot_count=len(cids),
            price_per_epoch=price_per_epoch,
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

    def _reservations(self, bid: Bid) -> dict[int, str]:
        """slot -> the hoster holding it, for the bid's reserved slots (expired or not)."""
        held = {}
        for slot in _bits(bid.reserved_slots & bid.open_slots, bid.slot_count):
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
        for slot in _bits(reserved, bid.slot_count):
            r = self.market.reservation_of(bid.bid_id, slot)
            if r.live_at(now):
                held[slot] = r.hoster
        return held

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
        timeout: float,
        rep: Reporter,
    ) -> list[DealInfo]:
        """Push each slot's CAR to the hoster that reserved it, until every slot is filled.

        A hoster reserves a slot (``SlotReserved``), receives the CAR, checks it against the
        slot's CID, size and possession root, and fills the slot with a proof (``SlotFilled``).
        A reservation that lapses reopens the slot; the CAR goes to whoever reserves it next.
        """
        from scatter.sdk.push import push_car

        assert session.bid_id is not None
        bid_id = session.bid_id
        n = len(cars)
        deadline = time.monotonic() + timeout
        rep.step(f"bid {bid_id}: waiting for hosters to reserve the {n} slots")
        total = sum(p.stat().st_size for p in cars)
        errors: dict[int, str] = {}
        retry_at: dict[int, float] = {}
        backoff: dict[int, float] = {}
        asked: dict[int, float] = {}
        with rep.bar(f"pushing shards of bid {bid_id}", total) as advance, ThreadPoolExecutor(n) as pool:
            advance(sum(cars[s].stat().st_size for s, st in session.slots.items() if st.pushed or st.filled))
            while True:
                bid = self.market.get_bid(bid_id)
                active = self._active_deals(bid)
                for slot, deal in active.items():
                    state = session.slots.setdefault(slot, SlotState())
                    if not state.filled or state.deal_id != deal.deal_id:
                        if not (state.pushed or state.filled):
                            advance(cars[slot].stat().st_size)  # filled without our push (a healer)
                        state.hoster, state.deal_id, state.filled = deal.hoster, deal.deal_id, True
                        errors.pop(slot, None)
                        session.save()
                if len(active) == n:
                    break
                now = time.monotonic()
                to_push: list[tuple[int, str, str]] = []
                for slot, hoster in self._reservations(bid).items():
                    if slot in active:
                        continue
                    state = session.slots.setdefault(slot, SlotState())
                    if state.hoster is None or state.hoster.lower() != hoster.lower():
                        state.hoster, state.pushed, state.filled, state.deal_id = hoster, False, False, None
                        retry_at.pop(slot, None)
                        backoff.pop(slot, None)
                        session.save()
                    if state.pushed and now - asked.get(slot, 0.0) > _RECHECK:
                        asked[slot] = now
                        state.pushed = not self._waits_for_push(hoster, bid_id, slot)
                    if not state.pushed and retry_at.get(slot, 0.0) <= now:
                        to_push.append((slot, hoster, self._endpoint(hoster)))
                futures = {
                    slot: pool.submit(
                        push_car,
                        endpoint,
                        bid_id,
                        slot,
                        bytes(CID.decode(shard_entries[slot].cid)),
                        cars[slot],
                        account=self.account,
                        chain_id=self.network.chain_id,
                        market=self.deployment.market,
                    )
                    for slot, _hoster, endpoint in to_push
                }
                for slot, fut in futures.items():
                    try:
                        fut.result()
                    except ScatterError as exc:
                        # The hoster may not have seen its reservation yet: back off, then push again.
                        errors[slot] = str(exc)
                        backoff[slot] = min(5.0, backoff.get(slot, 0.5) * 2)
                        retry_at[slot] = time.monotonic() + backoff[slot]
                        continue
                    session.slots[slot].pushed = True
                    errors.pop(slot, None)
                    session.save()
                    advance(cars[slot].stat().st_size)
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
                time.sleep(_POLL)
        rep.step(f"bid {bid_id}: all {n} slots filled (each hoster proved possession on chain)")
        return [self._deal_info(active[s], bid) for s in range(n)]

    def _record_metadata(self, session: UploadSession, manifest: Any, rep: Reporter) -> int:
        from scatter.formats.metadata import decrypt_metadata

        if session.file_id is not None:
            return session.file_id
        version: FileVersion = manifest.file_version(bid_id=session.bid_id, created=int(time.time()))
        if session.stage == "recording" and session.bid_block is not None and session.replaces is None:
            found = self._find_my_entry(session.bid_id, session.bid_block)
            if found is not None:
                session.file_id = found
                session.save()
                return found
        session.stage = "recording"
        session.save()
        if session.replaces is not None:
            old = decrypt_metadata(self.metadata_key, self.files.metadata(session.replaces))
            if any(v.bid_id == session.bid_id for v in (old.current, *old.history)):
                file_id = session.replaces
            else:
                record = old.with_new_version(version)
                rep.step(f"recording version {len(record.history) + 1} of file {session.replaces}")
                self.files.replace(session.replaces, self._seal(record))
                file_id = session.replaces
        else:
            record = FileMetadata(name=manifest.name, media_type=manifest.media_type, current=version)
            rep.step("recording the encrypted metadata entry")
            file_id = self.files.add(self._seal(record))
        session.file_id, session.stage = file_id, "recorded"
        session.save()
        return file_id

    def _seal(self, record: FileMetadata) -> bytes:
        from scatter.formats.metadata import encrypt_metadata

        return encrypt_metadata(self.metadata_key, record)

    def _find_my_entry(self, bid_id: int | None, from_block: int) -> int | None:
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

    # ------------------------------------------------------------------ deals and hosters

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

        endpoint = self.market.node(Role.HOSTER, deal.hoster).endpoint
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
            reserved_slots=tuple(
                _bits(int(bid.raw.get("reservedSlots", 0)) & bid.open_slots, bid.slot_count)
            ),
            roots=roots,
        )

    def hoster_endpoints(self) -> dict[str, str]:
        """Active hosters and their public endpoints."""
        found = {}
        for address in self.market.nodes(Role.HOSTER):
            node = self.market.node(Role.HOSTER, address)
            if node.status != NodeStatus.NONE:
                found[address] = node.endpoint
        return found

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

    # ------------------------------------------------------------------ files

    def _metadata(self, file_id: int) -> FileMetadata:
        from scatter.formats.metadata import decrypt_metadata

        return decrypt_metadata(self.metadata_key, self.files.metadata(file_id))

    def _file_info(self, file_id: int, record: FileMetadata, owner: str) -> FileInfo:
        v = record.current
        return FileInfo(
            file_id=file_id,
            name=record.name,
            media_type=record.media_type,
            size=v.size,
            sha256=v.sha256,
            shards=f"{v.erasure.k}/{v.erasure.n}",
            bid_id=v.bid_id,
            versions=1 + len(record.history),
            created=v.created,
            owner=owner,
        )

    def _my_file_ids(self) -> list[int]:
        events = self.files.contract.events
        start = self.deployment.block
        ids: set[int] = set()
        for ev, arg in ((events.FileAdded, "owner"), (events.FileTransferred, "to")):

            def logs(ev: Any = ev, arg: str = arg) -> Any:
                return ev().get_logs(from_block=start, argument_filters={arg: self.address})

            ids.update(int(log["args"]["fileId"]) for log in rpc_guard("reading file events", logs))
        return sorted(ids)

    def ls(self, *, health: bool = True) -> list[FileInfo]:
        """This account's files (entries it owns now), oldest first, each with its health
        (live shards against the k needed, :mod:`scatter.sdk.health`) unless ``health=False``.

        Files at risk or lost are also reported as a :class:`HealthWarning`.
        """
        out = []
        epoch = self.market.current_epoch() if health else 0
        for file_id in self._my_file_ids():
            try:
                entry = self.files.entry(file_id)
            except ScatterNotFoundError:
                continue  # removed
            if entry.owner.lower() != self.address.lower():
                continue  # transferred away
            record = self._metadata(file_id)
            info = self._file_info(file_id, record, entry.owner)
            if health and record.current.bid_id is not None:
                deals = self.deals_of_bid(record.current.bid_id)
                info = replace(info, health=self._health(info, deals, record.current.erasure.k, epoch))
            out.append(info)
        return out

    def _health(self, info: FileInfo, deals: Sequence[Deal], k: int, epoch: int) -> FileHealth:
        from scatter.sdk.health import HealthWarning, file_health

        n = int(info.shards.split("/")[1])
        h = file_health(
            deals, total=n, needed=k, current_epoch=epoch, name=f"file {info.file_id} ({info.name})"
        )
        if h.warning is not None:
            warnings.warn(h.warning, HealthWarning, stacklevel=3)
        return h

    def resolve_file(self, ref: int | str) -> int:
        """A file id from an id or a name (the newest file of that name)."""
        if isinstance(ref, int):
            return ref
        if ref.isdigit():
            return int(ref)
        matches = [f for f in self.ls(health=False) if f.name == ref]
        if not matches:
            raise ScatterNotFoundError(f"no file named {ref!r} in this account; `scatter ls` lists them")
        return matches[-1].file_id

    def status(self, ref: int | str, *, ask_hosters: bool = True) -> FileStatus:
        """The file, its bid, every deal of it and its health (a :class:`HealthWarning` when its
        live shards are k or fewer); with ``ask_hosters``, each active deal's hoster is asked
        whether it holds the shard (informative: the chain's fill proof is what counts)."""
        file_id = self.resolve_file(ref)
        entry = self.files.entry(file_id)
        record = self._metadata(file_id)
        info = self._file_info(file_id, record, entry.owner)
        return self._status_of(info, record.current.bid_id, record.current.erasure.k, ask_hosters=ask_hosters)

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

    def _status_of(self, info: FileInfo, bid_id: int | None, k: int, *, ask_hosters: bool) -> FileStatus:
        epoch = self.market.current_epoch()
        if bid_id is None:
            return FileStatus(file=info, bid=None, deals=(), current_epoch=epoch, healthy_slots=0, needed=k)
        bid = self.bid_info(bid_id)
        deals = self.deals_of_bid(bid_id)
        infos = self._deal_infos(bid_id, ask_hosters=ask_hosters, deals=deals, epoch=epoch)
        health = self._health(info, deals, k, epoch)
        return FileStatus(
            file=replace(info, health=health),
            bid=bid,
            deals=tuple(infos),
            current_epoch=epoch,
            healthy_slots=health.live,
            needed=k,
            health=health,
        )

    def share(self, ref: int | str, *, base: str = "scatter:file") -> str:
        """A link that lets anyone fetch and decrypt the current version of one file (key in the fragment)."""
        from scatter.formats.sharelink import ShareLink

        record = self._metadata(self.resolve_file(ref))
        return ShareLink.for_file(record).to_url(base)

    def rm(self, ref: int | str) -> RemoveResult:
        """Stop paying for a file: cancel the open slots of its bids and remove its entry.

        Filled deals cannot be ended early by the client (the hoster locked
        collateral for them); they run to their end and the unspent escrow comes
        back when they finish. Slots a hoster holds a live reservation of are left
        (``CancelResult.reserved_slots``): cancel them once it expired.
        """
        file_id = self.resolve_file(ref)
        record = self._metadata(file_id)
        cancelled = []
        for bid_id in {v.bid_id for v in (record.current, *record.history) if v.bid_id is not None}:
            bid = self.market.get_bid(bid_id)
            if bid.open_slots:
                cancelled.append(self.cancel(bid_id))
        self.files.remove(file_id)
        return RemoveResult(file_id=file_id, cancelled=tuple(cancelled))

    # ------------------------------------------------------------------ download

    def download(
        self,
        ref: int | str,
        dest: str | os.PathLike[str] | None = None,
        *,
        version: int = 0,
        reporter: Reporter | None = None,
        concurrency: int = 8,
        timeout: float = 15.0,
    ) -> DownloadResult:
        """Get a file back by id, name or share link: any k shards from the hosters, verified, decrypted.

        ``version`` 0 is the current version, 1 the one before, and so on. ``dest``
        may be a directory (the file's name is kept) or a path; default: the name in
        the working directory. The file appears only once its sha256 matched.
        """
        from scatter.formats.sharelink import parse_share_link

        rep = reporter or SilentReporter()
        started = time.monotonic()
        bid_id: int | None = None
        if isinstance(ref, str) and ref.startswith(_SHARE_PREFIXES):
            link = parse_share_link(ref)
            name = link.name or "download.bin"
            cids, k, key, sha = link.shards, link.k, link.content_key, link.sha256
            size = link.size
        else:
            file_id = self.resolve_file(ref)
            record = self._metadata(file_id)
            versions = (record.current, *record.history)
            if not 0 <= version < len(versions):
                raise ScatterValueError(
                    f"file {file_id} has {len(versions)} version(s); ask for 0..{len(versions) - 1}"
                )
            v = versions[version]
            name, cids, k, key, sha, size = (
                record.name,
                v.shards,
                v.erasure.k,
                v.content_key,
                v.sha256,
                v.size,
            )
            bid_id = v.bid_id
        target = Path(dest) if dest is not None else Path.cwd() / Path(name).name
        if target.is_dir():
            target = target / Path(name).name
        sources = self._shard_sources(cids, bid_id)
        used = self._fetch_and_decode(sources, k, key, sha, size, target, rep, concurrency, timeout)
        return DownloadResult(
            path=target,
            name=name,
            size=target.stat().st_size,
            sha256=sha or hashlib.sha256(target.read_bytes()).digest(),
            shards_used=used,
            seconds=time.monotonic() - started,
        )

    def _shard_sources(self, cids: Sequence[str], bid_id: int | None) -> list[Any]:
        from scatter.sdk.fetch import ShardSource

        everyone = self.hoster_endpoints()
        by_slot: dict[int, list[str]] = {}
        if bid_id is not None:
            deals = self.deals_of_bid(bid_id)
            # Active deals first, then older ones (a finished hoster may still serve).
            for deal in sorted(deals, key=lambda d: (d.status != DealStatus.ACTIVE, -d.deal_id)):
                url = everyone.get(deal.hoster)
                if url:
                    by_slot.setdefault(deal.slot, []).append(url)
        sources = []
        for i, cid in enumerate(cids):
            first = by_slot.get(i, [])
            rest = [u for u in everyone.values() if u not in first]
            # With the bid known, ask its hosters; without (a share link), any hoster may hold it.
            gateways = (
                [*first, *self.gateways] if bid_id is not None and first else [*first, *self.gateways, *rest]
            )
            sources.append(ShardSource(i, cid, tuple(dict.fromkeys(gateways))))
        return sources

    def _fetch_and_decode(
        self,
        sources: list[Any],
        k: int,
        key: bytes,
        sha: bytes | None,
        size: int | None,
        target: Path,
        rep: Reporter,
        concurrency: int,
        timeout: float,
    ) -> tuple[int, ...]:
        from scatter.formats.pipeline import decrypt_shards
        from scatter.sdk.fetch import fetch_any_k

        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".scatter-dl-", dir=target.parent) as work:
            expected = (size or 0) * len(sources) // max(k, 1) // max(len(sources), 1) * k or 1
            with rep.bar(f"fetching {k} of {len(sources)} shards", expected) as advance:
                fetched = asyncio.run(
                    fetch_any_k(
                        sources, k, Path(work), concurrency=concurrency, timeout=timeout, progress=advance
                    )
                )
            tmp = Path(work) / "plain"
            with rep.bar("decoding + decrypting", size or 1) as advance, tmp.open("wb") as out:
                streams = [s.path.open("rb") for s in fetched]
                try:
                    decrypt_shards(streams, key, out, expected_sha256=sha, progress=advance)
                finally:
                    for stream in streams:
                        stream.close()
            os.replace(tmp, target)
        return tuple(s.index for s in fetched)

    # ------------------------------------------------------------------ public CIDs

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
        """
        rep = reporter or SilentReporter()
        try:
            parsed = CID.decode(cid)
        except Exception:
            raise ScatterValueError(f"{cid!r} is not a CID") from None
        found, root = self.possession_of(parsed, origins or self.gateways, reporter=rep)
        if size is not None and size != found:
            raise ScatterValueError(f"{cid} is {found} bytes, not {size}: leave out --size, or check the CID")
        duration_epochs = self.epochs(duration)
        per_gib = units.DEFAULT_PRICE_PER_GIB_EPOCH if price is None else parse_amount(price)
        per_slot = units.slot_price(per_gib, found)
        rep.step(f"posting a bid for {cid}: {replicas} replicas for {duration_epochs} epochs")
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
        self, cid: CID | str, gateways: Sequence[str], *, reporter: Reporter | None = None
    ) -> tuple[int, bytes]:
        """``(size, possession root)`` of a public UnixFS file, read once from ``gateways``.

        Every block is verified against its CID as it arrives (a gateway that lies is dropped),
        into a temporary block store that is deleted afterwards.
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
            async with GatewayClient(list(gateways), timeout=30.0) as gw:
                await gw.fetch_dag(root_cid, store, pin=False, prefer_car=True, progress=advance)

        with tempfile.TemporaryDirectory(prefix="scatter-pin-") as tmp:
            store = EmbeddedBlockStore(Path(tmp) / "blocks", durable=False)
            rep.step(f"reading {root_cid} once from {gateways[0]} to compute its possession root")
            with rep.bar(f"fetching {root_cid}", 0) as advance:
                try:
                    asyncio.run(fetch(store, advance))
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
            time.sleep(_POLL)

    #: The name of :meth:`wait_filled` before Market version 2.
    wait_pinned = wait_filled

    # ------------------------------------------------------------------ bids and money

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
        its reservation expired (the hoster then gets its one-epoch reservation fee)."""
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
            slots=tuple(_bits(int(args["slots"]), bid.slot_count)),
            paid=int(args["paid"]),
            unchanged_deals=tuple(d.deal_id for d in self._active_deals(bid).values()),
        )

    def extend_file(self, ref: int | str, duration: str | int) -> ExtendResult:
        record = self._metadata(self.resolve_file(ref))
        if record.current.bid_id is None:
            raise ScatterValueError("this file version has no bid to extend")
        return self.extend(record.current.bid_id, duration)

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

    # ------------------------------------------------------------------ market overview

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

    # ------------------------------------------------------------------ backup

    def watch(
        self,
        directory: str | os.PathLike[str],
        *,
        interval: float = 10.0,
        once: bool = False,
        shards: tuple[int, int] | str | None = None,
        duration: str | int = units.DEFAULT_DURATION,
        price: str | int | None = None,
        timeout: float = 300.0,
        reporter: Reporter | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[Any]:
        """Back up ``directory``: upload new files, add a version for changed ones, skip unchanged ones.

        Yields a :class:`~scatter.sdk.models.WatchEvent` per file handled; with ``once``
        returns after one pass, else scans every ``interval`` seconds. What was stored is
        kept under the SDK state root (``watch/``), so a restart carries on.
        """
        from scatter.sdk.watch import Watcher

        watcher = Watcher(
            self,
            Path(directory),
            shards=shards,
            duration=duration,
            price=price,
            timeout=timeout,
            reporter=reporter or SilentReporter(),
        )
        return watcher.run(interval=interval, once=once, should_stop=should_stop)
