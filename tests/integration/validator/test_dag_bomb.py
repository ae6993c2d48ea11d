"""The DAG walk is bounded by the slot's size, whatever the DAG says about itself.

A "DAG bomb" is valid dag-pb whose nodes link the same child many times with lying
sizes: 174 links per level make 174^k leaf positions out of k + 1 distinct blocks.
The gateways here serve every block correctly (the hoster is honest; the content
is the client's), so the validator must neither time out nor call it the hoster's
fault: the check ends ``uncheckable`` (never a fail vote) after bounded work.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from multiformats import CID

from scatter.daemon.state import StateDB
from scatter.ipfs.block import Block
from scatter.ipfs.cid import CODEC_DAG_PB
from scatter.ipfs.dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_node, encode_unixfs
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.memory import MemoryBlockStore
from scatter.validator.challenge import challenge_seed
from scatter.validator.checker import CheckOutcome, CheckTarget, DealChecker, Status
from scatter.validator.dagcache import WALK_CONCURRENCY, LeafCache
from scatter.validator.policy import Step, after_attempt
from tests.integration.validator.helpers import make_shard

pytestmark = pytest.mark.integration

VALIDATOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
RANDOMNESS = bytes(range(32))
FANOUT = 174
LIE = 1 << 40  # the size every link and every UnixFS node claims


def inner_node(children: list[CID]) -> Block:
    unixfs = UnixFSData(UnixFSType.FILE, filesize=LIE * len(children), blocksizes=(LIE,) * len(children))
    node = PBNode(tuple(PBLink(c, "", LIE) for c in children), encode_unixfs(unixfs))
    return Block.from_data(encode_node(node), codec=CODEC_DAG_PB)


def bomb(depth: int) -> tuple[CID, list[Block]]:
    """``depth`` levels of FANOUT links to one child, over one 1 KiB raw leaf."""
    leaf = Block.from_data(b"x" * 1024)
    blocks = [leaf]
    child = leaf.cid
    for _ in range(depth):
        node = inner_node([child] * FANOUT)
        blocks.append(node)
        child = node.cid
    return child, blocks


class Counting:
    """ASGI wrapper counting the requests that reach the gateway."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


def check(
    tmp_path: Path, blocks: list[Block], root: CID, size: int, **cache: Any
) -> tuple[CheckOutcome, int]:
    store = MemoryBlockStore()
    store.put_many(blocks)
    app = Counting(create_gateway_app(store))

    async def go(url: str) -> CheckOutcome:
        checker = DealChecker(LeafCache(StateDB(tmp_path / "v.db"), **cache), samples=8, deadline=5.0,
                              learn_timeout=20.0)  # fmt: skip
        try:
            seed = challenge_seed(RANDOMNESS, 1, 5, VALIDATOR)
            return await checker.check(CheckTarget(1, 5, root, url, size=size), seed, RANDOMNESS)
        finally:
            await checker.aclose()

    with GatewayServer(app) as gw:  # type: ignore[arg-type]
        return asyncio.run(go(gw.url)), app.requests


def test_a_bomb_of_one_repeated_child_is_uncheckable_after_one_fetch_per_distinct_block(
    tmp_path: Path,
) -> None:
    root, blocks = bomb(depth=4)  # 174^4 = 9e8 leaf positions, 5 distinct blocks
    outcome, requests = check(tmp_path, blocks, root, size=100 * 1024)
    assert outcome.result is Status.UNCHECKABLE, outcome.reason
    assert "leaf positions" in outcome.reason
    assert requests <= 4  # each distinct inner node once (the bound stops the walk before the leaf)
    # (bounded work, not a deadline: the reason above names the bound, and no timing is asserted)
    assert after_attempt([outcome.result] * 6, warmup=False, can_retry=False) is Step.UNKNOWN  # never fail


def test_a_bomb_within_the_leaf_limit_is_still_refused_for_a_small_slot(tmp_path: Path) -> None:
    root, blocks = bomb(depth=2)  # 30,276 positions of one 1 KiB leaf, for a slot of 4 KiB
    outcome, requests = check(tmp_path, blocks, root, size=4 * 1024)
    assert outcome.result is Status.UNCHECKABLE, outcome.reason
    assert requests <= 2
    assert not outcome.result.definitive


def test_distinct_inner_bytes_beyond_size_plus_overhead_stop_the_walk(tmp_path: Path) -> None:
    leaves = [Block.from_data(bytes([i]) * 64) for i in range(FANOUT)]
    middles = [inner_node([leaf.cid for leaf in leaves[i:] + leaves[:i]]) for i in range(40)]  # ~7 KB each
    root = inner_node([m.cid for m in middles])
    blocks = [*leaves, *middles, root]
    size = 64 * FANOUT * 4  # more than the 6,960 leaf positions: only the inner bytes are over budget
    outcome, requests = check(tmp_path, blocks, root.cid, size=size, walk_overhead=0)
    assert outcome.result is Status.UNCHECKABLE, outcome.reason
    assert "distinct bytes" in outcome.reason
    assert requests <= 1 + WALK_CONCURRENCY < 1 + len(middles)  # stopped after one slice of the level
    assert outcome.fetched_bytes <= size + WALK_CONCURRENCY * len(middles[0].data)


def test_an_honest_shard_walks_within_its_budget(tmp_path: Path) -> None:
    shard = make_shard(200 * 1024, max_links=16)  # 200 leaves, two levels of inner nodes
    outcome, requests = check(tmp_path, shard.blocks, shard.root, size=len(shard.data), walk_overhead=0)
    assert outcome.result is Status.OK, outcome.reason
    assert outcome.leaf_count == 200
    inner = len(shard.blocks) - len(shard.leaves)
    assert requests == inner + 8  # each inner node once, then the 8 sampled leaves


def test_a_malformed_node_the_hoster_serves_faithfully_is_not_its_fault(tmp_path: Path) -> None:
    garbage = Block.from_data(b"\xff\xff\xff not protobuf", codec=CODEC_DAG_PB)  # hashes to its CID
    outcome, _ = check(tmp_path, [garbage], garbage.cid, size=1024)
    assert outcome.result is Status.UNCHECKABLE, outcome.reason
    assert after_attempt([outcome.result] * 3, warmup=False, can_retry=False) is Step.UNKNOWN
