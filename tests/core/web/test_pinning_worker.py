"""The pinning worker over a real SQLite store and a fake market: pin requests become bids,
deal states become queued/pinning/pinned/failed, each token's spend cap holds, removals cancel
and refund. Origins: which the node reads, which it refuses. (The real market: tests/e2e.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from scatter.errors import ScatterConnectionError, ScatterValueError
from scatter.web.pinning import PinningService
from scatter.web.pinning.addresses import endpoint_multiaddr, origin_url
from scatter.web.pinning.models import Pin
from scatter.web.pinning.settings import PinSettings
from scatter.web.pinning.store import PinStore
from scatter.web.pinning.worker import PinWorker, Progress, Quote

CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
ORIGIN = "/dns4/gw.example/tcp/443/https"
DURATION_EPOCHS = 100  # what the fake market's bids run for; renew_before 25% = 25 epochs


@dataclass
class FakeMarket:
    escrow: int = 1000
    size: int = 100
    unreachable: int = 0  # quotes that fail before one succeeds
    filled: int = 0
    open_slots: int = 3
    bids: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    read_from: list[tuple[str, ...]] = field(default_factory=list)
    block: int = 100
    posted_at: dict[int, int] = field(default_factory=dict)  # bid id -> block
    # how the next post goes wrong: "crash-before" (the node dies before sending), "crash-after"
    # (dies once it is mined, before the worker records its id), "lost-receipt" (mined; the
    # receipt never comes back)
    mishap: str | None = None
    fills: dict[int, int] = field(default_factory=dict)  # bid id -> filled slots (else ``filled``)
    epochs_left: dict[int, int] = field(default_factory=dict)  # bid id -> epochs its deals have left

    def renewal_quote(self, bid_id: int, settings: PinSettings) -> Quote:
        return Quote(self.size, b"\x01" * 32, 1, self.escrow // settings.replicas, self.escrow)

    def renew_margin(self, settings: PinSettings) -> int:
        return settings.renew_margin(DURATION_EPOCHS, lambda d: int(d.removesuffix("epochs")))

    def quote(self, cid: str, gateways: Sequence[str], settings: PinSettings) -> Quote:
        self.read_from.append(tuple(gateways))
        if self.unreachable:
            self.unreachable -= 1
            raise ScatterConnectionError("could not read it")
        return Quote(self.size, b"\x01" * 32, 1, self.escrow // settings.replicas, self.escrow)

    def post(self, cid: str, quote: Quote, replicas: int, origins: Sequence[str]) -> int:
        mishap, self.mishap = self.mishap, None
        if mishap == "crash-before":
            raise Crash
        self.block += 1
        self.bids.append((cid, replicas, tuple(origins)))
        self.posted_at[len(self.bids)] = self.block
        if mishap == "crash-after":
            raise Crash
        if mishap == "lost-receipt":
            raise ScatterConnectionError("no receipt within 120 s")
        return len(self.bids)

    def head(self) -> int:
        return self.block

    def find_posted(self, cid: str, from_block: int, exclude: set[int]) -> int | None:
        for bid_id, (bid_cid, _, _) in enumerate(self.bids, start=1):
            if bid_cid == cid and self.posted_at[bid_id] >= from_block and bid_id not in exclude:
                return bid_id
        return None

    def progress(self, bid_id: int) -> Progress:
        filled = self.fills.get(bid_id, self.filled)
        endpoints = tuple(f"http://127.0.0.1:{8710 + i}" for i in range(filled))
        left = self.epochs_left.get(bid_id, DURATION_EPOCHS) if filled else None
        return Progress(slots=3, filled=filled, open=self.open_slots, endpoints=endpoints, epochs_left=left)

    def cancel(self, bid_id: int) -> tuple[int, bool]:
        self.cancelled.append(bid_id)
        return self.escrow, True


class Crash(BaseException):
    """The node's process dies here (nothing in the worker catches it)."""


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[PinStore]:
    s = PinStore(tmp_path / "pins.sqlite")
    yield s
    s.close()


def _worker(store: PinStore, market: FakeMarket, **settings: object) -> PinWorker:
    return PinWorker(store, market, PinSettings(db=store.path, **settings))  # type: ignore[arg-type]


def _pin(store: PinStore, cap: int = 10_000, origins: tuple[str, ...] = (ORIGIN,)) -> tuple[int, str]:
    token, _ = store.create_token("t", cap)
    rec = store.add(token.id, Pin(cid=CID, origins=origins), max_pending=10)
    return token.id, rec.requestid


def test_a_pin_goes_queued_pinning_pinned_as_the_bid_fills(store: PinStore) -> None:
    market = FakeMarket()
    token_id, rid = _pin(store)
    worker = _worker(store, market)
    assert store.get(token_id, rid).status == "queued"
    worker.run_once(now_ms=10**13)
    rec = store.get(token_id, rid)
    assert rec.status == "pinning" and rec.bid_id == 1 and rec.info["replicas"] == "0/3"
    assert market.bids == [(CID, 3, ("https://gw.example",))]  # origins become the bid's
    assert store.token(token_id).spent == market.escrow
    market.filled = 2
    worker.run_once(now_ms=10**13 + 10_000)
    assert store.get(token_id, rid).status == "pinning"
    market.filled, market.open_slots = 3, 0
    worker.run_once(now_ms=10**13 + 20_000)
    rec = store.get(token_id, rid)
    assert rec.status == "pinned" and rec.info["replicas"] == "3/3"
    assert rec.delegates == tuple(f"/ip4/127.0.0.1/tcp/{8710 + i}/http" for i in range(3))


def test_the_spend_cap_fails_a_pin_before_any_bid(store: PinStore) -> None:
    market = FakeMarket(escrow=600)
    token_id, first = _pin(store, cap=1000)
    second = store.add(token_id, Pin(cid=CID, origins=(ORIGIN,)), max_pending=10).requestid
    _worker(store, market).run_once(now_ms=10**13)
    assert store.get(token_id, first).status == "pinning"
    rec = store.get(token_id, second)
    assert rec.status == "failed" and rec.info["status_details"].startswith("INSUFFICIENT_FUNDS")
    assert len(market.bids) == 1 and store.token(token_id).spent == 600


def test_a_removed_pin_cancels_its_open_slots_and_gives_the_budget_back(store: PinStore) -> None:
    market = FakeMarket()
    token_id, rid = _pin(store)
    worker = _worker(store, market)
    worker.run_once(now_ms=10**13)
    store.remove(token_id, rid)
    worker.run_once(now_ms=10**13)
    assert market.cancelled == [1] and store.token(token_id).spent == 0
    assert store.unsettled_removals() == []


def test_unreachable_content_is_retried_then_failed(store: PinStore) -> None:
    market = FakeMarket(unreachable=5)
    token_id, rid = _pin(store)
    worker = _worker(store, market, fetch_attempts=3)
    now = 10**13
    worker.run_once(now_ms=now)
    rec = store.get(token_id, rid)
    assert rec.status == "queued" and "attempt 1 of 3" in rec.info["status_details"]
    worker.run_once(now_ms=now)  # not due yet: no second read
    assert len(market.read_from) == 1
    for _ in range(2):
        now += 10**6
        worker.run_once(now_ms=now)
    rec = store.get(token_id, rid)
    assert rec.status == "failed" and "CONTENT_UNREACHABLE" in rec.info["status_details"]
    assert market.bids == [] and store.token(token_id).spent == 0


def test_a_pin_no_hoster_fills_fails_after_the_fill_timeout_with_a_refund(store: PinStore) -> None:
    market = FakeMarket()
    token_id, rid = _pin(store)
    worker = _worker(store, market, fill_timeout=60.0)
    created = store.get(token_id, rid).created
    worker.run_once(now_ms=created + 1)
    worker.run_once(now_ms=created + 30_000)
    assert store.get(token_id, rid).status == "pinning"
    worker.run_once(now_ms=created + 61_000)
    rec = store.get(token_id, rid)
    assert rec.status == "failed" and "NOT_FILLED" in rec.info["status_details"]
    assert market.cancelled == [1] and store.token(token_id).spent == 0


def test_too_big_content_fails_without_a_bid(store: PinStore) -> None:
    market = FakeMarket(size=2000)
    token_id, rid = _pin(store)
    _worker(store, market, max_size=1000).run_once(now_ms=10**13)
    assert store.get(token_id, rid).status == "failed" and market.bids == []


@pytest.mark.parametrize(
    "origins,private,read",
    [
        ((), False, None),  # nothing to read: failed, no gateway
        (("/ip4/1.2.3.4/tcp/4001/p2p/QmPeer",), False, None),  # libp2p only
        (("/ip4/127.0.0.1/tcp/8080/http",), False, None),  # loopback: refused off dev networks
        (("http://169.254.169.254",), False, None),  # cloud metadata address
        (("/ip4/127.0.0.1/tcp/8080/http",), True, ("http://127.0.0.1:8080",)),
        (("https://gw.example/", "/dns/gw.example/https"), False, ("https://gw.example",)),
    ],
)
def test_which_origins_the_node_reads(
    store: PinStore, origins: tuple[str, ...], private: bool, read: tuple[str, ...] | None
) -> None:
    market = FakeMarket()
    token_id, rid = _pin(store, origins=origins)
    _worker(store, market, allow_private_origins=private).run_once(now_ms=10**13)
    if read is None:
        rec = store.get(token_id, rid)
        assert rec.status == "failed" and "NO_ORIGIN" in rec.info["status_details"]
        assert market.read_from == []
    else:
        assert market.read_from == [read]


def test_configured_gateways_are_read_after_the_pins_own_origins(store: PinStore) -> None:
    market = FakeMarket()
    _pin(store, origins=(ORIGIN,))
    _worker(store, market, gateways=("https://trustless.example",)).run_once(now_ms=10**13)
    assert market.read_from == [("https://gw.example", "https://trustless.example")]


@pytest.mark.parametrize(
    "url,addr",
    [("http://127.0.0.1:8710", "/ip4/127.0.0.1/tcp/8710/http"),
     ("https://h.example", "/dns/h.example/tcp/443/https"), ("http://[::1]:5/", "/ip6/::1/tcp/5/http"),
     ("ftp://x", None), ("http://h:99999", None), ("http://[x", None)],
)  # fmt: skip
def test_hoster_endpoints_as_delegate_multiaddrs(url: str, addr: str | None) -> None:
    assert endpoint_multiaddr(url) == addr


@pytest.mark.parametrize(
    "origin",
    ["http://u:p@gw.example", "https://gw.example/ipfs/x", "/ip4/999.1.1.1/tcp/80/http", "/tcp/80/http",
     "/ip4/1.2.3.4/tcp/0/http", "/ip4/1.2.3.4/udp/80/quic", "http://[bad"],
)  # fmt: skip
def test_malformed_origins_are_skipped(origin: str) -> None:
    assert origin_url(origin, allow_private=True) is None


def test_a_pin_whose_handling_breaks_waits_while_the_others_go_on(store: PinStore) -> None:
    market = FakeMarket()
    token_id, broken = _pin(store)
    fine = store.add(token_id, Pin(cid=CID, origins=("https://other.example",)), max_pending=10).requestid
    real_quote = market.quote

    def quote(cid: str, gateways: Sequence[str], settings: PinSettings) -> Quote:
        if gateways[0] == "https://gw.example":
            raise RuntimeError("a bug")
        return real_quote(cid, gateways, settings)

    market.quote = quote  # type: ignore[method-assign]
    worker = _worker(store, market)
    for step in range(3):
        worker.run_once(now_ms=10**13 + step * 10_000)
    rec = store.get(token_id, broken)
    assert rec.status == "pinning" and rec.bid_id is None and "a bug" in rec.info["status_details"]
    assert store.get(token_id, fine).bid_id == 1


def test_one_worker_per_store(tmp_path: Path) -> None:
    settings = PinSettings(db=tmp_path / "pins.sqlite", poll_interval=0.05)
    first = PinningService(settings, cast(Any, object())).start()  # no due pin: the SDK is never used
    second = PinningService(settings, cast(Any, object()))
    try:
        with pytest.raises(ScatterValueError, match="one worker per store"):
            second.start()
        first.stop()
        second.start()  # the lock went with the first
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize("mishap", ["crash-after", "lost-receipt"])
def test_a_bid_sent_but_not_recorded_is_found_not_posted_again(store: PinStore, mishap: str) -> None:
    market = FakeMarket(mishap=mishap)
    token_id, rid = _pin(store)
    with contextlib.suppress(Crash):  # the process died; a new worker starts on the same store
        _worker(store, market).run_once(now_ms=10**13)
    _worker(store, market).run_once(now_ms=10**13 + 60_000)
    rec = store.get(token_id, rid)
    assert len(market.bids) == 1, "a second bid was posted for the same pin"
    assert rec.bid_id == 1 and rec.status == "pinning"
    assert store.token(token_id).spent == market.escrow  # charged once


def test_a_crash_before_the_bid_went_out_posts_it_once_and_charges_once(store: PinStore) -> None:
    market = FakeMarket(mishap="crash-before")
    token_id, rid = _pin(store)
    with pytest.raises(Crash):
        _worker(store, market).run_once(now_ms=10**13)
    assert store.token(token_id).spent == market.escrow and market.bids == []
    _worker(store, market).run_once(now_ms=10**13 + 60_000)
    assert len(market.bids) == 1 and store.get(token_id, rid).bid_id == 1
    assert store.token(token_id).spent == market.escrow


def test_a_pin_removed_while_its_bid_is_unrecorded_cancels_that_bid(store: PinStore) -> None:
    market = FakeMarket(mishap="crash-after")
    token_id, rid = _pin(store)
    with pytest.raises(Crash):
        _worker(store, market).run_once(now_ms=10**13)
    store.remove(token_id, rid)
    _worker(store, market).run_once(now_ms=10**13 + 60_000)
    assert market.cancelled == [1] and store.token(token_id).spent == 0
    assert store.unsettled_removals() == []


_ADDED_IN = {2: ("bid_block",), 3: ("prev_bids", "renew_block", "renew_escrow", "renewed")}


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_is_migrated_in_place(tmp_path: Path, version: int) -> None:
    import sqlite3

    path = tmp_path / "pins.sqlite"
    old = PinStore(path)
    token_id, rid = _pin(old)
    old.update(rid, status="pinned", bid_id=7)
    old.close()
    db = sqlite3.connect(path)  # the store as that version wrote it
    for added in range(version + 1, 4):
        for column in _ADDED_IN[added]:
            db.execute(f"ALTER TABLE pins DROP COLUMN {column}")
    db.execute(f"PRAGMA user_version={version}")
    db.close()
    s = PinStore(path)
    try:
        rec = s.get(token_id, rid)
        assert (rec.status, rec.bid_id, rec.bid_block, rec.prev_bids, rec.renew_block) == (
            "pinned",
            7,
            None,
            (),
            None,
        )
        market = FakeMarket(filled=3, epochs_left={7: 1})
        _worker(s, market).run_once(now_ms=10**14)  # the migrated pin renews
        assert s.get(token_id, rid).prev_bids == (7,)
    finally:
        s.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    db.close()


# ---------------------------------------------------------------------- renewal


def _pinned(store: PinStore, market: FakeMarket, cap: int = 10_000) -> tuple[PinWorker, int, str]:
    """A pin whose bid 1 is filled: pinned, its deals 100 epochs from their end."""
    token_id, rid = _pin(store, cap=cap)
    worker = _worker(store, market)
    worker.run_once(now_ms=10**13)
    market.fills[1] = 3
    worker.run_once(now_ms=10**13 + 1)
    assert store.get(token_id, rid).status == "pinned"
    return worker, token_id, rid


def test_a_pinned_pin_is_renewed_before_its_deals_end_and_stays_pinned(store: PinStore) -> None:
    market = FakeMarket()
    worker, token_id, rid = _pinned(store, market)
    market.epochs_left[1] = 26  # not yet within renew_before (25% of 100 epochs)
    worker.run_once(now_ms=10**14)
    assert len(market.bids) == 1
    market.epochs_left[1] = 25
    worker.run_once(now_ms=2 * 10**14)
    rec = store.get(token_id, rid)
    assert len(market.bids) == 2 and market.bids[1] == (CID, 3, ("https://gw.example",))
    assert rec.status == "pinned" and rec.bid_id == 2 and rec.info["bid_id"] == "2" and rec.prev_bids == (1,)
    assert store.token(token_id).spent == 2 * market.escrow  # charged like the first bid
    market.fills[2] = 1  # the renewal fills while bid 1's deals still hold every replica
    worker.run_once(now_ms=3 * 10**14)
    rec = store.get(token_id, rid)
    assert rec.status == "pinned" and "renewal, bid 2: 1 of 3" in rec.info["status_details"]
    market.fills[2] = 3
    worker.run_once(now_ms=4 * 10**14)
    rec = store.get(token_id, rid)
    assert rec.status == "pinned" and rec.bid_id == 2 and len(market.bids) == 2  # renewed once
    market.fills[1] = 0  # bid 1's deals ended: the renewal holds it
    worker.run_once(now_ms=5 * 10**14)
    assert store.get(token_id, rid).status == "pinned" and len(market.bids) == 2


def test_a_renewal_past_the_tokens_cap_fails_the_pin_and_bids_nothing(store: PinStore) -> None:
    market = FakeMarket()
    worker, token_id, rid = _pinned(store, market, cap=1500)
    market.epochs_left[1] = 1
    worker.run_once(now_ms=10**14)
    rec = store.get(token_id, rid)
    assert rec.status == "failed" and rec.info["status_details"].startswith(
        "INSUFFICIENT_FUNDS: renewing bid 1"
    )
    assert len(market.bids) == 1 and store.token(token_id).spent == market.escrow
    worker.run_once(now_ms=2 * 10**14)  # a failed pin is not looked at again
    assert len(market.bids) == 1


@pytest.mark.parametrize("how", ["removed", "revoked"])
def test_a_removed_pin_or_a_revoked_tokens_pin_is_never_renewed(store: PinStore, how: str) -> None:
    market = FakeMarket()
    worker, token_id, rid = _pinned(store, market)
    market.epochs_left[1] = 1
    stale = store.record(rid)  # read by the worker's pass before the removal (or revocation) lands
    if how == "removed":
        store.remove(token_id, rid)
    else:
        store.revoke_token(token_id)
    worker._renew(stale, 10**14)
    worker.run_once(now_ms=10**14)
    assert len(market.bids) == 1, "a renewal was bid"
    assert store.token(token_id).spent == (0 if how == "removed" else market.escrow)


@pytest.mark.parametrize("mishap", ["crash-before", "crash-after", "lost-receipt"])
def test_a_crash_while_renewing_bids_once_and_charges_once(store: PinStore, mishap: str) -> None:
    market = FakeMarket()
    _, token_id, rid = _pinned(store, market)
    market.epochs_left[1], market.mishap = 1, mishap
    with contextlib.suppress(Crash):  # the process died; a new worker starts on the same store
        _worker(store, market).run_once(now_ms=10**14)
    _worker(store, market).run_once(now_ms=2 * 10**14)
    rec = store.get(token_id, rid)
    assert len(market.bids) == 2, "the renewal was bid twice (or never)"
    assert rec.bid_id == 2 and rec.prev_bids == (1,) and rec.status == "pinned"
    assert store.token(token_id).spent == 2 * market.escrow  # charged once for the renewal


def test_a_pin_removed_while_its_renewal_is_unrecorded_cancels_both_bids(store: PinStore) -> None:
    market = FakeMarket()
    _, token_id, rid = _pinned(store, market)
    market.epochs_left[1], market.mishap = 1, "crash-after"
    with pytest.raises(Crash):
        _worker(store, market).run_once(now_ms=10**14)
    store.remove(token_id, rid)
    _worker(store, market).run_once(now_ms=2 * 10**14)
    assert market.cancelled == [1, 2] and store.unsettled_removals() == []
    assert store.record(rid).bid_id == 2 and store.record(rid).renew_block is None


def test_renew_before_is_a_share_of_the_duration_or_a_duration() -> None:
    def epochs(d: str) -> int:
        return int(d.removesuffix("epochs"))

    assert PinSettings().renew_margin(720, epochs) == 180
    assert PinSettings(renew_before="10epochs").renew_margin(720, epochs) == 10
    assert PinSettings(renew_before="5000epochs").renew_margin(720, epochs) == 719  # before the end
    with pytest.raises(ValueError, match="1% to 90%"):
        PinSettings(renew_before="0%")
    with pytest.raises(ValueError, match="invalid duration"):
        PinSettings(renew_before="3x")


def test_a_renewed_bid_is_never_taken_by_another_pins_recovery(store: PinStore) -> None:
    market = FakeMarket()
    _, token_id, first = _pinned(store, market)  # bid 1
    second = store.add(token_id, Pin(cid=CID, origins=(ORIGIN,)), max_pending=10).requestid
    market.mishap = "crash-before"  # the second pin is charged from the block bid 1 is in; no bid
    with pytest.raises(Crash):
        _worker(store, market).run_once(now_ms=10**13 + 2)
    market.epochs_left[1] = 1  # the first pin renews (bid 2) before the second recovers
    _worker(store, market).run_once(now_ms=10**14)
    assert store.record(first).bid_id == 2 and store.record(first).prev_bids == (1,)
    assert store.record(second).bid_id == 3, "the second pin took the first pin's renewed bid"
