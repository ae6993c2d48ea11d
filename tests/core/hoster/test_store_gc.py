"""The hoster's store holds only what live deals and slot jobs need: stray pins are unpinned, the
blocks no pin reaches collected (shared ones stay, ones being stored too), leftovers of a kill
removed at start-up, and the store's size agrees with what its pins reach."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from scatter.daemon.state import StateDB
from scatter.formats.possession import PossessionCache
from scatter.hoster.content import keep_checked
from scatter.hoster.gc import StoreJanitor, store_usage
from scatter.hoster.possess import ProofKeeper, check_shard
from scatter.hoster.state import ENDED, PINNED, PUSH, RESERVED, HosterState
from scatter.ipfs.block import Block
from scatter.ipfs.cid import cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore
from tests.core.hoster.test_content_rules import Shard, shard

LEAF = 1 << 18
CLIENT = "0x" + "11" * 20


class Hoster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = StateDB(tmp / "hoster.db")
        self.state = HosterState(self.db)
        self.store = EmbeddedBlockStore(tmp / "blocks", durable=False)
        self.keeper = ProofKeeper(tmp / "possession", self.store)
        self.janitor = StoreJanitor(self.store, self.state, self.keeper, tmp / "tmp", min_interval=30.0)
        self._deals = 0

    def pin(self, s: Shard) -> None:
        self.store.put_many(s.blocks)
        self.store.pin(s.root)
        self.keeper.save(s.root, PossessionCache.build(lambda o, n: s.data[o : o + n], s.size))

    def deal(self, s: Shard, state: str = PINNED) -> int:
        self._deals += 1
        self.pin(s)
        self.state.add_deal(self._deals, self._deals, 0, cid_str(s.root), s.size, CLIENT, 1)
        self.state.set_state(self._deals, state)
        return self._deals

    def holds(self, s: Shard) -> bool:
        return all(self.store.has(b.cid) for b in s.blocks)

    def usage_agrees(self) -> bool:
        u = store_usage(self.store, self.tmp / "tmp")
        return u.bytes == u.pinned_bytes and u.missing_blocks == 0 and u.temp_bytes == 0

    def close(self) -> None:
        self.store.close()
        self.db.close()


@pytest.fixture()
def h(tmp_path: Path) -> Iterator[Hoster]:
    hoster = Hoster(tmp_path)
    yield hoster
    hoster.close()


def test_an_ended_deals_blocks_are_collected_and_those_shared_with_a_live_deal_stay(h: Hoster) -> None:
    common = os.urandom(2 * LEAF)
    live, ended = shard(common + os.urandom(LEAF)), shard(common + os.urandom(LEAF))
    shared = {b.cid for b in live.blocks} & {b.cid for b in ended.blocks}
    assert len(shared) == 2
    h.deal(live)
    h.deal(ended, ENDED)  # ended, but its pin is still there (a crash before the unpin, a race)
    assert h.janitor.unpin_strays(epoch=5) == [ended.root]
    assert h.janitor.unpin_strays(epoch=5) == []  # once per epoch
    assert h.janitor.take_due(epoch=5)
    h.janitor.collect()
    assert h.store.pins() == [live.root] and h.holds(live)
    check_shard(h.store, live.root, live.size, live.possession)  # the live shard is intact
    assert all(h.store.has(c) for c in shared)
    assert not any(h.store.has(b.cid) for b in ended.blocks if b.cid not in shared)
    assert not h.keeper.has(ended.root) and h.keeper.has(live.root)
    assert h.usage_agrees()


def test_content_of_a_slot_job_under_way_stays_pinned(h: Hoster) -> None:
    job = shard(os.urandom(LEAF + 1))
    h.pin(job)  # an upload checked and pinned, its job still reserved (a crash before the state write)
    h.state.add_job(3, 0, cid=cid_str(job.root), root=job.possession, size=job.size, client=CLIENT,
                    mode=PUSH, state=RESERVED, max_collateral=1)  # fmt: skip
    assert h.janitor.unpin_strays(epoch=1) == []
    h.janitor.recover()
    assert h.store.pins() == [job.root] and h.holds(job)


class PausingStore(EmbeddedBlockStore):
    """Pauses after storing blocks (before their pin) until told to go on, or 2 s at most."""

    stored = threading.Event()
    go_on = threading.Event()

    def put_many(self, blocks: Iterable[Block]) -> int:
        n = super().put_many(blocks)
        self.stored.set()
        self.go_on.wait(2.0)  # a collection that did not wait for the pin has run to its end by now
        return n


def test_a_collection_waits_while_checked_content_is_stored_before_its_pin(tmp_path: Path) -> None:
    s = shard(os.urandom(2 * LEAF))
    scratch = EmbeddedBlockStore(tmp_path / "scratch", durable=False)
    scratch.put_many(s.blocks)
    store = PausingStore(tmp_path / "blocks", durable=False)
    kept: list[object] = []
    keeper = threading.Thread(
        target=lambda: kept.append(keep_checked(store, scratch, s.root, s.size, s.possession))
    )
    keeper.start()
    assert store.stored.wait(10)
    store.gc()  # the daemon's collection, while the upload's blocks are stored and not yet pinned
    store.go_on.set()
    keeper.join()
    assert kept, "the upload was refused: its blocks were collected before the pin"
    assert store.pins() == [s.root] and all(store.has(b.cid) for b in s.blocks)


def test_a_collection_runs_when_something_was_unpinned_at_most_every_interval_of_an_epoch(h: Hoster) -> None:
    s = shard(b"gone" * 1000)
    assert not h.janitor.take_due(epoch=1)  # nothing unpinned
    h.pin(s)
    h.janitor.drop(s.root)
    assert h.janitor.take_due(epoch=1)
    h.janitor.drop(s.root)
    assert not h.janitor.take_due(epoch=1)  # one ran less than min_interval ago in this epoch
    assert h.janitor.take_due(epoch=2)  # but each epoch gets its collection
    assert not h.janitor.take_due(epoch=2)


def test_start_up_removes_what_a_kill_left_behind(h: Hoster) -> None:
    kept, gone = shard(os.urandom(LEAF)), shard(os.urandom(LEAF))
    h.deal(kept)
    h.store.put_many(gone.blocks)  # stored, never pinned: the process died before the pin
    upload = h.tmp / "tmp" / "upload-1-0-abc.car"
    scratch = h.tmp / "tmp" / "upload-1-0-abc" / "blocks" / "blocks" / "xy"
    scratch.mkdir(parents=True)
    upload.write_bytes(b"half a CAR" * 1000)
    (scratch / "x.data").write_bytes(b"a block" * 100)
    (h.store.path / "tmp" / "123-4-5").write_bytes(b"half a block")
    (h.keeper.directory / f"{cid_str(gone.root)}.pc").write_bytes(b"stale cache")
    (h.keeper.directory / "tmpabc.tmp").write_bytes(b"half a cache")
    before = store_usage(h.store, h.tmp / "tmp")
    assert before.temp_bytes > 0 and before.unreferenced_bytes == sum(len(b.data) for b in gone.blocks)

    assert h.janitor.recover() == len(b"half a CAR" * 1000) + len(b"a block" * 100)
    assert h.janitor.take_due(epoch=0)  # the first tick collects
    removed, held = h.janitor.collect()
    assert removed.removed_blocks == len(gone.blocks)
    assert held.size_bytes == sum(len(b.data) for b in kept.blocks)
    assert list((h.tmp / "tmp").iterdir()) == [] and list((h.store.path / "tmp").iterdir()) == []
    assert sorted(p.name for p in h.keeper.directory.iterdir()) == [f"{cid_str(kept.root)}.pc"]
    assert h.holds(kept) and h.usage_agrees()


def test_usage_counts_blocks_pins_reach_once_and_reports_missing_ones(h: Hoster) -> None:
    a = shard(os.urandom(3 * LEAF))
    h.deal(a)
    h.deal(a)  # a second deal of the same CID: one pin, counted once
    u = store_usage(h.store)
    assert (u.pins, u.blocks, u.bytes) == (1, len(a.blocks), sum(len(b.data) for b in a.blocks))
    assert u.pinned_bytes == u.bytes and u.unreferenced_bytes == 0
    h.store.put(Block.from_data(b"loose"))
    os.unlink(h.store._block_path(bytes(a.blocks[0].cid.digest)))  # damage: a pinned leaf lost
    u = store_usage(h.store)
    assert u.missing_blocks == 1 and u.unreferenced_bytes == len(b"loose")


def test_a_collection_that_fails_is_due_again(h: Hoster, monkeypatch: pytest.MonkeyPatch) -> None:
    s = shard(b"gone" * 1000)
    h.pin(s)
    h.janitor.drop(s.root)
    assert h.janitor.take_due(epoch=1)

    def broken() -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(h.store, "gc", broken)
    with pytest.raises(OSError):
        h.janitor.collect()
    assert h.janitor.take_due(epoch=2)
