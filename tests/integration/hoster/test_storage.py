"""A hoster stores and serves only what its live deals need: extra blocks in a signed CAR are never
kept, refusals name their rule and leave nothing on disk, a kill -9 mid-upload leaves nothing
after the restart, blocks of ended and faulted deals are collected within the epoch (shared ones
stay), and ``scatter hoster status`` shows a store whose size agrees with what is pinned."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from scatter.chain.market import DealStatus, Market
from scatter.daemon.state import StateDB
from scatter.hoster.daemon import HosterThread
from scatter.hoster.gc import dir_bytes, store_usage
from scatter.hoster.possess import check_shard
from scatter.hoster.status import read_status
from scatter.ipfs.block import Block
from scatter.ipfs.car import write_car
from scatter.ipfs.cid import cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes
from scatter.protocol.hoster_api import SlotStatus, deal_path, slot_path
from scatter.protocol.upload import CarUpload, upload_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    CLIENT,
    Content,
    HosterProcess,
    make_content,
    post_bid,
    signed_upload,
    wait_slot,
    wait_until,
)

pytestmark = pytest.mark.integration
H = 6
REQUESTER = 9
LEAF = 1 << 18


def car_of(content: Content, extra: Sequence[Block] = (), drop: frozenset[int] = frozenset()) -> bytes:
    """The content's CAR with ``extra`` blocks appended and the blocks at indexes ``drop`` left out."""
    kept = [b for i, b in enumerate(store_blocks(content)) if i not in drop]
    buf = io.BytesIO()
    write_car(buf, [content.cid], [*kept, *extra])
    return buf.getvalue()


def store_agrees(store: EmbeddedBlockStore, tmp: Path) -> bool:
    u = store_usage(store, tmp)
    return u.bytes == u.pinned_bytes and u.missing_blocks == 0 and u.temp_bytes == 0


def test_extra_blocks_in_a_signed_car_are_neither_kept_nor_served(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    content = make_content(os.urandom(600_000))
    extras = [Block.from_data(os.urandom(40_000)), Block.from_data(b"not paid for " * 1000)]
    bid_id = post_bid(chain, [content])
    wait_slot(h, bid_id, "reserved")
    resp = signed_upload(chain, h.url, bid_id, 0, content, body=car_of(content, extras))
    assert resp.status_code == 200, resp.text
    wait_slot(h, bid_id, "filled")
    store = h.hoster.store
    assert isinstance(store, EmbeddedBlockStore)
    assert store.pins() == [content.cid]
    assert not any(store.has(b.cid) for b in extras)
    for b in extras:
        assert httpx.get(f"{h.url}/ipfs/{cid_str(b.cid)}", params={"format": "raw"}).status_code == 404
    assert httpx.get(f"{h.url}/ipfs/{cid_str(content.cid)}", params={"format": "car"}).status_code == 200
    assert store_agrees(store, h.hoster.config.state_dir / "tmp")


def test_refused_uploads_name_their_rule_and_leave_nothing_on_disk(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    content, other = make_content(os.urandom(600_000)), make_content(os.urandom(600_000))
    wrong_root = post_bid(chain, [content])
    wrong_size = post_bid(chain, [content], size=content.size + 1)
    missing_leaf = post_bid(chain, [content])
    for bid_id in (wrong_root, wrong_size, missing_leaf):
        wait_slot(h, bid_id, "reserved")

    # A CAR naming another root, signed for the slot's CID: refused for its root (before any import).
    resp = signed_upload(chain, h.url, wrong_root, 0, content, body=other.car)
    assert resp.status_code == 400
    assert resp.text.startswith(f"CAR root is {cid_str(other.cid)}, the slot names {cid_str(content.cid)}")
    # The right DAG for a slot one byte larger: refused at pin time for its size.
    resp = signed_upload(chain, h.url, wrong_size, 0, content)
    assert resp.status_code == 422
    assert f"is {content.size} bytes, but the slot says {content.size + 1}" in resp.text
    # One leaf missing.
    resp = signed_upload(chain, h.url, missing_leaf, 0, content, body=car_of(content, drop=frozenset({1})))
    assert resp.status_code == 400 and f"the DAG of {cid_str(content.cid)} lacks block" in resp.text

    for bid_id, reason in ((wrong_root, "CAR root is"), (wrong_size, "but the slot says"),
                           (missing_leaf, "lacks block")):  # fmt: skip
        job = h.hoster.state.job(bid_id, 0)
        assert job is not None and job.state == "reserved" and reason in job.note
    assert h.hoster.metrics.uploads.labels("rejected")._value.get() == 3
    # A client that hangs up mid-upload: its temp file goes with the request.
    tmp = h.hoster.config.state_dir / "tmp"
    sock = _send_half(h.url, chain, missing_leaf, content)
    wait_until(lambda: dir_bytes(tmp) > 0, what="part of the upload on disk")
    sock.close()
    wait_until(lambda: dir_bytes(tmp) == 0, what="the temp file of the cut upload removed")
    store = h.hoster.store
    assert isinstance(store, EmbeddedBlockStore)
    assert store.stat().block_count == 0 and store.pins() == [] and store.temp_bytes() == 0
    assert dir_bytes(h.hoster.config.state_dir / "tmp") == 0


def test_an_ended_deals_blocks_are_collected_within_the_epoch_and_shared_ones_stay(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    market = Market(chain.w3, chain.deployment.market)
    common = os.urandom(2 * LEAF)
    short, long = make_content(common + os.urandom(LEAF)), make_content(common + os.urandom(LEAF))
    deals = []
    for content, duration in ((short, 2), (long, 100)):
        bid_id = post_bid(chain, [content], duration=duration)
        wait_slot(h, bid_id, "reserved")
        assert signed_upload(chain, h.url, bid_id, 0, content).status_code == 200
        wait_slot(h, bid_id, "filled")
        deals.append(h.hoster.state.job(bid_id, 0).deal_id)  # type: ignore[union-attr]
    ended = deals[0]
    assert ended is not None
    store = h.hoster.store
    assert isinstance(store, EmbeddedBlockStore)
    shared = {b.cid for b in store_blocks(long)} & {b.cid for b in store_blocks(short)}
    only_short = [b.cid for b in store_blocks(short) if b.cid not in shared]
    assert len(shared) == 2 and all(store.has(c) for c in only_short)

    d = market.get_deal(ended)
    chain.warp_to_epoch(d.end_epoch + market.params().proof_window_epochs + 3)  # the hoster finishes it
    epoch = market.current_epoch()
    wait_until(lambda: market.get_deal(ended).status == DealStatus.FINISHED, 30, "the short deal finished")
    wait_until(lambda: not any(store.has(c) for c in only_short), 30, "its blocks collected")
    assert market.current_epoch() == epoch  # within the epoch
    assert store.pins() == [long.cid] and all(store.has(c) for c in shared)
    check_shard(store, long.cid, long.size, long.root)  # the live shard is whole
    assert store_agrees(store, h.hoster.config.state_dir / "tmp")
    m = h.hoster.metrics
    wait_until(lambda: m.store_bytes._value.get() == store.stat().size_bytes, what="the store size metric")
    assert m.gc_freed._value.get() >= sum(len(b.data) for b in store_blocks(short) if b.cid not in shared)


def store_blocks(content: Content) -> list[Block]:
    return list(import_bytes(content.data, cid_version=1)[1])


# ------------------------------------------------------------ a real process, killed


def _slot(url: str, bid_id: int) -> str | None:
    resp = httpx.get(url + slot_path(bid_id, 0))
    return SlotStatus.from_json(resp.json()).state if resp.status_code == 200 else None


def _send_half(url: str, chain: Chain, bid_id: int, content: Content) -> socket.socket:
    car = content.car
    upload = CarUpload(
        bid_id, 0, content.cid_bytes, hashlib.sha256(car).digest(), len(car), int(time.time()) + 600
    )
    sig = upload.sign(chain.account(CLIENT).key, chain.deployment.chain_id, chain.deployment.market)
    head = "".join(f"{k}: {v}\r\n" for k, v in upload.headers(sig).items())
    s = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)
    s.sendall(
        f"PUT {upload_path(bid_id, 0)} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + car[: len(car) // 2]
    )
    return s


def _status(state_dir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "scatter", "hoster", "status", "--json", "--state-dir", str(state_dir)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def _agrees(state_dir: Path) -> bool:
    db = StateDB(state_dir / "hoster.db")
    try:
        store = read_status(db, state_dir)["store"]
    finally:
        db.close()
    return bool(
        store["bytes"] == store["pinned_bytes"] and store["temp_bytes"] == 0 and store["stray_pins"] == 0
    )


def _fault(chain: Chain, deal_id: int) -> None:
    """Three missed proofs while the hoster is down: the deal ends faulted."""
    market = Market(chain.w3, chain.deployment.market)
    p = market.params()
    chain.warp_to_epoch(market.get_deal(deal_id).paid_through + p.missed_quorum_epochs + 1)
    chain.market(REQUESTER).request_proof_for_missed_quorum(deal_id)
    while market.get_deal(deal_id).status == DealStatus.ACTIVE:
        chain.warp_to_epoch(market.challenge_of(deal_id).due_epoch + 1)
        chain.market(REQUESTER).report_missed_proof(deal_id)
    assert market.get_deal(deal_id).status == DealStatus.FAULTED


def test_store_agrees_with_what_is_pinned_after_a_fault_a_cancel_and_kills(
    chain: Chain, hoster_process: Callable[..., HosterProcess], tmp_path: Path
) -> None:
    market = Market(chain.w3, chain.deployment.market)
    p = hoster_process(H)
    state_dir = p.state_dir
    faulted, cancelled, kept = (make_content(os.urandom(400_000)) for _ in range(3))

    # 1. A deal filled, then the hoster is killed and misses three proofs: the deal faults.
    p.start()
    bid_f = post_bid(chain, [faulted], duration=200)
    wait_until(lambda: _slot(p.url, bid_f) == "reserved", what="reserved")
    assert signed_upload(chain, p.url, bid_f, 0, faulted).status_code == 200
    wait_until(lambda: _slot(p.url, bid_f) == "filled", what="filled")
    deal_f = SlotStatus.from_json(httpx.get(p.url + slot_path(bid_f, 0)).json()).deal_id
    assert deal_f is not None
    p.kill9()
    _fault(chain, deal_f)

    # 2. A public pin fetched and pinned, the hoster killed before it fills; the client cancels the slot.
    origin_store = EmbeddedBlockStore(tmp_path / "origin")
    origin_store.import_car(io.BytesIO(cancelled.car))
    with GatewayServer(create_gateway_app(origin_store)) as origin:
        bid_c = post_bid(chain, [cancelled], origins=[f"{origin.url}/ipfs/{cid_str(cancelled.cid)}"])
        p.start(crash_at="pinned")
        assert p.wait_killed() == -9
    origin_store.close()
    chain.market(CLIENT).cancel(bid_c, 0)

    # 3. A push killed from outside mid-upload: its temp file is left on disk by the kill...
    bid_k = post_bid(chain, [kept], duration=200)
    p.start()
    wait_until(lambda: _slot(p.url, bid_k) == "reserved", what="reserved")
    sock = _send_half(p.url, chain, bid_k, kept)
    tmp = state_dir / "tmp"
    wait_until(lambda: dir_bytes(tmp) > 0, what="part of the upload on disk")
    p.kill9()
    sock.close()
    assert dir_bytes(tmp) > 0
    # 4. ...and gone at the restart. Then killed after the checked blocks are stored, before the pin.
    p.start(crash_at="blocks_stored")
    assert dir_bytes(tmp) == 0
    with pytest.raises(httpx.HTTPError):  # the connection dies with the process
        signed_upload(chain, p.url, bid_k, 0, kept)
    assert p.wait_killed() == -9
    store = EmbeddedBlockStore(state_dir / "blocks")
    assert store.has(kept.cid) and kept.cid not in store.pins()  # stored, unpinned
    store.close()

    # 5. Restarted for good: the unpinned blocks are collected at once; the push is taken again;
    #    the faulted deal and the cancelled slot's content are gone.
    p.start()
    store = EmbeddedBlockStore(state_dir / "blocks")
    wait_until(lambda: not store.has(kept.cid), what="the unpinned blocks collected")
    assert signed_upload(chain, p.url, bid_k, 0, kept).status_code == 200
    wait_until(lambda: _slot(p.url, bid_k) == "filled", what="filled")
    wait_until(lambda: httpx.get(p.url + deal_path(deal_f)).json()["state"] == "ended", what="fault seen")
    wait_until(lambda: _slot(p.url, bid_c) == "lost", what="the cancelled slot given up")
    wait_until(lambda: _agrees(state_dir), 30, "the store to agree with its pins")
    assert store.pins() == [kept.cid] and not store.has(faulted.cid) and not store.has(cancelled.cid)
    store.close()
    assert market.get_bid(bid_c).open_slots == 0

    report = _status(state_dir)
    s = report["store"]
    assert s["pins"] == 1 and s["bytes"] == s["pinned_bytes"] > kept.size and s["unreferenced_bytes"] == 0
    assert s["temp_bytes"] == 0 and s["missing_blocks"] == 0 and s["stray_pins"] == 0
    assert report["deals"] == {"ended": 1, "pinned": 1}
