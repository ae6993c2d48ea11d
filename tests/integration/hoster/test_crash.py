"""kill -9 of a real ``scatter hoster run`` at each step, then restart: nothing twice, nothing lost."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scatter.chain.market import DealStatus, Market
from scatter.daemon.state import StateDB
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.protocol.hoster_api import SlotStatus, deal_path, slot_path
from scatter.protocol.upload import CarUpload, upload_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    CLIENT,
    HosterProcess,
    ValidatorNode,
    deal_of,
    make_content,
    post_bid,
    signed_upload,
    wait_until,
)

pytestmark = pytest.mark.integration
H = 3


def _txs(state_dir: Path) -> list[tuple[str, str, str]]:
    db = StateDB(state_dir / "hoster.db")
    try:
        return [(r[0], r[1], r[2]) for r in db.query("SELECT kind, subject, status FROM txs ORDER BY id")]
    finally:
        db.close()


def _state(url: str, bid_id: int) -> str | None:
    resp = httpx.get(url + slot_path(bid_id, 0))
    return SlotStatus.from_json(resp.json()).state if resp.status_code == 200 else None


def _send_half_then_die(url: str, chain: Chain, bid_id: int, car: bytes, root: bytes) -> socket.socket:
    upload = CarUpload(bid_id, 0, root, hashlib.sha256(car).digest(), len(car), int(time.time()) + 600)
    sig = upload.sign(chain.account(CLIENT).key, chain.deployment.chain_id, chain.deployment.market)
    head = "".join(f"{k}: {v}\r\n" for k, v in upload.headers(sig).items())
    s = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)
    s.sendall(
        f"PUT {upload_path(bid_id, 0)} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + car[: len(car) // 2]
    )
    return s


def test_kill_9_at_each_step_never_repeats_a_transaction_or_loses_a_pin(
    chain: Chain, hoster_process: Callable[..., HosterProcess], validators: list[ValidatorNode]
) -> None:
    market = Market(chain.w3, chain.deployment.market)
    me = chain.account(H).address
    p = hoster_process(H)
    first = make_content(b"first deal " * 40_000)
    second = make_content(b"second deal " * 40_000)
    bid1 = post_bid(chain, [first], duration=4)
    bid2 = post_bid(chain, [second], duration=4)

    # 1. Killed after the reserve of bid 1 is recorded, before it is broadcast.
    p.start(crash_at="reserve_signed")
    assert p.wait_killed() == -9
    assert [t for t in _txs(p.state_dir) if t[0] == "reserve"] == [("reserve", f"{bid1}:0", "signed")]
    assert market.reservation_of(bid1, 0).hoster != me
    # 2. Restarted: the same signed reserve is broadcast; killed right after the reserve of bid 2 is sent.
    p.start(crash_at="reserve_sent")
    assert p.wait_killed() == -9
    wait_until(lambda: market.reservation_of(bid1, 0).hoster == me, what="bid 1 reserved on chain")
    wait_until(lambda: market.reservation_of(bid2, 0).hoster == me, what="bid 2 reserved on chain")

    # 3. Killed after an upload is checked and pinned, before its state is written.
    p.start(crash_at="pinned")
    wait_until(lambda: _state(p.url, bid1) == "reserved", what="the reservation read back")
    with contextlib.suppress(httpx.HTTPError):  # the connection dies with the process
        signed_upload(chain, p.url, bid1, 0, first)
    assert p.wait_killed() == -9
    # 4. Restart: bid 1's pin survived (checked again from the store); its fill is recorded, not sent.
    p.start(crash_at="fill_signed")
    assert p.wait_killed() == -9
    assert [t for t in _txs(p.state_dir) if t[0] == "fill"] == [("fill", f"{bid1}:0", "signed")]
    # 5. kill -9 from outside in the middle of an upload for bid 2.
    p.start()
    sock = _send_half_then_die(p.url, chain, bid2, second.car, second.cid_bytes)
    # killed in the middle of the upload (not before it began): once its first bytes are spooled
    wait_until(lambda: any(f.stat().st_size > 0 for f in (p.state_dir / "tmp").glob("*.car")),
               what="the upload's first bytes spooled")  # fmt: skip
    p.kill9()
    sock.close()

    # 6. Restart: the recorded fill goes out as it was; bid 2 is uploaded again; killed once its fill is sent.
    p.start(crash_at="fill_sent")
    wait_until(lambda: _state(p.url, bid2) == "reserved", what="bid 2 still reserved")
    with contextlib.suppress(httpx.HTTPError):
        assert signed_upload(chain, p.url, bid2, 0, second).status_code == 200
    assert p.wait_killed() == -9
    deal1 = wait_until(lambda: deal_of(chain, bid1, me), what="deal 1 on chain") or 0
    deal2 = wait_until(lambda: deal_of(chain, bid2, me), what="deal 2 on chain") or 0

    # 7. Validators check the epochs; killed once the first settlement is recorded but not broadcast.
    p.start(crash_at="settle_signed")
    d1 = market.get_deal(deal1)
    start, end = d1.start_epoch, max(d1.end_epoch, market.get_deal(deal2).end_epoch)
    for deal, content in ((deal1, first), (deal2, second)):
        d = market.get_deal(deal)
        for epoch in range(d.start_epoch, d.end_epoch + 1):
            for v in validators:
                assert v.check(deal, epoch, content.cid, p.url)
    chain.warp_to_epoch(start + 2)
    assert p.wait_killed() == -9
    # 8. Restart: the recorded settlement goes out as it was; once the deals are over, killed after
    #    the next settlement is sent.
    chain.warp_to_epoch(end + 1)
    p.start(crash_at="settle_sent")
    assert p.wait_killed() == -9
    # 9. Restart: nothing is settled again; killed after the first finish is sent.
    p.start(crash_at="finish_sent")
    wait_until(
        lambda: all(market.get_deal(d).paid_through == market.get_deal(d).end_epoch for d in (deal1, deal2)),
        timeout=30,
        what="both deals settled to the end",
    )
    chain.warp_to_epoch(end + market.params().proof_window_epochs + 1)
    assert p.wait_killed() == -9
    # 10. Restart for good: both deals finish, both are unpinned.
    p.start()
    wait_until(lambda: all(market.get_deal(d).status == DealStatus.FINISHED for d in (deal1, deal2)),
               what="both deals finished")  # fmt: skip
    wait_until(lambda: httpx.get(p.url + deal_path(deal1)).json()["state"] == "ended", what="deal 1 ended")
    wait_until(lambda: httpx.get(p.url + deal_path(deal2)).json()["state"] == "ended", what="deal 2 ended")
    p.stop()

    txs = _txs(p.state_dir)
    assert [t for t in txs if t[0] in ("reserve", "fill")] == [
        ("reserve", f"{bid1}:0", "mined"),
        ("reserve", f"{bid2}:0", "mined"),
        ("fill", f"{bid1}:0", "mined"),
        ("fill", f"{bid2}:0", "mined"),
    ]
    assert all(status == "mined" for _, _, status in txs), txs  # nothing reverted, dropped or sent twice
    assert sorted(s for k, s, _ in txs if k == "finish") == sorted([str(deal1), str(deal2)])
    for deal in (deal1, deal2):
        d = market.get_deal(deal)
        events = market.contract.events.DealSettled().get_logs(
            from_block=0, argument_filters={"dealId": deal}
        )
        epochs = [e for ev in events for e in range(ev["args"]["fromEpoch"], ev["args"]["toEpoch"] + 1)]
        assert sorted(epochs) == list(range(d.start_epoch, d.end_epoch + 1))  # every epoch paid, none twice
        assert len([t for t in txs if t[0] == "settle" and str(deal) in t[1].split(",")]) == len(events)
    store = EmbeddedBlockStore(p.state_dir / "blocks")
    assert store.pins() == []  # finished deals unpinned
    store.close()
