"""Slow is a retry, not a verdict: one epoch's crawler against scripted gateways on loopback.

Each gateway answers its n-th request as its script says (``404``: not held yet, ``late``:
after the check's deadline, ``ok``: at once). The shard is one raw block, so each attempt is
one request and the script is the hoster's behaviour attempt by attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from scatter.daemon.state import StateDB
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.validator.challenge import challenge_seed
from scatter.validator.checker import CheckOutcome, CheckTarget, DealChecker
from scatter.validator.dagcache import LeafCache
from scatter.validator.rounds import Crawler, Job, Round
from tests.integration.validator.helpers import make_shard

pytestmark = pytest.mark.integration

VALIDATOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
RANDOMNESS = bytes(range(32))
DEADLINE = 0.5


class Scripted:
    """ASGI wrapper answering request i as ``script[i]`` says (the last entry repeats)."""

    def __init__(self, app: Any, script: Sequence[str]) -> None:
        self.app = app
        self.script = list(script)
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        step = self.script[min(self.requests, len(self.script) - 1)]
        self.requests += 1
        if step == "404":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not found"})
            return
        if step == "late":
            await asyncio.sleep(DEADLINE * 4)
        await self.app(scope, receive, send)


class Recorder:
    """The crawler's sink: what a daemon would record."""

    def __init__(self) -> None:
        self.verdicts: list[bool] = []
        self.labels: list[str] = []
        self.done = asyncio.Event()

    async def verdict(self, rnd: Round, job: Job, outcome: CheckOutcome) -> None:
        self.verdicts.append(outcome.ok)
        self.done.set()

    async def unknown(self, rnd: Round, job: Job, label: str) -> None:
        self.labels.append(label)
        self.done.set()


Rounds = Callable[[Crawler, Recorder, str], Awaitable[None]]


def crawl(tmp_path: Path, app: Scripted, rounds: Rounds) -> Recorder:
    """Run a crawler against ``app`` on loopback while ``rounds`` feeds it rounds; what it recorded."""

    async def go(url: str) -> Recorder:
        sink = Recorder()
        checker = DealChecker(LeafCache(StateDB(tmp_path / "v.db")), samples=8, deadline=DEADLINE,
                              learn_timeout=DEADLINE)  # fmt: skip
        crawler = Crawler(checker, sink, attempts=6)
        stop = asyncio.Event()
        task = asyncio.create_task(crawler.run(stop.is_set, idle=0.05))
        try:
            await rounds(crawler, sink, url)
        finally:
            stop.set()
            await task
            await crawler.cancel()
            await checker.aclose()
        return sink

    with GatewayServer(app) as gw:  # type: ignore[arg-type]
        return asyncio.run(go(gw.url))


async def one_round(crawler: Crawler, sink: Recorder, job: Job, epoch: int, window: float) -> None:
    """Epoch ``epoch`` with the one ``job``, its checks allowed ``window`` seconds; then closed."""
    now = asyncio.get_running_loop().time()
    rnd = Round(epoch, RANDOMNESS, 1, window_start=now, window_end=now + window)
    rnd.add(job)
    crawler.round = rnd
    sink.done.clear()
    async with asyncio.timeout(window + DEADLINE * 4 + 10):
        await sink.done.wait()
    await crawler.close(rnd)


def run_epoch(
    tmp_path: Path, script: Sequence[str], *, warmup: bool, window: float = 6.0
) -> tuple[Recorder, int]:
    shard = make_shard(1000)  # one raw leaf: the root itself
    app = Scripted(create_gateway_app(shard.store()), script)

    async def rounds(crawler: Crawler, sink: Recorder, url: str) -> None:
        seed = challenge_seed(RANDOMNESS, 1, 7, VALIDATOR)
        now = asyncio.get_running_loop().time()
        job = Job(1, CheckTarget(1, 7, shard.root, url, size=1000), seed, now, warmup=warmup)
        await one_round(crawler, sink, job, 7, window)

    return crawl(tmp_path, app, rounds), app.requests


def test_a_hoster_slow_for_a_while_then_answering_is_never_voted_fail(tmp_path: Path) -> None:
    sink, requests = run_epoch(tmp_path, ["late", "late", "late", "ok"], warmup=False)
    assert sink.verdicts == [True] and sink.labels == []
    assert requests >= 4  # retried with backoff within the epoch (more if this machine is slow)


def test_a_hoster_slow_the_whole_epoch_is_recorded_late_never_fail(tmp_path: Path) -> None:
    sink, requests = run_epoch(tmp_path, ["late"], warmup=False, window=3.0)
    assert sink.verdicts == [] and sink.labels == ["late"]
    assert requests >= 2


def test_a_single_404_is_retried_not_a_fail_vote(tmp_path: Path) -> None:
    sink, _ = run_epoch(tmp_path, ["404", "ok"], warmup=False)
    assert sink.verdicts == [True]


def test_a_confirmed_404_is_a_fail_vote(tmp_path: Path) -> None:
    sink, requests = run_epoch(tmp_path, ["404", "404", "ok"], warmup=False)
    assert sink.verdicts == [False] and requests >= 2


def test_a_new_deal_missing_then_late_once_then_answering_never_gets_a_fail_vote(tmp_path: Path) -> None:
    # warm-up: the client may still be pushing; 404s and a late answer are not evidence yet
    sink, requests = run_epoch(tmp_path, ["404", "404", "late", "ok"], warmup=True)
    assert sink.verdicts == [True] and requests >= 4


def test_a_new_deal_late_once_then_answering_never_gets_a_fail_vote(tmp_path: Path) -> None:
    sink, _ = run_epoch(tmp_path, ["late", "ok"], warmup=True)
    assert sink.verdicts == [True]


def test_a_404_the_epoch_closed_on_is_confirmed_by_a_404_in_the_next_epoch(tmp_path: Path) -> None:
    # a short epoch (no time for a retry) must not let a deleted block go unvoted forever
    shard = make_shard(1000)

    async def rounds(crawler: Crawler, sink: Recorder, url: str) -> None:
        for epoch in (7, 8, 10):  # 9 skipped: a 404 carries into the next epoch only
            seed = challenge_seed(RANDOMNESS, 1, epoch, VALIDATOR)
            now = asyncio.get_running_loop().time()
            job = Job(1, CheckTarget(1, epoch, shard.root, url, size=1000), seed, now, warmup=False)
            await one_round(crawler, sink, job, epoch, window=0.0)  # no time for a retry

    sink = crawl(tmp_path, Scripted(create_gateway_app(shard.store()), ["404"]), rounds)
    assert sink.labels == ["unconfirmed", "unconfirmed"]  # epochs 7 and 10
    assert sink.verdicts == [False]  # epoch 8: confirmed
