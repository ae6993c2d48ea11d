"""Griefing clients cost the hoster nothing (T5): a client that never pushes pays the reservation fee;
content that does not match the slot (a DAG bomb, the wrong possession root, the wrong size, the
wrong DAG) is refused: nothing filled, nothing locked, nothing left on disk."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from scatter.chain.market import Market, Role
from scatter.hoster.daemon import HosterThread
from scatter.hoster.possess import dag_overhead_limit
from scatter.ipfs.block import Block
from scatter.ipfs.car import write_car
from scatter.ipfs.cid import CODEC_DAG_PB
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    PRICE,
    Content,
    make_content,
    post_bid,
    signed_upload,
    slot_state,
    wait_slot,
    wait_until,
)

pytestmark = pytest.mark.integration
H = 2


def bloated(data: bytes, leaf: int = 1 << 18, pad: int = 12_000) -> Content:
    """A DAG of ``data`` whose root links carry ``pad``-byte names: right bytes, too many block bytes."""
    leaves = [Block.from_data(data[i : i + leaf]) for i in range(0, len(data), leaf)]
    ufs = UnixFSData(UnixFSType.FILE, filesize=len(data), blocksizes=tuple(len(b.data) for b in leaves))
    links = tuple(PBLink(b.cid, "x" * pad, len(b.data)) for b in leaves)
    root = Block.from_data(encode_node(PBNode(links, encode_unixfs(ufs))), codec=CODEC_DAG_PB)
    buf = io.BytesIO()
    write_car(buf, [root.cid], [*leaves, root])
    honest = make_content(data)
    return Content(root.cid, buf.getvalue(), data, honest.root)


def nothing_kept(h: HosterThread, content: Content) -> bool:
    """No block of the content in the store, no pin, no possession cache, no temp file."""
    hoster = h.hoster
    tmp = hoster.config.state_dir / "tmp"
    return (
        not hoster.store.has(content.cid)
        and content.cid not in hoster.store.pins()
        and not any((hoster.config.state_dir / "possession").iterdir())
        and (not tmp.exists() or not any(tmp.iterdir()))
    )


def test_a_client_that_never_pushes_pays_the_reservation_fee_and_locks_nothing(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    me = chain.account(H).address
    market = Market(chain.w3, chain.deployment.market)
    content = make_content(b"never sent " * 1000)
    bid_id = post_bid(chain, [content], duration=6)
    wait_slot(h, bid_id, "reserved")
    expires = market.reservation_of(bid_id, 0).expires_at
    chain.w3.provider.make_request("evm_mine", [expires + 1])  # type: ignore[arg-type]
    wait_slot(h, bid_id, "released")
    assert market.balance_of(me) == PRICE  # one epoch of the slot, from the client's escrow
    assert (
        market.node(Role.HOSTER, me).locked == 0
        and market.node(Role.HOSTER, me).stake == h.hoster.config.stake
    )
    assert market.slot_epochs(bid_id, 0) == 5 and market.get_bid(bid_id).open_slots == 1


@pytest.mark.parametrize("attack", ["dag_bomb", "wrong_root", "wrong_size", "wrong_dag"])
def test_content_that_does_not_match_the_slot_is_refused_and_nothing_is_kept(
    chain: Chain, start_hoster: Callable[..., HosterThread], attack: str
) -> None:
    h = start_hoster(H)
    me = chain.account(H).address
    market = Market(chain.w3, chain.deployment.market)
    data = os.urandom(1 << 20)
    honest = make_content(data)
    if attack == "dag_bomb":  # the right bytes under a DAG of more block bytes than the shard needs
        pushed = bloated(data)
        assert len(pushed.car) > dag_overhead_limit(len(data))
        bid_id = post_bid(chain, [pushed])
    elif attack == "wrong_root":  # the client committed a possession root of other bytes
        pushed = honest
        bid_id = post_bid(chain, [honest], roots=[make_content(os.urandom(1 << 20)).root])
    elif attack == "wrong_size":  # one byte more than the content: same segments, same root
        pushed = honest
        bid_id = post_bid(chain, [honest], size=len(data) + 1)
    else:  # another DAG under a signature for the slot's CID
        pushed = make_content(os.urandom(1 << 20))
        bid_id = post_bid(chain, [honest])
    wait_slot(h, bid_id, "reserved")
    body = pushed.car
    resp = signed_upload(chain, h.url, bid_id, 0, pushed if attack != "wrong_dag" else honest, body=body)
    assert resp.status_code in (400, 413, 422), resp.text
    wait_until(lambda: h.hoster._tick_count > 5, timeout=60, what="a few full passes")
    job = h.hoster.state.job(bid_id, 0)
    assert job is not None and job.state == "reserved" and "refused" in job.note
    assert market.get_bid(bid_id).open_slots == 1  # nothing filled
    assert market.node(Role.HOSTER, me).locked == 0  # nothing locked
    assert nothing_kept(h, pushed) and nothing_kept(h, honest)


def test_content_pushed_before_the_reservation_is_mined_is_filled_only_once_it_is(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    """A client that reads the node's pending state pushes while the hoster's reserve waits for
    its block: the hoster takes the content, and sends its fill only after the reservation."""
    h = start_hoster(H)
    content = make_content(os.urandom(50_000))
    rpc = chain.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(1) as pool:
            posted = pool.submit(post_bid, chain, [content])
            wait_until(lambda: chain.w3.eth.get_block_transaction_count("pending") > 0, what="the bid sent")
            rpc("evm_mine", [])  # type: ignore[arg-type]
            bid_id = posted.result()
        wait_slot(h, bid_id, "reserving")  # its reserve is in the pool, not mined
        assert signed_upload(chain, h.url, bid_id, 0, content).status_code == 200
        ticks = h.hoster._tick_count
        wait_until(lambda: h.hoster._tick_count >= ticks + 3, what="three passes of the hoster")
        assert slot_state(h, bid_id) == "verified"
        assert h.hoster.journal.live("fill", f"{bid_id}:0") is None
    finally:
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
    rpc("evm_mine", [])  # type: ignore[arg-type]  # the reservation; the fill is mined as it is sent
    wait_slot(h, bid_id, "filled")
