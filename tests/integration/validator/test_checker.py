"""One deal check against real Trustless Gateways on loopback, honest and not."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from scatter.chain.anvil import free_port
from scatter.daemon.state import StateDB
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.validator.challenge import challenge_seed
from scatter.validator.checker import CheckOutcome, CheckTarget, DealChecker, Status
from scatter.validator.dagcache import LeafCache
from tests.integration.validator.helpers import Delayed, LyingStore, make_shard

pytestmark = pytest.mark.integration

VALIDATOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
RANDOMNESS = bytes(range(32))


def run_check(
    tmp_path: Path, url: str, root: object, *, epoch: int = 5, samples: int = 8, deadline: float = 2.0
) -> CheckOutcome:
    async def go() -> CheckOutcome:
        checker = DealChecker(LeafCache(StateDB(tmp_path / "v.db")), samples=samples, deadline=deadline,
                              learn_timeout=5.0)  # fmt: skip
        try:
            seed = challenge_seed(RANDOMNESS, 1, epoch, VALIDATOR)
            return await checker.check(CheckTarget(1, epoch, root, url), seed, RANDOMNESS)  # type: ignore[arg-type]
        finally:
            await checker.aclose()

    return asyncio.run(go())


def test_honest_hoster_passes_and_evidence_names_the_leaves(tmp_path: Path) -> None:
    shard = make_shard(200 * 1024, max_links=16)  # 200 leaves, two levels of inner nodes
    with GatewayServer(create_gateway_app(shard.store())) as gw:
        outcome = run_check(tmp_path, gw.url, shard.root)
    assert outcome.result is Status.OK, outcome.reason
    assert outcome.leaf_count == 200
    assert len({s.index for s in outcome.samples}) == 8
    assert all(s.cid == shard.leaves[s.index] for s in outcome.samples)
    assert outcome.detail()["samples"][0]["status"] == "ok"
    assert len(outcome.evidence()) == 32


def test_leaf_list_is_learnt_once_then_served_from_sqlite(tmp_path: Path) -> None:
    shard = make_shard(50 * 1024, max_links=8)
    with GatewayServer(create_gateway_app(shard.store())) as gw:
        first = run_check(tmp_path, gw.url, shard.root)
    cache = LeafCache(StateDB(tmp_path / "v.db"))
    assert cache.known(shard.root) == shard.leaves
    second = run_check(tmp_path, "http://127.0.0.1:1", shard.root)  # nobody listens: leaves only
    assert first.fetched_bytes > second.fetched_bytes == 0
    assert second.result is Status.UNREACHABLE


def test_hoster_missing_ten_percent_is_caught_with_the_documented_odds(tmp_path: Path) -> None:
    shard = make_shard(100 * 1024)  # 100 leaves
    store = LyingStore(shard.store())
    store.lose(random.Random(7).sample(shard.leaves, 10))
    caught = 0
    with GatewayServer(create_gateway_app(store)) as gw:
        for epoch in range(40):
            outcome = run_check(tmp_path, gw.url, shard.root, epoch=epoch)
            assert outcome.result in (Status.OK, Status.MISSING)
            caught += outcome.result is Status.MISSING
    # P(catch) per check = 1 - C(90,8)/C(100,8) = 0.58; 40 checks: mean 23, P(caught < 12) < 1e-4
    assert caught >= 12


def test_wrong_bytes_are_caught(tmp_path: Path) -> None:
    shard = make_shard(20 * 1024)
    store = LyingStore(shard.store())
    store.falsify(shard.leaves)
    with GatewayServer(create_gateway_app(store)) as gw:
        outcome = run_check(tmp_path, gw.url, shard.root)
    assert outcome.result is Status.WRONG
    assert "do not hash to the CID" in outcome.reason


def test_another_deals_data_is_missing(tmp_path: Path) -> None:
    ours, theirs = make_shard(20 * 1024, seed=1), make_shard(20 * 1024, seed=2)
    with GatewayServer(create_gateway_app(theirs.store())) as gw:
        outcome = run_check(tmp_path, gw.url, ours.root)
    assert outcome.result is Status.MISSING
    assert outcome.reason.startswith("inner node")


def test_slow_but_within_the_deadline_passes_and_late_does_not(tmp_path: Path) -> None:
    shard = make_shard(20 * 1024)
    with GatewayServer(Delayed(create_gateway_app(shard.store()), 0.3)) as gw:  # type: ignore[arg-type]
        assert run_check(tmp_path, gw.url, shard.root, deadline=1.5).result is Status.OK
        outcome = run_check(tmp_path, gw.url, shard.root, deadline=0.1)
    assert outcome.result is Status.LATE
    assert "no answer within 0.1s" in outcome.reason


def test_down_hoster_is_unreachable(tmp_path: Path) -> None:
    shard = make_shard(20 * 1024)
    outcome = run_check(tmp_path, f"http://127.0.0.1:{free_port()}", shard.root)
    assert outcome.result is Status.UNREACHABLE
    assert not outcome.result.definitive
