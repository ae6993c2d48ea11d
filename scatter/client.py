"""The Scatter SDK: store, share and get back files on the market; the CLI and the web API wrap it.

A private file goes top-down through the library::

    encode (scatter.formats.pipeline: encrypt -> erasure-code -> UnixFS CIDs + CARs)
    -> bid (scatter.chain.market) -> wait for hosters to accept the slots
    -> push each CAR to its hoster (scatter.sdk.push) -> wait for the pins
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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from scatter.formats.metadata_schema import FileMetadata, FileVersion
from scatter.formats.params import ErasureParams, parse_shards
from scatter.sdk import units
from scatter.sdk.models import (
    Balance,
    BidInfo,
    CancelResult,
    DealInfo,
    DownloadResult,
    ExtendResult,
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

__all__ = ["AcceptTimeoutError", "Scatter"]

_POLL = 0.5
_SHARE_PREFIXES = ("scatter:file?", "https://")


class AcceptTimeoutError(ScatterTimeoutError):
    """Slots of an upload's bid were not all accepted, pushed and pinned in time."""

    def __init__(self, message: str, *, bid_id: int, open_slots: Sequence[int]) -> None:
        super().__init__(message)
        self.bid_id = bid_id
        self.open_slots = tuple(open_slots)


def _already_pinned(endpoint: str, deal_id: int) -> bool:
    from scatter.sdk.push import pin_status

    try:
        return pin_status(endpoint, deal_id, timeout=5.0).pinned
    except ScatterError:
        return False


def _cid_text(raw: bytes) -> str:
    return str(CID.decode(bytes(raw)).set(base="base32"))


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
        slot_size = max(p.stat().st_size for p in cars)
        if session.bid_id is None:
            per_slot = units.slot_price(per_gib, slot_size)
            self._post_bid(
                session,
                [bytes(CID.decode(s.cid)) for s in manifest.shards],
                slot_size,
                per_slot,
                duration_epochs,
                rep,
            )
        assert session.bid_id is not None
        bid_id = session.bid_id
        deals = self._push_until_pinned(session, manifest.shards, cars, timeout, rep)
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
        slot_size: int,
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
            f"posting a bid: {len(cids)} slots of {slot_size} bytes for {duration_epochs} epochs, "
            f"escrow {units.format_eth(escrow)}"
        )
        session.bid_id = self.market.bid(
            cids,
            size=slot_size,
            slot_count=len(cids),
            price_per_epoch=price_per_epoch,
            duration_epochs=duration_epochs,
        )
        session.stage = "posted"
        session.save()

    def _find_my_bid(self, cids: list[bytes], from_block: int) -> int | None:
        """A bid of ours posted since ``from_block`` naming exactly ``cids`` (a bid sent before a crash)."""
        ev = self.market.contract.events.BidPosted()
        logs = rpc_guard(
            "reading BidPosted events",
            lambda: ev.get_logs(from_block=from_block, argument_filters={"client": self.address}),
        )
        for log in logs:
            if [bytes(c) for c in log["args"]["cids"]] == cids:
                return int(log["args"]["bidId"])
        return None

    def _push_until_pinned(
        self,
        session: UploadSession,
        shard_entries: Sequence[Any],
        cars: list[Path],
        timeout: float,
        rep: Reporter,
    ) -> list[DealInfo]:
        from scatter.sdk.push import PushRejectedError, pin_status, push_car

        assert session.bid_id is not None
        bid_id = session.bid_id
        n = len(cars)
        deadline = time.monotonic() + timeout
        rep.step(f"bid {bid_id}: waiting for hosters to accept the {n} slots")
        total = sum(p.stat().st_size for p in cars)
        done_bytes = sum(cars[s].stat().st_size for s, st in session.slots.items() if st.pushed)
        errors: dict[int, str] = {}
        retry_at: dict[int, float] = {}
        backoff: dict[int, float] = {}
        with rep.bar(f"pushing shards of bid {bid_id}", total) as advance, ThreadPoolExecutor(n) as pool:
            advance(done_bytes)
            while True:
                bid = self.market.get_bid(bid_id)
                active = self._active_deals(bid)
                to_push: list[tuple[int, Deal, str]] = []
                now = time.monotonic()
                for slot in range(n):
                    deal = active.get(slot)
                    state = session.slots.get(slot)
                    if deal is None:
                        continue
                    if state is None or state.deal_id != deal.deal_id:
                        session.slots[slot] = state = SlotState(deal.deal_id, deal.hoster)
                    if not state.pushed and retry_at.get(slot, 0.0) <= now:
                        endpoint = self._endpoint(deal.hoster)
                        if slot in errors and _already_pinned(endpoint, deal.deal_id):
                            # A hoster that took a reopened slot may have rebuilt the shard itself.
                            state.pushed = state.pinned = True
                            session.save()
                            continue
                        to_push.append((slot, deal, endpoint))
                futures = {
                    slot: pool.submit(
                        push_car,
                        endpoint,
                        deal.deal_id,
                        bytes(CID.decode(shard_entries[slot].cid)),
                        cars[slot],
                        account=self.account,
                        chain_id=self.network.chain_id,
                        market=self.deployment.market,
                        progress=None,
                    )
                    for slot, deal, endpoint in to_push
                }
                for slot, fut in futures.items():
                    try:
                        fut.result()
                    except (PushRejectedError, ScatterError) as exc:
                        # The hoster may not have seen its deal yet: back off, then push again.
                        errors[slot] = str(exc)
                        backoff[slot] = min(5.0, backoff.get(slot, 0.5) * 2)
                        retry_at[slot] = time.monotonic() + backoff[slot]
                        continue
                    session.slots[slot].pushed = True
                    errors.pop(slot, None)
                    session.save()
                    advance(cars[slot].stat().st_size)
                for slot, state in session.slots.items():
                    deal = active.get(slot)
                    if deal is None or not state.pushed or state.pinned:
                        continue
                    try:
                        status = pin_status(self._endpoint(deal.hoster), deal.deal_id)
                    except ScatterError as exc:
                        errors[slot] = str(exc)
                        continue
                    if status.pinned:
                        state.pinned = True
                        session.save()
                pinned = [s for s in range(n) if s in active and session.slots.get(s, SlotState()).pinned]
                if len(pinned) == n:
                    break
                if time.monotonic() > deadline:
                    waiting = [s for s in range(n) if s not in pinned]
                    detail = "; ".join(f"slot {s}: {errors[s][:160]}" for s in waiting if s in errors)
                    raise AcceptTimeoutError(
                        f"bid {bid_id}: slots {waiting} not accepted and pinned within {timeout:.0f}s"
                        + (f" ({detail})" if detail else "")
                        + f"; run the same upload again to keep waiting, or `scatter upload --abort` "
                        f"(or `scatter cancel {bid_id}`) to take back the escrow of open slots",
                        bid_id=bid_id,
                        open_slots=bid.open_slot_indexes(),
                    )
                time.sleep(_POLL)
        rep.step(f"bid {bid_id}: all {n} shards pinned")
        return [self._deal_info(active[s], bid, pinned=True) for s in range(n)]

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

    def _slot_accepted_logs(self, bid: Bid) -> list[Any]:
        ev = self.market.contract.events.SlotAccepted()
        return list(
            rpc_guard(
                "reading SlotAccepted events",
                lambda: ev.get_logs(from_block=bid.posted_block, argument_filters={"bidId": bid.bid_id}),
            )
        )

    def deals_of_bid(self, bid_id: int) -> list[Deal]:
        """Every deal ever made on the bid's slots, oldest first."""
        bid = self.market.get_bid(bid_id)
        return [self.market.get_deal(int(log["args"]["dealId"])) for log in self._slot_accepted_logs(bid)]

    def _active_deals(self, bid: Bid) -> dict[int, Deal]:
        active: dict[int, Deal] = {}
        for log in self._slot_accepted_logs(bid):
            deal = self.market.get_deal(int(log["args"]["dealId"]))
            if deal.status == DealStatus.ACTIVE:
                active[deal.slot] = deal
        return active

    def _endpoint(self, hoster: str) -> str:
        return self.market.node(Role.HOSTER, hoster).endpoint

    def _deal_info(self, deal: Deal, bid: Bid | None = None, *, pinned: bool | None = None) -> DealInfo:
        endpoint = self.market.node(Role.HOSTER, deal.hoster).endpoint
        return DealInfo(
            deal_id=deal.deal_id,
            bid_id=deal.bid_id,
            slot=deal.slot,
            hoster=deal.hoster,
            endpoint=endpoint,
            status=deal.status.name.lower(),
            start_epoch=deal.start_epoch,
            end_epoch=self.market.deal_end_epoch(deal.deal_id),
            paid_through=deal.paid_through,
            paid_epochs=deal.paid_epochs,
            collateral=deal.collateral,
            pinned=pinned,
        )

    def bid_info(self, bid_id: int) -> BidInfo:
        bid = self.market.get_bid(bid_id)
        if int(bid.client, 16) == 0:
            raise ScatterNotFoundError(f"no bid {bid_id} on this market")
        ev = self.market.contract.events.BidPosted()
        logs = rpc_guard(
            "reading BidPosted",
            lambda: ev.get_logs(
                from_block=bid.posted_block, to_block=bid.posted_block, argument_filters={"bidId": bid_id}
            ),
        )
        cids: tuple[str, ...] = ()
        origins: tuple[str, ...] = ()
        if logs:
            cids = tuple(_cid_text(c) for c in logs[0]["args"]["cids"])
            origins = tuple(logs[0]["args"]["origins"])
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

    def ls(self) -> list[FileInfo]:
        """This account's files (entries it owns now), oldest first."""
        out = []
        for file_id in self._my_file_ids():
            try:
                entry = self.files.entry(file_id)
            except ScatterNotFoundError:
                continue  # removed
            if entry.owner.lower() != self.address.lower():
                continue  # transferred away
            out.append(self._file_info(file_id, self._metadata(file_id), entry.owner))
        return out

    def resolve_file(self, ref: int | str) -> int:
        """A file id from an id or a name (the newest file of that name)."""
        if isinstance(ref, int):
            return ref
        if ref.isdigit():
            return int(ref)
        matches = [f for f in self.ls() if f.name == ref]
        if not matches:
            raise ScatterNotFoundError(f"no file named {ref!r} in this account; `scatter ls` lists them")
        return matches[-1].file_id

    def status(self, ref: int | str, *, ask_hosters: bool = True) -> FileStatus:
        """The file, its bid and every deal of it, with each hoster's pin answer when ``ask_hosters``."""
        file_id = self.resolve_file(ref)
        entry = self.files.entry(file_id)
        record = self._metadata(file_id)
        info = self._file_info(file_id, record, entry.owner)
        return self._status_of(info, record.current.bid_id, record.current.erasure.k, ask_hosters=ask_hosters)

    def bid_status(self, bid_id: int, *, ask_hosters: bool = True) -> tuple[BidInfo, list[DealInfo]]:
        bid = self.bid_info(bid_id)
        return bid, self._deal_infos(bid_id, ask_hosters=ask_hosters)

    def _deal_infos(self, bid_id: int, *, ask_hosters: bool) -> list[DealInfo]:
        """Every deal of the bid; with ``ask_hosters``, each active deal's hoster is asked (in parallel)."""
        from scatter.sdk.push import pin_status

        bid = self.market.get_bid(bid_id)
        deals = self.deals_of_bid(bid_id)

        def ask(deal: Deal) -> bool | None:
            if not ask_hosters or deal.status != DealStatus.ACTIVE:
                return None
            try:
                return pin_status(self._endpoint(deal.hoster), deal.deal_id, timeout=10.0).pinned
            except ScatterError:
                return False  # unreachable or not holding it: not healthy

        with ThreadPoolExecutor(max(1, min(16, len(deals)))) as pool:
            answers = list(pool.map(ask, deals))
        return [self._deal_info(d, bid, pinned=p) for d, p in zip(deals, answers, strict=True)]

    def _status_of(self, info: FileInfo, bid_id: int | None, k: int, *, ask_hosters: bool) -> FileStatus:
        bid = self.bid_info(bid_id) if bid_id is not None else None
        deals = self._deal_infos(bid_id, ask_hosters=ask_hosters) if bid_id is not None else []
        healthy = {d.slot for d in deals if d.status == "active" and d.pinned is not False}
        return FileStatus(
            file=info,
            bid=bid,
            deals=tuple(deals),
            current_epoch=self.market.current_epoch(),
            healthy_slots=len(healthy),
            needed=k,
        )

    def share(self, ref: int | str, *, base: str = "scatter:file") -> str:
        """A link that lets anyone fetch and decrypt the current version of one file (key in the fragment)."""
        from scatter.formats.sharelink import ShareLink

        record = self._metadata(self.resolve_file(ref))
        return ShareLink.for_file(record).to_url(base)

    def rm(self, ref: int | str) -> RemoveResult:
        """Stop paying for a file: cancel the open slots of its bids and remove its entry.

        Accepted deals cannot be ended early by the client (the hoster locked
        collateral for them); they run to their end and the unspent escrow comes
        back when they finish.
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
        """Buy pinning of a public CID on ``replicas`` hosters (they fetch it from IPFS or ``origins``).

        ``size`` (bytes) is read from the first origin that serves the root block when not given.
        With ``wait`` it returns once every replica is accepted and pinned.
        """
        rep = reporter or SilentReporter()
        try:
            parsed = CID.decode(cid)
        except Exception:
            raise ScatterValueError(f"{cid!r} is not a CID") from None
        if size is None:
            size = self._size_from_origins(parsed, origins)
        duration_epochs = self.epochs(duration)
        per_gib = units.DEFAULT_PRICE_PER_GIB_EPOCH if price is None else parse_amount(price)
        per_slot = units.slot_price(per_gib, size)
        rep.step(f"posting a bid for {cid}: {replicas} replicas for {duration_epochs} epochs")
        bid_id = self.market.bid(
            [bytes(parsed)],
            size=size,
            slot_count=replicas,
            price_per_epoch=per_slot,
            duration_epochs=duration_epochs,
            origins=list(origins),
        )
        deals: tuple[DealInfo, ...] = ()
        if wait:
            deals = tuple(self.wait_pinned(bid_id, timeout=timeout, reporter=rep))
        bid = self.market.get_bid(bid_id)
        return PinResult(
            bid_id=bid_id,
            cid=str(parsed),
            replicas=replicas,
            size=size,
            price_per_epoch=per_slot,
            duration_epochs=duration_epochs,
            escrow=bid.escrow,
            deals=deals,
        )

    def wait_pinned(
        self, bid_id: int, *, timeout: float = 300.0, reporter: Reporter | None = None
    ) -> list[DealInfo]:
        """Wait until every slot of the bid has an active deal whose hoster reports the pin."""
        from scatter.sdk.push import pin_status

        rep = reporter or SilentReporter()
        deadline = time.monotonic() + timeout
        rep.step(f"bid {bid_id}: waiting for every slot to be accepted and pinned")
        while True:
            bid = self.market.get_bid(bid_id)
            active = self._active_deals(bid)
            pinned = []
            for slot, deal in sorted(active.items()):
                try:
                    if pin_status(self._endpoint(deal.hoster), deal.deal_id, timeout=3.0).pinned:
                        pinned.append(slot)
                except ScatterError:
                    pass
            if len(pinned) == bid.slot_count:
                return [self._deal_info(active[s], bid, pinned=True) for s in range(bid.slot_count)]
            if time.monotonic() > deadline:
                raise AcceptTimeoutError(
                    f"bid {bid_id}: {len(pinned)} of {bid.slot_count} slots pinned after {timeout:.0f}s; "
                    f"`scatter status --bid {bid_id}` shows them, `scatter cancel {bid_id}` refunds",
                    bid_id=bid_id,
                    open_slots=bid.open_slot_indexes(),
                )
            time.sleep(_POLL)

    def _size_from_origins(self, cid: CID, origins: Sequence[str]) -> int:
        if not origins:
            raise ScatterValueError(
                "give the size of the content (--size BYTES) or an origin gateway (--origin URL)"
            )
        from scatter.ipfs.dag import file_size
        from scatter.ipfs.gateway.client import GatewayClient
        from scatter.ipfs.memory import MemoryBlockStore

        async def root_block() -> bytes:
            async with GatewayClient(list(origins), timeout=10.0) as gw:
                return await gw.get_block(cid)

        store = MemoryBlockStore()
        from scatter.ipfs.block import Block

        store.put(Block(cid, asyncio.run(root_block())))
        found = file_size(cid, store)
        if found is None:
            raise ScatterValueError(f"{cid} is not a UnixFS file; give its size with --size BYTES")
        return found

    # ------------------------------------------------------------------ bids and money

    def cancel(self, bid_id: int, slots: Sequence[int] | None = None) -> CancelResult:
        """Cancel open slots of one of this account's bids (default: all open ones); refunds their escrow."""
        bid = self.market.get_bid(bid_id)
        if int(bid.client, 16) == 0:
            raise ScatterNotFoundError(f"no bid {bid_id} on this market")
        if bid.client.lower() != self.address.lower():
            raise ScatterValueError(f"bid {bid_id} belongs to {bid.client}, not to {self.address}")
        open_now = bid.open_slot_indexes()
        wanted = list(open_now if slots is None else slots)
        not_open = [s for s in wanted if s not in open_now]
        if not_open:
            raise ScatterValueError(
                f"bid {bid_id}: slots {not_open} are not open (accepted or closed); open slots: {open_now}"
            )
        refund = 0
        for slot in wanted:
            receipt = self.market.cancel(bid_id, slot)
            for log in self.market.contract.events.SlotCancelled().process_receipt(receipt, errors=DISCARD):
                refund += int(log["args"]["refund"])
        active = tuple(d.deal_id for d in self._active_deals(self.market.get_bid(bid_id)).values())
        return CancelResult(bid_id=bid_id, cancelled_slots=tuple(wanted), refund=refund, active_deals=active)

    def extend(self, bid_id: int, duration: str | int) -> ExtendResult:
        """Pay for ``duration`` more (every slot not closed): open slots and active deals last longer."""
        extra = self.epochs(duration)
        receipt = self.market.extend(bid_id, extra)
        logs = self.market.contract.events.BidExtended().process_receipt(receipt, errors=DISCARD)
        args = logs[0]["args"]
        return ExtendResult(
            bid_id=bid_id,
            extra_epochs=extra,
            duration_epochs=int(args["durationEpochs"]),
            paid=int(args["paid"]),
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
        """Finish every deal of the bid that is over (anyone may): unspent escrow goes back to the client."""
        done = 0
        current = self.market.current_epoch()
        grace = self.params.grace_epochs
        for deal in self.deals_of_bid(bid_id):
            if (
                deal.status == DealStatus.ACTIVE
                and current > self.market.deal_end_epoch(deal.deal_id) + grace
            ):
                try:
                    self.market.finish(deal.deal_id)
                    done += 1
                except ContractError as exc:
                    if exc.error_name != "DealNotActive":
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
