"""``scatter validator run``: a thin asyncio loop over the validator library.

Every tick (``poll_interval``) the daemon

1. applies newly confirmed Market events to its index (:class:`~scatter.chain.index.MarketIndex`,
   checkpointed in SQLite, rewound on reorgs);
2. reads the chain head: its timestamp is the clock, ``(timestamp - genesis) // epochSeconds`` the epoch;
3. for a new epoch, waits for the epoch's randomness (:mod:`~scatter.validator.beacon`), then
   schedules one check per due deal at ``offset(seed)`` of the first ``spread`` of the check window
   (from the randomness until ``deadline`` before the epoch ends);
4. starts the checks that are due, at most ``concurrency`` at a time, each after the CPU and
   bandwidth caps allow it (:mod:`~scatter.validator.limits`);
5. turns outcomes into verdicts: ``ok``, ``missing`` and ``wrong`` at once; ``late`` and
   ``unreachable`` are retried (up to ``attempts`` per epoch, spaced over what is left of the
   window) and become ``fail`` only when no attempt succeeded; during a deal's first
   ``warmup_epochs`` a failing check abstains (no verdict) instead;
6. records and signs each verdict through the ledger (durable before published);
7. once per epoch, looks for faults to report (:mod:`~scatter.validator.faults`) and refreshes the
   balance gauge.

A due deal is Active, started (``startEpoch <= e <= endEpoch``), and neither its hoster nor its
client is this validator or an ``exclude``d address of its operator. RPC failures put the daemon in
``degraded`` health and are retried with backoff; checks already scheduled go on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from eth_account.signers.local import LocalAccount
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.deploy import connect
from scatter.chain.deployments import Deployment, find_deployment
from scatter.chain.index import MarketIndex
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.tx import Transactor
from scatter.daemon.backoff import Backoff
from scatter.daemon.logs import log_event
from scatter.daemon.state import StateDB
from scatter.errors import ScatterConnectionError, ScatterError, ScatterTimeoutError
from scatter.ipfs.cid import parse_cid
from scatter.validator.beacon import EpochBeacon, EpochRandomness
from scatter.validator.challenge import challenge_seed, offset
from scatter.validator.checker import CheckOutcome, CheckTarget, DealChecker
from scatter.validator.config import ValidatorConfig
from scatter.validator.dagcache import LeafCache
from scatter.validator.faults import FaultReporter
from scatter.validator.ledger import ConflictingVerdictError, SigningLedger, Verdict
from scatter.validator.limits import Caps, Throttle
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.publish import create_publish_app
from scatter.validator.signer import AttestationSigner
from scatter.validator.status import write_info

log = logging.getLogger("scatter.validator")
T = TypeVar("T")
_RPC_ERRORS = (ScatterConnectionError, ScatterTimeoutError, ConnectionError, TimeoutError)


@dataclass
class _Job:
    deal_id: int
    target: CheckTarget
    seed: bytes
    due: float  # loop time of the next attempt
    warmup: bool
    attempts: int = 0
    last: CheckOutcome | None = None
    running: bool = False


@dataclass
class _Round:
    """The checks of one epoch."""

    epoch: int
    randomness: EpochRandomness | None = None
    window_start: float = 0.0
    window_end: float = 0.0  # loop time after which no attempt starts
    jobs: dict[int, _Job] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    faults_checked: bool = False
    answered: int = 0  # attempts that reached a hoster and got an answer (any definitive status)
    scheduled: bool = False
    queue: list[tuple[float, int]] = field(default_factory=list)  # heap of (due, deal id)

    def push(self, job: _Job) -> None:
        heapq.heappush(self.queue, (job.due, job.deal_id))

    def next_due(self) -> _Job | None:
        """The job whose attempt is due first (stale heap entries dropped)."""
        while self.queue:
            due, deal_id = self.queue[0]
            job = self.jobs.get(deal_id)
            if job is None or deal_id in self.done or job.running or job.due != due:
                heapq.heappop(self.queue)
                continue
            return job
        return None

    def blind(self) -> bool:
        """Nothing answered this epoch while several hosters were asked: suspect our own network."""
        hosters = {job.target.gateway for job in self.jobs.values() if job.attempts}
        return self.answered == 0 and len(hosters) > 1


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def load_signing_account(config: ValidatorConfig) -> LocalAccount:
    if config.dev_account is not None:
        return wallet.dev_account(config.dev_account)
    return wallet.load_account()


class ValidatorDaemon:
    """The validator. ``await run()`` until :meth:`stop`; ``url`` is the publishing API once started."""

    def __init__(
        self,
        config: ValidatorConfig,
        *,
        account: LocalAccount | None = None,
        metrics: ValidatorMetrics | None = None,
    ) -> None:
        self.config = config
        self.account = account or load_signing_account(config)
        self.address = str(self.account.address)
        self.metrics = metrics or ValidatorMetrics()
        self.started = threading.Event()
        self.url: str | None = None
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rpc_failing_since: float | None = None
        self._last_error = ""
        self._round: _Round | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._head_block = 0
        self._head_seen = 0.0
        self._fault_task: asyncio.Task[None] | None = None
        self._index_changed = True
        self._wake = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Ask the daemon to stop (thread-safe)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)

    async def run(self) -> None:
        if self.config.host in ("0.0.0.0", "::", "") and not self.config.public_endpoint:
            raise ScatterError("listening on all interfaces: set --endpoint (the public URL hosters use)")
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        w3 = await self._until_connected()
        chain_id = int(await self._rpc("reading the chain id", lambda: w3.eth.chain_id))
        deployment = self._deployment(chain_id)
        market = Market(w3, deployment.market, Transactor(w3, self.account))
        params = await self._rpc("reading Market params", market.params)
        state_dir = Path(self.config.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        db = StateDB(state_dir / "validator.db")
        self.db = db
        self.params = params
        self.market = market
        self.ledger = SigningLedger(db, AttestationSigner(self.account, chain_id, market.address))
        self.index = MarketIndex(db, w3, deployment, confirmations=self.config.confirmations)
        self.beacon = EpochBeacon(
            w3,
            db,
            genesis=params.genesis,
            epoch_seconds=params.epoch_seconds,
            confirmations=self.config.confirmations,
            first_block=deployment.block,
        )
        self.throttle = Throttle(
            Caps(cpu_fraction=self.config.max_cpu, bytes_per_second=self.config.max_bandwidth)
        )
        self.checker = DealChecker(
            LeafCache(db),
            samples=self.config.samples,
            deadline=self.config.deadline_for(params.epoch_seconds),
            learn_timeout=self.config.learn_timeout_for(params.epoch_seconds),
            max_connections=max(16, self.config.concurrency * 2),
        )
        self.exclude = {self.address.lower(), *(a.lower() for a in self.config.exclude)}
        http = httpx.AsyncClient(timeout=10.0, trust_env=False)
        self.faults = FaultReporter(market, self.index, self.ledger, db, params, metrics=self.metrics,
                                    exclude=self.exclude, client=http)  # fmt: skip
        server = self._server()
        serve_task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serve_task.done():
                    await serve_task
                    raise ScatterError(
                        f"publishing API could not listen on {self.config.host}:{self.config.port}"
                    )
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            wildcard = self.config.host in ("0.0.0.0", "::", "")
            self.url = f"http://{'127.0.0.1' if wildcard else self.config.host}:{port}"
            endpoint = self.config.public_endpoint or self.url
            log_event(
                log, "validator_started", address=self.address, chain_id=chain_id, market=market.address,
                api=self.url, endpoint=endpoint, samples=self.config.samples,
                deadline_s=self.checker.deadline, epoch_seconds=params.epoch_seconds,
            )  # fmt: skip
            await self._join(endpoint)
            info = {"address": self.address, "api": self.url, "endpoint": endpoint, "pid": os.getpid(),
                    "chainId": chain_id, "market": market.address}  # fmt: skip
            write_info(state_dir, info)
            self.started.set()
            crawler = asyncio.create_task(self._crawl())
            try:
                await self._loop_forever()
            finally:
                crawler.cancel()
                await asyncio.gather(crawler, return_exceptions=True)
        finally:
            pending = [*self._running, *([self._fault_task] if self._fault_task else [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            server.should_exit = True
            await serve_task
            await self.checker.aclose()
            await http.aclose()
            db.close()
            log_event(log, "validator_stopped", address=self.address)

    def _deployment(self, chain_id: int) -> Deployment:
        paths = [self.config.deployments] if self.config.deployments else None
        deployment = find_deployment(chain_id, paths)
        if self.config.market and Web3.to_checksum_address(self.config.market) != deployment.market:
            raise ScatterError(
                f"market {self.config.market} is not the recorded deployment on chain {chain_id}"
            )
        return deployment

    def _server(self) -> uvicorn.Server:
        app = create_publish_app(self.ledger, metrics=self.metrics, health=self.health)
        config = uvicorn.Config(app, host=self.config.host, port=self.config.port, log_level="warning",
                                access_log=False, lifespan="off")  # fmt: skip
        return _Server(config)

    async def _until_connected(self) -> Web3:
        delays = Backoff(initial=0.5, maximum=10.0).delays()
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(connect, self.config.rpc_url, timeout=10.0)
            except _RPC_ERRORS as exc:
                self._rpc_failed(exc)
                await asyncio.sleep(delays(attempt))
                attempt += 1

    async def _rpc(self, what: str, call: Callable[[], T]) -> T:
        """Run a blocking chain call in a thread, retrying through outages with backoff."""
        delays = Backoff(initial=0.25, maximum=10.0).delays()
        attempt = 0
        while True:
            try:
                result = await asyncio.to_thread(call)
                self._rpc_failing_since = None
                return result
            except _RPC_ERRORS as exc:
                self._rpc_failed(exc)
                if self._stop.is_set():
                    raise
                await asyncio.sleep(delays(attempt))
                attempt += 1

    def _rpc_failed(self, exc: BaseException) -> None:
        self.metrics.rpc_errors.inc()
        if self._rpc_failing_since is None:
            self._rpc_failing_since = time.monotonic()
            log_event(log, "rpc_unavailable", logging.WARNING, error=str(exc)[:300])
        self._last_error = str(exc)[:300]

    async def _join(self, endpoint: str) -> None:
        await self._own_transactions_mined()
        node = await self._rpc("reading the registry", lambda: self.market.node(Role.VALIDATOR, self.address))
        if node.status == NodeStatus.NONE:
            await self._rpc(
                "joining", lambda: self.market.join(Role.VALIDATOR, endpoint, 0, self.config.stake)
            )
            log_event(log, "joined", role="validator", endpoint=endpoint, stake_wei=self.config.stake)
            return
        if node.status == NodeStatus.EXITING:
            log_event(log, "exiting", logging.WARNING, note="signatures of an exiting validator do not count")
        if node.endpoint != endpoint:
            await self._rpc(
                "updating the endpoint", lambda: self.market.update_node(Role.VALIDATOR, endpoint, 0)
            )
            log_event(log, "endpoint_updated", endpoint=endpoint)
        if node.stake < self.config.stake:
            extra = self.config.stake - node.stake
            await self._rpc("topping up", lambda: self.market.top_up(Role.VALIDATOR, extra))
            log_event(log, "stake_topped_up", added_wei=extra)

    async def _own_transactions_mined(self, timeout: float = 120.0) -> None:
        """After a crash, a join sent just before it may still be pending: never send it twice."""
        w3 = self.market.w3
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending, latest = await self._rpc("reading the nonce", lambda: (
                w3.eth.get_transaction_count(self.account.address, "pending"),
                w3.eth.get_transaction_count(self.account.address, "latest"),
            ))  # fmt: skip
            if pending <= latest:
                return
            await asyncio.sleep(self.config.poll_interval)

    # ----------------------------------------------------------------- health

    def health(self) -> dict[str, Any]:
        failing = self._rpc_failing_since
        degraded = failing is not None and time.monotonic() - failing > 3 * self.config.poll_interval
        rnd = self._round
        report: dict[str, Any] = {
            "status": "degraded" if degraded else "ok",
            "epoch": rnd.epoch if rnd else None,
            "dealsDue": len(rnd.jobs) if rnd else 0,
            "dealsDone": len(rnd.done) if rnd else 0,
            "chainBlock": self._head_block,
            "samples": self.config.samples,
        }
        if degraded:
            report["error"] = self._last_error
        return report

    # ------------------------------------------------------------------ loop

    async def _loop_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self._tick()
            except _RPC_ERRORS as exc:
                self._rpc_failed(exc)
            except ScatterError as exc:
                log_event(log, "tick_failed", logging.WARNING, error=str(exc)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_interval)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        if await asyncio.to_thread(self.index.sync):
            self._index_changed = True
        head = await asyncio.to_thread(self.beacon.head)
        self._rpc_failing_since = None
        if head.number != self._head_block:
            self._head_seen = loop.time()
        self._head_block = head.number
        # chain time now: the head's timestamp plus how long ago this head appeared (seen every tick)
        chain_now = head.timestamp + min(loop.time() - self._head_seen, float(self.params.epoch_seconds))
        self.metrics.chain_block.set(head.number)
        epoch = self.beacon.epoch_at(head.timestamp)
        rnd = self._round
        if rnd is None or epoch > rnd.epoch:
            if rnd is not None:
                await self._close_round(rnd)
            rnd = self._round = _Round(epoch)
            self.metrics.epoch.set(epoch)
        if rnd.randomness is None:
            rnd.randomness = await asyncio.to_thread(self.beacon.randomness, epoch, head)
            if rnd.randomness is None:
                return
            seconds_left = self.beacon.epoch_start(epoch + 1) - chain_now
            rnd.window_start = loop.time()
            rnd.window_end = rnd.window_start + max(0.0, seconds_left - self.checker.deadline - 0.2)
            log_event(log, "epoch_started", epoch=epoch, randomness_block=rnd.randomness.block,
                      window_s=round(rnd.window_end - rnd.window_start, 2))  # fmt: skip
        if self._index_changed or not rnd.scheduled:  # the due deals change only with the index
            self._index_changed = False
            rnd.scheduled = True
            await self._schedule(rnd)
        if (
            not rnd.faults_checked
            and self.config.report_faults
            and (loop.time() >= rnd.window_end or len(rnd.done) == len(rnd.jobs))
        ):
            rnd.faults_checked = True
            if self._fault_task is None or self._fault_task.done():  # transactions wait for blocks:
                self._fault_task = asyncio.create_task(self._report_faults(epoch))  # never in the tick

    async def _report_faults(self, epoch: int) -> None:
        try:
            await self.faults.run_once(epoch)
            balance = await asyncio.to_thread(self.market.balance_of, self.address)
            self.metrics.balance.set(balance)
        except _RPC_ERRORS as exc:
            self._rpc_failed(exc)
        except ScatterError as exc:
            log_event(log, "fault_reporting_failed", logging.WARNING, error=str(exc)[:300])

    def _due_deals(self, epoch: int) -> list[tuple[int, CheckTarget]]:
        out: list[tuple[int, CheckTarget]] = []
        hosters = {n.address: n for n in self.index.nodes(Role.HOSTER, active_only=False)}
        for deal in self.index.deals(status=DealStatus.ACTIVE):
            bid = self.index.bid(deal.bid_id)
            node = hosters.get(deal.hoster)
            if bid is None or node is None:
                continue
            if deal.hoster.lower() in self.exclude or bid.client.lower() in self.exclude:
                continue
            if not deal.start_epoch <= epoch <= deal.end_epoch(bid.duration_epochs):
                continue
            try:
                root = parse_cid(bid.cid_of_slot(deal.slot))
            except ScatterError:
                continue  # a bid naming no valid CID cannot be checked (or held)
            out.append((deal.start_epoch, CheckTarget(deal.deal_id, epoch, root, node.endpoint)))
        return out

    async def _schedule(self, rnd: _Round) -> None:
        """Add a job for each due deal not yet scheduled (new deals show up as the index syncs)."""
        assert rnd.randomness is not None
        due = await asyncio.to_thread(self._due_deals, rnd.epoch)
        fresh = [(s, t) for s, t in due if t.deal_id not in rnd.jobs]
        if not fresh:
            return
        recorded = await asyncio.to_thread(self.ledger.has_verdicts, rnd.epoch)  # after a restart
        now = asyncio.get_running_loop().time()
        span = max(0.0, rnd.window_end - max(now, rnd.window_start)) * self.config.spread
        for start_epoch, target in fresh:
            seed = challenge_seed(rnd.randomness.block_hash, target.deal_id, rnd.epoch, self.address)
            job = _Job(target.deal_id, target, seed, max(now, rnd.window_start) + offset(seed) * span,
                       warmup=rnd.epoch < start_epoch + self.config.warmup_epochs)  # fmt: skip
            rnd.jobs[target.deal_id] = job
            if target.deal_id in recorded:
                rnd.done.add(target.deal_id)
            else:
                rnd.push(job)
        self._wake.set()
        self.metrics.deals_due.set(len(rnd.jobs))
        self.metrics.deals_done.set(len(rnd.done))

    async def _crawl(self) -> None:
        """Start each attempt when it is due (Tahoe's crawler: one slice at a time, under the caps)."""
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            rnd = self._round
            job = rnd.next_due() if rnd is not None else None
            wait = self.config.poll_interval if job is None else job.due - loop.time()
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)  # new jobs may be due sooner
                continue
            assert rnd is not None and job is not None
            if len(self._running) >= self.config.concurrency:
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                continue
            await self.throttle.before()
            if job.running or job.deal_id in rnd.done:
                continue
            job.running = True
            task = asyncio.create_task(self._attempt(rnd, job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _attempt(self, rnd: _Round, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        delay = job.due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        assert rnd.randomness is not None
        try:
            outcome = await self.checker.check(job.target, job.seed, rnd.randomness.block_hash)
        except Exception as exc:  # a bug must not stop the daemon; no verdict without evidence
            log_event(log, "check_crashed", logging.ERROR, deal_id=job.deal_id, error=repr(exc)[:300])
            job.running = False
            return
        job.attempts += 1
        job.last = outcome
        if outcome.result.definitive:
            rnd.answered += 1
        self.throttle.spent(outcome.fetched_bytes)
        self.metrics.fetched_bytes.inc(outcome.fetched_bytes)
        self.metrics.check_seconds.observe(outcome.seconds)
        now = loop.time()
        final = outcome.ok or (outcome.result.definitive and not job.warmup)
        if not final:
            remaining = rnd.window_end - now
            attempts_left = self.config.attempts - job.attempts
            if attempts_left > 0 and remaining > 0 and rnd is self._round:
                job.due = now + remaining / attempts_left  # the last attempt at the window's end
                job.running = False
                rnd.push(job)
                self._wake.set()
                self.metrics.checks.labels(result="retry").inc()
                log_event(log, "check_retry", logging.DEBUG, deal_id=job.deal_id, epoch=rnd.epoch,
                          result=outcome.result.label, reason=outcome.reason,
                          in_s=round(job.due - now, 2))  # fmt: skip
                return
            tried_enough = job.attempts >= min(2, self.config.attempts) and not rnd.blind()
            if job.warmup or (not outcome.result.definitive and not tried_enough):
                self._finish(rnd, job, None, outcome)  # abstain: not enough evidence for fail
                log_event(log, "abstain", deal_id=job.deal_id, epoch=rnd.epoch, result=outcome.result.label,
                          attempts=job.attempts, warmup=job.warmup, reason=outcome.reason)  # fmt: skip
                return
        await self._verdict(rnd, job, outcome)

    def _finish(self, rnd: _Round, job: _Job, ok: bool | None, outcome: CheckOutcome) -> None:
        rnd.done.add(job.deal_id)
        job.running = False
        self.metrics.deals_done.set(len(rnd.done))
        result = "abstain" if ok is None else outcome.result.label
        self.metrics.checks.labels(result=result).inc()

    async def _verdict(self, rnd: _Round, job: _Job, outcome: CheckOutcome) -> None:
        detail = outcome.detail() | {
            "attempts": job.attempts,
            "randomnessBlock": rnd.randomness.block if rnd.randomness else None,
        }
        verdict = Verdict(job.deal_id, rnd.epoch, outcome.ok, outcome.evidence(), detail)
        try:
            signed = await asyncio.to_thread(self.ledger.record_and_sign, verdict)
        except ConflictingVerdictError as exc:
            log_event(
                log, "verdict_conflict", logging.ERROR, deal_id=job.deal_id, epoch=rnd.epoch, error=str(exc)
            )
            self._finish(rnd, job, None, outcome)
            return
        self._finish(rnd, job, signed.attestation.ok, outcome)
        self.metrics.attestations.labels(ok=str(signed.attestation.ok).lower(), kind="epoch").inc()
        fields = {"deal_id": job.deal_id, "epoch": rnd.epoch, "ok": signed.attestation.ok,
                  "result": outcome.result.label, "attempts": job.attempts,
                  "ms": round(outcome.seconds * 1000, 1)}  # fmt: skip
        if not signed.attestation.ok:
            fields["reason"] = outcome.reason
        log_event(log, "verdict", logging.INFO if signed.attestation.ok else logging.WARNING, **fields)

    async def _close_round(self, rnd: _Round) -> None:
        """The epoch is over: late/unreachable jobs that never got to a verdict become fail."""
        for job in rnd.jobs.values():
            if job.deal_id in rnd.done or job.running:
                continue
            tried_enough = job.attempts >= min(2, self.config.attempts) and not rnd.blind()
            if job.last is not None and not job.last.ok and not job.warmup and tried_enough:
                await self._verdict(rnd, job, job.last)
            else:  # never checked, or too few tries to call the hoster unreachable: no verdict
                self.metrics.checks.labels(result="abstain").inc()
                log_event(log, "abstain", deal_id=job.deal_id, epoch=rnd.epoch, attempts=job.attempts,
                          warmup=job.warmup, reason="epoch over before enough attempts")  # fmt: skip


def run_validator(config: ValidatorConfig, *, account: LocalAccount | None = None) -> None:
    """Run the daemon until SIGINT/SIGTERM (the CLI's entry point)."""
    import signal

    daemon = ValidatorDaemon(config, account=account)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, daemon.stop)
        await daemon.run()

    asyncio.run(main())


class ValidatorThread:
    """Run a :class:`ValidatorDaemon` in a background thread (tests, the dev network)."""

    def __init__(self, config: ValidatorConfig, *, account: LocalAccount | None = None) -> None:
        self.daemon = ValidatorDaemon(config, account=account)
        self._thread = threading.Thread(target=self._main, daemon=True, name="validator")
        self.error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self.daemon.run())
        except BaseException as exc:
            self.error = exc

    def start(self, timeout: float = 60.0) -> ValidatorThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.daemon.started.wait(0.05):
            if self.error is not None or not self._thread.is_alive():
                raise ScatterError(f"validator failed to start: {self.error}")
            if time.monotonic() > deadline:
                raise ScatterTimeoutError("validator did not start in time")
        return self

    @property
    def url(self) -> str:
        assert self.daemon.url is not None
        return self.daemon.url

    def stop(self) -> None:
        self.daemon.stop()
        self._thread.join(timeout=30)

    def __enter__(self) -> ValidatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
