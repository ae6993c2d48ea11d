"""One epoch's checks and the crawler that runs them (Tahoe-LAFS crawler style).

A :class:`Round` holds the jobs of one epoch (one per deal whose committee this
validator is in), each due at a time spread over the check window. The
:class:`Crawler` starts each attempt when it is due, at most ``concurrency`` at a
time, after the CPU and bandwidth caps allow it, and turns each attempt's outcome
into a step of :mod:`~scatter.validator.policy`: a verdict, another attempt after
a backoff (never past the window), or nothing. When the epoch is over,
:meth:`Crawler.close` records every job left without a verdict as unknown.

What a verdict or an unknown epoch *does* (ledger, signatures) is the
:class:`Sink`'s business: the daemon's, or a test's.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from scatter.daemon.logs import log_event
from scatter.validator.checker import CheckOutcome, CheckTarget, DealChecker, Status
from scatter.validator.limits import Throttle
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.policy import Step, after_attempt, retry_delay, unknown_label

log = logging.getLogger("scatter.validator")


@dataclass
class Job:
    deal_id: int
    target: CheckTarget
    seed: bytes
    due: float  # loop time of the next attempt
    warmup: bool
    history: list[Status] = field(default_factory=list)
    last: CheckOutcome | None = None
    running: bool = False

    @property
    def attempts(self) -> int:
        return len(self.history)


@dataclass
class Round:
    """The checks of one epoch."""

    epoch: int
    randomness: bytes = b""  # the epoch's block hash (empty until known)
    randomness_block: int = 0
    window_start: float = 0.0
    window_end: float = 0.0  # loop time after which no attempt starts
    jobs: dict[int, Job] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    scheduled: bool = False
    skipped: set[int] = field(default_factory=set)  # due deals this epoch does not probe (probes.py)
    closed: bool = False
    reported: bool = False  # the epoch's reports were started
    queue: list[tuple[float, int]] = field(default_factory=list)  # heap of (due, deal id)

    def push(self, job: Job) -> None:
        heapq.heappush(self.queue, (job.due, job.deal_id))

    def add(self, job: Job, *, done: bool = False) -> None:
        self.jobs[job.deal_id] = job
        if done:
            self.done.add(job.deal_id)
        else:
            self.push(job)

    def next_due(self) -> Job | None:
        """The job whose attempt is due first (stale heap entries dropped)."""
        while self.queue:
            due, deal_id = self.queue[0]
            job = self.jobs.get(deal_id)
            if job is None or deal_id in self.done or job.running or job.due != due:
                heapq.heappop(self.queue)
                continue
            return job
        return None


class Sink(Protocol):
    async def verdict(self, rnd: Round, job: Job, outcome: CheckOutcome) -> None:
        """Record (and sign) ``outcome``: ``ok`` or a ``fail`` the policy allows."""

    async def unknown(self, rnd: Round, job: Job, label: str) -> None:
        """The epoch ended without a verdict for ``job`` (never a fail)."""


class Crawler:
    """Runs the attempts of the current :class:`Round` (``crawler.round``) until stopped."""

    def __init__(
        self,
        checker: DealChecker,
        sink: Sink,
        *,
        throttle: Throttle | None = None,
        concurrency: int = 64,
        attempts: int = 6,
        backoff: float | None = None,
        metrics: ValidatorMetrics | None = None,
    ) -> None:
        self.checker = checker
        self.sink = sink
        self.throttle = throttle
        self.concurrency = concurrency
        self.attempts = attempts
        self.backoff = backoff if backoff is not None else max(0.2, checker.deadline)
        self.metrics = metrics or ValidatorMetrics()
        self.round: Round | None = None
        self.unconfirmed: dict[int, int] = {}  # deal id -> last epoch that ended on an unconfirmed 404
        self.running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stopped: Callable[[], bool], idle: float = 0.2) -> None:
        """Start each attempt when it is due, until ``stopped()``."""
        loop = asyncio.get_running_loop()
        while not stopped():
            rnd = self.round
            job = rnd.next_due() if rnd is not None and not rnd.closed else None
            wait = idle if job is None else job.due - loop.time()
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(wait, idle))
                continue
            assert rnd is not None and job is not None
            if len(self.running) >= self.concurrency:
                await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
                continue
            if self.throttle is not None:
                await self.throttle.before()
            if job.running or job.deal_id in rnd.done or rnd.closed:
                continue
            job.running = True
            task = asyncio.create_task(self._attempt(rnd, job))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def cancel(self) -> None:
        for task in list(self.running):
            task.cancel()
        await asyncio.gather(*self.running, return_exceptions=True)

    async def _attempt(self, rnd: Round, job: Job) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome = await self.checker.check(job.target, job.seed, rnd.randomness)
        except Exception as exc:  # a bug must not stop the daemon; no verdict without evidence
            log_event(log, "check_crashed", logging.ERROR, deal_id=job.deal_id, error=repr(exc)[:300])
            job.running = False
            return
        job.history.append(outcome.result)
        job.last = outcome
        if self.throttle is not None:
            self.throttle.spent(outcome.fetched_bytes)
        self.metrics.fetched_bytes.inc(outcome.fetched_bytes)
        self.metrics.check_seconds.observe(outcome.seconds)
        now = loop.time()
        remaining = rnd.window_end - now
        can_retry = job.attempts < self.attempts and remaining > 0 and not rnd.closed
        # read now, not when the job was scheduled: the previous epoch's last attempt may end later
        prior = self.prior_evidence(job.deal_id, rnd.epoch)
        step = after_attempt(job.history, warmup=job.warmup, can_retry=can_retry, prior_evidence=prior)
        if step is Step.RETRY:
            # a 404 came fast: confirm it at once (same seed, same blocks); slowness backs off
            base = self.backoff / 8 if outcome.result is Status.MISSING else self.backoff
            job.due = now + retry_delay(job.attempts, base, remaining)
            job.running = False
            rnd.push(job)
            self.wake()
            self.metrics.checks.labels(result="retry").inc()
            log_event(log, "check_retry", logging.DEBUG, deal_id=job.deal_id, epoch=rnd.epoch,
                      result=outcome.result.label, reason=outcome.reason,
                      in_s=round(job.due - now, 2))  # fmt: skip
            return
        if step is Step.UNKNOWN:
            await self._unknown(rnd, job)
            return
        self._finish(rnd, job, outcome.result.label)
        await self.sink.verdict(rnd, job, outcome)

    def prior_evidence(self, deal_id: int, epoch: int) -> int:
        """1 if the deal's epoch before ``epoch`` ended on a 404 no retry could confirm."""
        return int(self.unconfirmed.get(deal_id) == epoch - 1)

    def _finish(self, rnd: Round, job: Job, result: str) -> None:
        self.unconfirmed.pop(job.deal_id, None)
        rnd.done.add(job.deal_id)
        job.running = False
        self.metrics.deals_done.set(len(rnd.done))
        self.metrics.checks.labels(result=result).inc()

    async def _unknown(self, rnd: Round, job: Job) -> None:
        label = unknown_label(job.history, warmup=job.warmup)
        self._finish(rnd, job, "unknown")
        if label == "unconfirmed":
            self.unconfirmed[job.deal_id] = rnd.epoch
        log_event(log, "no_verdict", deal_id=job.deal_id, epoch=rnd.epoch, label=label,
                  attempts=job.attempts, reason=job.last.reason if job.last else "")  # fmt: skip
        await self.sink.unknown(rnd, job, label)

    async def close(self, rnd: Round) -> None:
        """The epoch is over: every job without a verdict is unknown (never fail)."""
        rnd.closed = True  # attempts in flight end as a verdict or unknown on their own
        for job in list(rnd.jobs.values()):
            if job.deal_id not in rnd.done and not job.running:
                await self._unknown(rnd, job)
        # a 404 carries into the next epoch only: older ones (deals not due again) are dropped
        self.unconfirmed = {d: e for d, e in self.unconfirmed.items() if e >= rnd.epoch}
