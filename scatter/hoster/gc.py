"""The hoster keeps on disk only what its live deals need (docs/hoster.md, "Storage").

A block stays only while a pin reaches it, and a CID stays pinned only while a
deal held here (awaiting, pinned) or a slot job under way needs it
(:func:`live_cids`). :class:`StoreJanitor` keeps it so:

- at start-up, before the endpoint serves: it removes what uploads, fetches and
  heals cut short by a kill left in ``STATE_DIR/tmp``, unpins what nothing live
  needs and forgets their possession caches; the first tick collects garbage
  (blocks stored but not yet pinned when the process died, and the store's own
  ``tmp/``), in the background so that no proof waits for it;
- once per epoch: it unpins what nothing live needs (a pin left by a race, e.g.
  an upload checked after its reservation was released);
- when content was unpinned (a deal ended, faulted or was reorganised away, a
  fill was lost): mark and sweep (:meth:`~scatter.ipfs.abc.BlockStore.gc`)
  within the epoch, at most every ``min_interval`` seconds. Blocks shared with a
  live pin stay; blocks being stored for a pin are never taken (the store's
  :meth:`~scatter.ipfs.embedded.EmbeddedBlockStore.writing` guard).

A Kubo store (``ipfs_api``) may hold its operator's own pins: there only this
hoster's drops are unpinned, and ``repo gc`` runs after them.

:func:`store_usage` gives the store's size on disk beside what its pins reach,
for ``scatter hoster status``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from multiformats import CID

from scatter.errors import ScatterError
from scatter.hoster.possess import ProofKeeper
from scatter.hoster.state import HOLDING, LIVE_SLOT, HosterState
from scatter.ipfs.abc import BlockStore, GcResult, StoreStat
from scatter.ipfs.cid import CODEC_RAW, cid_str, parse_cid
from scatter.ipfs.dag import links_of
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.errors import BlockNotFoundError

__all__ = ["StoreJanitor", "StoreUsage", "clean_dir", "live_cids", "store_usage"]


def live_cids(state: HosterState) -> set[str]:
    """CIDs (normalised with :func:`cid_str`) that a deal held here or a slot job under way needs."""
    cids = {d.cid for d in state.deals(HOLDING)} | {j.cid for j in state.jobs(LIVE_SLOT)}
    out = set()
    for cid in cids:
        with contextlib.suppress(ScatterError):
            out.add(cid_str(parse_cid(cid)))
    return out


def clean_dir(directory: Path) -> int:
    """Remove everything under ``directory`` (kept, empty); returns the bytes freed."""
    freed = dir_bytes(directory)
    if directory.is_dir():
        for entry in os.scandir(directory):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
    return freed


def dir_bytes(directory: Path) -> int:
    """Bytes of the files under ``directory`` (0 if it does not exist)."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


class StoreJanitor:
    """Unpins what no live deal or slot job needs and collects the blocks no pin reaches.

    Called from the daemon's loop (:meth:`drop`, :meth:`unpin_strays`, :meth:`take_due`);
    :meth:`recover` and :meth:`collect` do file work and run in a thread.
    """

    def __init__(self, store: BlockStore, state: HosterState, keeper: ProofKeeper, temp_dir: Path, *,
                 min_interval: float) -> None:  # fmt: skip
        self.store = store
        self.state = state
        self.keeper = keeper
        self.temp_dir = temp_dir
        self.min_interval = min_interval
        self._dirty = False  # something was unpinned since the last collection started
        self._checked_epoch = -1
        self._gc_epoch = -1
        self._gc_at = float("-inf")

    @property
    def owns_pins(self) -> bool:
        """Whether every pin in the store is this hoster's (the embedded store in its state dir)."""
        return isinstance(self.store, EmbeddedBlockStore)

    def drop(self, cid: CID) -> None:
        """Unpin ``cid`` and forget its possession cache; its blocks go at the next collection."""
        with contextlib.suppress(BlockNotFoundError):
            self.store.unpin(cid)
        self.keeper.forget(cid)
        self._dirty = True

    def unpin_strays(self, epoch: int | None = None) -> list[CID]:
        """Unpin what no live deal or slot job needs (with ``epoch``: once per epoch); returns them."""
        if not self.owns_pins or (epoch is not None and epoch == self._checked_epoch):
            return []
        if epoch is not None:
            self._checked_epoch = epoch
        pinned = self.store.pins()  # listed before the live set: a pin made meanwhile has a live job
        live = live_cids(self.state)
        strays = [cid for cid in pinned if cid_str(cid) not in live]
        for cid in strays:
            self.drop(cid)
        return strays

    def take_due(self, epoch: int) -> bool:
        """Whether a collection should start now (something was unpinned, and none ran in the last
        ``min_interval`` seconds of this epoch); if so it counts as started."""
        now = time.monotonic()
        if not self._dirty or (epoch == self._gc_epoch and now - self._gc_at < self.min_interval):
            return False
        self._dirty, self._gc_epoch, self._gc_at = False, epoch, now
        return True

    def collect(self) -> tuple[GcResult, StoreStat]:
        """Mark and sweep: delete every block no pin reaches (blocking; run it in a thread); returns
        what it removed and what the store holds after it. A collection that fails is due again."""
        try:
            return self.store.gc(), self.store.stat()
        except BaseException:
            self._dirty = True
            raise

    def recover(self) -> int:
        """At start-up, before the endpoint serves: remove what interrupted uploads, fetches and heals
        left in the temp directory, stray pins and stale possession caches; the first tick then
        collects garbage (embedded store only). Returns the temp bytes removed."""
        freed = clean_dir(self.temp_dir)
        if not self.owns_pins:
            return freed
        self.unpin_strays()
        live = live_cids(self.state)
        for entry in os.scandir(self.keeper.directory):
            stem, _, suffix = entry.name.rpartition(".")
            if suffix != "pc" or stem not in live:  # a temp file, or the cache of content gone
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        self._dirty = True  # blocks stored but not pinned when the process died, half-written ones
        return freed


@dataclass(frozen=True)
class StoreUsage:
    """The embedded store on disk beside what its pins reach."""

    blocks: int  # block files
    bytes: int  # their bytes
    pins: int
    pinned_bytes: int  # bytes of the unique blocks the pins reach (what GC keeps)
    missing_blocks: int  # blocks a pin reaches that are not held (0 unless the store was damaged)
    temp_bytes: int  # temp files: uploads being received, blocks being written, leftovers of a kill

    @property
    def unreferenced_bytes(self) -> int:
        """Bytes no pin reaches: the next collection deletes them."""
        return self.bytes - self.pinned_bytes

    def to_json(self) -> dict[str, int]:
        return {**asdict(self), "unreferenced_bytes": self.unreferenced_bytes}


def store_usage(store: EmbeddedBlockStore, temp_dir: Path | None = None) -> StoreUsage:
    """Walk the pinned DAGs (dag-pb nodes read, raw leaves only sized) and the block files."""
    seen: set[bytes] = set()
    reached = missing = 0
    pins = store.pins()
    stack = list(pins)
    while stack:
        cid = stack.pop()
        key = bytes(cid.digest)
        if key in seen:
            continue
        seen.add(key)
        try:
            if cid.codec.code == CODEC_RAW:
                reached += store.block_size(cid)
                continue
            data = store.get(cid)
        except BlockNotFoundError:
            missing += 1
            continue
        reached += len(data)
        with contextlib.suppress(ScatterError):
            stack.extend(links_of(cid, data))
    stat = store.stat()
    temp = store.temp_bytes() + (dir_bytes(temp_dir) if temp_dir is not None else 0)
    return StoreUsage(stat.block_count, stat.size_bytes, len(pins), reached, missing, temp)
