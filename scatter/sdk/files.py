"""Files: this account's encrypted entries in the FileRegistry — list, status and health, share, remove.

Each entry is a CBOR record sealed with the wallet-derived key
(:mod:`scatter.formats.metadata`); its versions name the bids that store them.
A file's health is its live shards against the k it needs (:mod:`scatter.sdk.health`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scatter.chain.tx import rpc_guard
from scatter.errors import ScatterNotFoundError, ScatterValueError
from scatter.sdk.models import ExtendResult, FileHealth, FileInfo, FileStatus, RemoveResult
from scatter.sdk.money import Payments

if TYPE_CHECKING:
    from scatter.chain.market import Deal
    from scatter.formats.metadata_schema import FileMetadata


class FileEntries(Payments):
    """This account's file entries: ``ls``, ``status``, ``share``, ``rm``, ``extend_file``."""

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
        uploading = {s.bid_id for s in self.pending_uploads()} if health else set()
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
                k, bid_id = record.current.erasure.k, record.current.bid_id
                info = replace(info, health=self._health(info, deals, k, epoch, bid_id in uploading))
            out.append(info)
        return out

    def _health(
        self, info: FileInfo, deals: Sequence[Deal], k: int, epoch: int, uploading: bool
    ) -> FileHealth:
        """``uploading``: an unfinished upload of this version runs here (its entry comes first)."""
        from scatter.sdk.health import HealthWarning, file_health

        n = int(info.shards.split("/")[1])
        name = f"file {info.file_id} ({info.name})"
        h = file_health(deals, total=n, needed=k, current_epoch=epoch, name=name, uploading=uploading)
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

    def _status_of(self, info: FileInfo, bid_id: int | None, k: int, *, ask_hosters: bool) -> FileStatus:
        epoch = self.market.current_epoch()
        if bid_id is None:
            return FileStatus(file=info, bid=None, deals=(), current_epoch=epoch, healthy_slots=0, needed=k)
        bid = self.bid_info(bid_id)
        deals = self.deals_of_bid(bid_id)
        infos = self._deal_infos(bid_id, ask_hosters=ask_hosters, deals=deals, epoch=epoch)
        uploading = any(s.bid_id == bid_id for s in self.pending_uploads())
        health = self._health(info, deals, k, epoch, uploading)
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
        """A link that lets anyone — no wallet, no deployment record — fetch and decrypt the current
        version of one file: chain, Market, shard CIDs, the endpoints of the hosters holding them
        now as hints, and the key in the fragment (:mod:`scatter.formats.sharelink` v2)."""
        from web3 import Web3

        from scatter.chain.market import DealStatus
        from scatter.formats.sharelink import MAX_HOSTS, ShareLink, valid_host

        record = self._metadata(self.resolve_file(ref))
        bid_id = record.current.bid_id
        deals = self.deals_of_bid(bid_id) if bid_id is not None else []
        live = sorted({d.hoster for d in deals if d.status == DealStatus.ACTIVE})
        hosts = tuple(dict.fromkeys(e for e in (self._endpoint(h) for h in live) if valid_host(e)))
        market = Web3.to_checksum_address(self.deployment.market)
        return ShareLink.for_file(
            record, chain_id=self.network.chain_id, market=market, hosts=hosts[:MAX_HOSTS]
        ).to_url(base)

    def extend_file(self, ref: int | str, duration: str | int) -> ExtendResult:
        """:meth:`extend` the bid of a file's current version."""
        record = self._metadata(self.resolve_file(ref))
        if record.current.bid_id is None:
            raise ScatterValueError("this file version has no bid to extend")
        return self.extend(record.current.bid_id, duration)

    def rm(self, ref: int | str) -> RemoveResult:
        """Stop paying for a file: cancel the open slots of its bids and remove its entry.

        Filled deals cannot be ended early by the client (the hoster locked
        collateral for them); they run to their end and the unspent escrow comes
        back when they finish. Slots a hoster holds a live reservation of are left
        (``CancelResult.reserved_slots``): cancel them once it expired. An unfinished
        upload of a new version of the file is given up the same way (its local state deleted).
        """
        file_id = self.resolve_file(ref)
        record = self._metadata(file_id)
        bids = {v.bid_id for v in (record.current, *record.history) if v.bid_id is not None}
        # An unfinished upload of a new version has a bid the entry does not name yet.
        bids.update(
            s.bid_id for s in self.pending_uploads() if s.replaces == file_id and s.bid_id is not None
        )
        cancelled = []
        for bid_id in sorted(bids):
            bid = self.market.get_bid(bid_id)
            if bid.open_slots:
                cancelled.append(self._cancel_open(bid_id, None))  # the entry goes below, as a whole
        self.files.remove(file_id)
        self._forget_uploads(file_id=file_id, bids=bids)
        return RemoveResult(file_id=file_id, cancelled=tuple(cancelled))
