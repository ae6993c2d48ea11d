"""``scatter validator run``: a thin asyncio loop over the validator library (Market VERSION 3).

Every tick (``poll_interval``) the daemon

1. applies newly confirmed Market events to its index (:class:`~scatter.chain.index.MarketIndex`,
   checkpointed in SQLite, rewound on reorgs); a deal named by an event is read again by the
   signing guard;
2. reads the chain head: its timestamp is the clock, ``(timestamp - genesis) // epochSeconds`` the epoch;
3. for a new epoch, closes the last one (jobs without a verdict are recorded unknown, never fail),
   waits for the epoch's randomness (:mod:`~scatter.validator.beacon`), then schedules one check per
   deal *whose committee this validator sits on* (:mod:`~scatter.validator.committee`, one chain read
   per deal and period) at ``offset(seed)`` of the first ``spread`` of the check window;
4. the :class:`~scatter.validator.rounds.Crawler` starts each attempt when due, under the CPU and
   bandwidth caps, and turns outcomes into verdicts by :mod:`~scatter.validator.policy` (slow is a
   retry, not a verdict; fail only on evidence; never fail during a deal's warm-up);
5. records each verdict in the ledger; an ``ok`` is signed only if the
   :class:`~scatter.validator.guard.SigningGuard` allows it (no challenge open, not at or before a
   missed proof), else it stays recorded, unsigned, for a range later;
6. once per epoch, after the check window, sends what the rules allow
   (:mod:`~scatter.validator.reports`: proof requests with a fail quorum, missed proofs, missed
   quorums), and at each audit seed block the audits whose lottery wins.

A due deal is Active, started (``startEpoch <= e <= endEpoch``), neither its hoster nor its client
is this validator or an ``exclude``d address of its operator, and this validator is in its
committee. RPC failures put the daemon in ``degraded`` health and are retried with backoff; checks
already scheduled go on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from eth_account.signers.local import LocalAccount
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.deploy import connect
from scatter.chain.deployments import Deployment, Source, find_deployment
from scatter.chain.follower import ChainEvent
from scatter.chain.index import MarketIndex
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.tx import Transactor, head_number
from scatter.daemon.backoff import Backoff, retry
from scatter.daemon.endpoint import check_endpoint
from scatter.daemon.http import make_server
from scatter.daemon.logs import log_event
from scatter.daemon.state import StateDB
from scatter.errors import ScatterConnectionError, ScatterError, ScatterTimeoutError
from scatter.ipfs.cid import parse_cid
from scatter.validator.beacon import EpochBeacon, Head
from scatter.validator.challenge import challenge_seed, offset
from scatter.validator.checker import CheckOutcome, CheckTarget, DealChecker
from scatter.validator.committee import CommitteeCache
from scatter.validator.config import ValidatorConfig
from scatter.validator.dagcache import LeafCache
from scatter.validator.guard import ChallengeState, Refusal, SigningGuard
from scatter.validator.ledger import ConflictingVerdictError, SigningLedger, Verdict
from scatter.validator.limits import Caps, Throttle
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.probes import LastProbe, carried_range, probe_due
from scatter.validator.publish import create_publish_app
from scatter.validator.reports import Reporter
from scatter.validator.rounds import Crawler, Job, Round
from scatter.validator.signer import AttestationSigner
from scatter.validator.status import write_info

log = logging.getLogger("scatter.validator")
T = TypeVar("T")
_RPC_ERRORS = (ScatterConnectionError, ScatterTimeoutError, ConnectionError, TimeoutError)
# Market events after which the due deals (_due_deals: active deals, their terms, bids and hosters'
# endpoints) are what they were: no rescheduling. Any other event (a fill, a deal's end or
# extension, a node's endpoint) reschedules the round. At 300 deals nearly every block settles some.
KEEPS_DUE_DEALS = frozenset({
    "DealSettled", "SettlementSkipped", "ProofRequested", "ProofAccepted", "ProofSkipped", "Credited",
    "Withdrawn", "SlotReserved", "ReservationReleased", "BidPosted", "BidExtended", "SlotCancelled",
    "ValidatorSlashed", "StakeAdded",
})  # fmt: skip
#: Market events that change a deal's challenge state or failed epoch (what the signing guard reads).
CHALLENGE_EVENTS = ("ProofRequested", "ProofAccepted", "ProofMissed", "DealFaulted")


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
        self._head_block = 0
        self._head: Head | None = None  # the latest block read by a tick
        self._unknowns: list[tuple[int, int, str, dict[str, Any]]] = []  # epochs without a verdict, unwritten
        self._head_seen = 0.0
        self._report_task: asyncio.Task[None] | None = None
        self._index_changed = True
        self._probes: dict[int, LastProbe] = {}  # each deal's latest probe (sampled probes)

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
        w3 = await self._until_connected()
        chain_id = int(await self._rpc("reading the chain id", lambda: w3.eth.chain_id))
        deployment = await asyncio.to_thread(self._deployment, chain_id, w3)
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
        self.crawler = Crawler(self.checker, self, throttle=self.throttle, attempts=self.config.attempts,
                               concurrency=self.config.concurrency, metrics=self.metrics)  # fmt: skip
        self.exclude = {self.address.lower(), *(a.lower() for a in self.config.exclude)}
        me = self.address
        self.committee = CommitteeCache(
            lambda deal_id, epoch: market.is_committee_member(deal_id, epoch, me), params.period_epochs
        )
        self.guard = SigningGuard(self.committee, self._live_challenge, indexed=self._indexed_challenge,
                                  unconfirmed=lambda: self.index.unapplied_deals(CHALLENGE_EVENTS),
                                  address=me, ttl=self.config.poll_interval)  # fmt: skip
        http = httpx.AsyncClient(timeout=10.0, trust_env=False)
        self.reporter = Reporter(market, self.index, self.ledger, db, params, self.committee,
                                 metrics=self.metrics, exclude=self.exclude, client=http)  # fmt: skip
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
            check_endpoint(endpoint, chain_id, role="validator")
            await self._join(endpoint)
            info = {"address": self.address, "api": self.url, "endpoint": endpoint, "pid": os.getpid(),
                    "chainId": chain_id, "market": market.address}  # fmt: skip
            write_info(state_dir, info)
            self.started.set()
            crawler = asyncio.create_task(self.crawler.run(self._stop.is_set, idle=self.config.poll_interval))
            try:
                await self._loop_forever()
            finally:
                crawler.cancel()
                await asyncio.gather(crawler, return_exceptions=True)
        finally:
            if hasattr(self, "crawler"):
                await self.crawler.cancel()
            if self._report_task is not None:
                self._report_task.cancel()
                await asyncio.gather(self._report_task, return_exceptions=True)
            server.should_exit = True
            await serve_task
            with contextlib.suppress(Exception):  # what a stop leaves unwritten: notes, never verdicts
                await self._flush_unknowns()
            await self.checker.aclose()
            await http.aclose()
            db.close()
            log_event(log, "validator_stopped", address=self.address)

    def _deployment(self, chain_id: int, w3: Web3) -> Deployment:
        paths: list[Source] | None = [self.config.deployments] if self.config.deployments else None
        deployment = find_deployment(chain_id, paths, w3=w3)
        if self.config.market and Web3.to_checksum_address(self.config.market) != deployment.market:
            raise ScatterError(
                f"market {self.config.market} is not the recorded deployment on chain {chain_id}"
            )
        return deployment

    def _server(self) -> uvicorn.Server:
        app = create_publish_app(
            self.ledger, metrics=self.metrics, health=self.health, guard=self._refuse_range
        )
        return make_server(app, self.config.http_limits, server_class=_Server, host=self.config.host,
                           port=self.config.port)  # fmt: skip

    async def _until_connected(self) -> Web3:
        return await retry(
            "connecting", lambda: asyncio.to_thread(connect, self.config.rpc_url, timeout=10.0),
            backoff=Backoff(initial=0.5, maximum=10.0), retryable=_RPC_ERRORS, on_error=self._rpc_failed,
        )  # fmt: skip

    async def _rpc(self, what: str, call: Callable[[], T]) -> T:
        """Run a blocking chain call in a thread, retrying through outages with backoff."""
        result = await retry(
            what, lambda: asyncio.to_thread(call), backoff=Backoff(initial=0.25, maximum=10.0),
            retryable=_RPC_ERRORS, on_error=self._rpc_failed, stop=self._stop,
        )  # fmt: skip
        self._rpc_failing_since = None
        return result

    def _rpc_failed(self, exc: BaseException, _wait: float = 0.0) -> None:
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
        # a node that answers but mines nothing (frozen, cut off from its peers) is as bad as none
        head_age = time.monotonic() - self._head_seen if self._head_seen else 0.0  # loop.time() is monotonic
        stale = 0 < self.config.max_head_age < head_age
        rnd = self.crawler.round if hasattr(self, "crawler") else None
        report: dict[str, Any] = {
            "status": "degraded" if degraded or stale else "ok",
            "headAgeSeconds": round(head_age, 1),
            "epoch": rnd.epoch if rnd else None,
            "dealsDue": len(rnd.jobs) if rnd else 0,
            "dealsDone": len(rnd.done) if rnd else 0,
            "chainBlock": self._head_block,
            "samples": self.config.samples,
        }
        if degraded:
            report["error"] = self._last_error
        elif stale:
            report["error"] = f"no new block for {head_age:.0f} s (max {self.config.max_head_age:g} s)"
        return report

    # ------------------------------------------------------------- signing

    def _live_challenge(self, deal_id: int) -> ChallengeState:
        challenge = self.market.challenge_of(deal_id)
        deal = self.market.get_deal(deal_id)
        return ChallengeState(challenge.open, deal.failed_epoch)

    def _indexed_challenge(self, deal_id: int) -> ChallengeState:
        deal = self.index.deal(deal_id)
        if deal is None:
            return ChallengeState(False, 0)
        return ChallengeState(deal.challenge_open, deal.failed_epoch, deal.challenge_epoch)

    def _refuse_range(self, deal_id: int, from_epoch: int, to_epoch: int) -> Refusal | None:
        """The publishing API's guard (runs in its thread pool)."""
        try:
            return self.guard.refuse_ok(deal_id, from_epoch, to_epoch)
        except (*_RPC_ERRORS, ScatterError) as exc:
            return Refusal(503, f"cannot read deal {deal_id} on chain now ({str(exc)[:120]}); ask again")

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

    def _events_seen(self, events: list[ChainEvent]) -> None:
        for event in events:
            deal_id = event.args.get("dealId")
            if isinstance(deal_id, int):
                self.guard.forget(deal_id)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        head = self._head
        # no new block since the last tick: one eth_blockNumber, not a sync (an idle network is cheap)
        latest = await asyncio.to_thread(head_number, self.beacon.w3)
        if head is None or latest != head.number:
            events = await asyncio.to_thread(self.index.sync, head=latest)
            if any(e.name not in KEEPS_DUE_DEALS for e in events):
                self._index_changed = True
            self._events_seen(events)
            head = self._head = await asyncio.to_thread(self.beacon.head)
        self._rpc_failing_since = None
        if head.number != self._head_block:
            self._head_seen = loop.time()
        self._head_block = head.number
        # chain time now: the head's timestamp plus how long ago this head appeared (seen every tick)
        chain_now = head.timestamp + min(loop.time() - self._head_seen, float(self.params.epoch_seconds))
        self.metrics.chain_block.set(head.number)
        epoch = self.beacon.epoch_at(head.timestamp)
        rnd = self.crawler.round
        if rnd is None or epoch > rnd.epoch:
            if rnd is not None:
                await self.crawler.close(rnd)
                await self._flush_unknowns()
            rnd = self.crawler.round = Round(epoch)
            self.metrics.epoch.set(epoch)
        if not rnd.randomness:
            randomness = await asyncio.to_thread(self.beacon.randomness, epoch, head)
            if randomness is None:
                return
            rnd.randomness, rnd.randomness_block = randomness.block_hash, randomness.block
            seconds_left = self.beacon.epoch_start(epoch + 1) - chain_now
            rnd.window_start = loop.time()
            rnd.window_end = rnd.window_start + max(0.0, seconds_left - self.checker.deadline - 0.2)
            log_event(log, "epoch_started", epoch=epoch, randomness_block=randomness.block,
                      window_s=round(rnd.window_end - rnd.window_start, 2))  # fmt: skip
        if self._index_changed or not rnd.scheduled:  # the due deals change only with the index
            self._index_changed = False
            rnd.scheduled = True
            await self._schedule(rnd)
        if self.config.report_faults and (self._report_task is None or self._report_task.done()):
            after_window = loop.time() >= rnd.window_end or len(rnd.done) == len(rnd.jobs)
            run_epoch = after_window and not rnd.reported
            rnd.reported = rnd.reported or run_epoch
            # transactions wait for blocks: never in the tick
            self._report_task = asyncio.create_task(self._report(epoch if run_epoch else None, head.number))

    async def _report(self, epoch: int | None, head: int) -> None:
        try:
            await self.reporter.run_audits(head)
            if epoch is not None:
                await self.reporter.run_once(epoch)
                balance = await asyncio.to_thread(self.market.balance_of, self.address)
                self.metrics.balance.set(balance)
        except _RPC_ERRORS as exc:
            self._rpc_failed(exc)
        except ScatterError as exc:
            log_event(log, "reporting_failed", logging.WARNING, error=str(exc)[:300])

    def _due_deals(self, epoch: int) -> list[tuple[int, int, CheckTarget]]:
        """(start epoch, end epoch, target) of the deals this validator's committees cover now."""
        out: list[tuple[int, int, CheckTarget]] = []
        hosters = {n.address: n for n in self.index.nodes(Role.HOSTER, active_only=False)}
        for deal in self.index.deals(status=DealStatus.ACTIVE):
            bid = self.index.bid(deal.bid_id)
            node = hosters.get(deal.hoster)
            if bid is None or node is None:
                continue
            if deal.hoster.lower() in self.exclude or bid.client.lower() in self.exclude:
                continue
            if not deal.start_epoch <= epoch <= deal.end_epoch:
                continue
            try:
                root = parse_cid(bid.cid_of_slot(deal.slot))
            except ScatterError:
                continue  # a bid naming no valid CID cannot be checked (or held)
            if not self.committee.member(deal.deal_id, epoch):
                continue  # not drawn: another committee checks it this period
            target = CheckTarget(deal.deal_id, epoch, root, node.endpoint, size=bid.size)
            out.append((deal.start_epoch, deal.end_epoch, target))
        return out

    def _last_probe(self, deal_id: int, epoch: int) -> LastProbe | None:
        last = self._probes.get(deal_id)
        if last is None or last.epoch >= epoch:  # not seen since the start: the ledger knows
            found = self.ledger.last_probe_before(deal_id, epoch)
            last = LastProbe(*found) if found else None
        return last

    def _sampled(
        self, rnd: Round, due: list[tuple[int, int, CheckTarget]]
    ) -> list[tuple[int, CheckTarget, bytes]]:
        """(start epoch, target, challenge seed) of the due deals this epoch probes: all of them
        unless ``probe_every`` > 1."""
        every, period = self.config.probe_every, self.params.period_epochs
        out = []
        for start, end, target in due:
            seed = challenge_seed(rnd.randomness, target.deal_id, rnd.epoch, self.address)
            if every > 1:
                last = self._last_probe(target.deal_id, rnd.epoch)
                if not probe_due(epoch=rnd.epoch, deal_start=start, deal_end=end, period_epochs=period,
                                 every=every, last=last, seed=seed):  # fmt: skip
                    continue
            out.append((start, target, seed))
        return out

    def _carry(self, deal_id: int, epoch: int, evidence: bytes) -> int:
        """After an ok probe in ``epoch``: attest to the epochs since the previous ok probe."""
        last = self._last_probe(deal_id, epoch)  # the cache holds this epoch's probe: read the ledger
        period, every = self.params.period_epochs, self.config.probe_every
        span = carried_range(epoch=epoch, last=last, period_epochs=period, every=every)
        if span is None or self.guard.refuse_ok(deal_id, span[0], span[1], fresh=True) is not None:
            return 0
        return self.ledger.record_carried(deal_id, span[0], span[1], evidence)

    async def _schedule(self, rnd: Round) -> None:
        """Add a job for each due deal not yet scheduled (new deals show up as the index syncs)."""
        due = await asyncio.to_thread(self._due_deals, rnd.epoch)
        fresh = [(s, e, t) for s, e, t in due if t.deal_id not in rnd.jobs and t.deal_id not in rnd.skipped]
        sampled = await asyncio.to_thread(self._sampled, rnd, fresh) if fresh else []
        rnd.skipped.update({t.deal_id for _, _, t in fresh} - {t.deal_id for _, t, _ in sampled})
        if not sampled:
            return
        recorded = await asyncio.to_thread(self.ledger.has_verdicts, rnd.epoch)  # after a restart
        now = asyncio.get_running_loop().time()
        span = max(0.0, rnd.window_end - max(now, rnd.window_start)) * self.config.spread
        for start_epoch, target, seed in sampled:
            job = Job(target.deal_id, target, seed, max(now, rnd.window_start) + offset(seed) * span,
                      warmup=rnd.epoch < start_epoch + self.config.warmup_epochs)  # fmt: skip
            rnd.add(job, done=target.deal_id in recorded)
        self.crawler.wake()
        self.metrics.deals_due.set(len(rnd.jobs))
        self.metrics.deals_done.set(len(rnd.done))

    # -------------------------------------------------------- the crawler's sink

    async def verdict(self, rnd: Round, job: Job, outcome: CheckOutcome) -> None:
        """Record the verdict; sign it unless it is an ``ok`` the guard refuses now."""
        detail = outcome.detail() | {"attempts": job.attempts, "randomnessBlock": rnd.randomness_block}
        verdict = Verdict(job.deal_id, rnd.epoch, outcome.ok, outcome.evidence(), detail)
        refusal: Refusal | None = None
        if outcome.ok:
            try:
                refusal = await asyncio.to_thread(self.guard.refuse_ok, job.deal_id, rnd.epoch, rnd.epoch,
                                                  fresh=True)  # fmt: skip
            except (*_RPC_ERRORS, ScatterError) as exc:
                refusal = Refusal(503, f"cannot read the deal's challenge: {str(exc)[:200]}")
        try:
            if refusal is None:
                signed = await asyncio.to_thread(self.ledger.record_and_sign, verdict)
                ok = signed.attestation.ok
            else:
                ok = (await asyncio.to_thread(self.ledger.record, verdict)).ok
        except ConflictingVerdictError as exc:
            log_event(log, "verdict_conflict", logging.ERROR, deal_id=job.deal_id, epoch=rnd.epoch,
                      error=str(exc))  # fmt: skip
            return
        self._probes[job.deal_id] = LastProbe(rnd.epoch, ok)
        if refusal is None:
            self.metrics.attestations.labels(ok=str(ok).lower(), kind="epoch").inc()
        carried = 0
        if ok and self.config.probe_every > 1:
            try:
                carried = await asyncio.to_thread(self._carry, job.deal_id, rnd.epoch, verdict.evidence)
            except (*_RPC_ERRORS, ScatterError) as exc:  # carried later never: those epochs stay unpaid
                log_event(log, "carry_failed", logging.WARNING, deal_id=job.deal_id, error=str(exc)[:200])
        fields = {"deal_id": job.deal_id, "epoch": rnd.epoch, "ok": ok, "result": outcome.result.label,
                  "attempts": job.attempts, "ms": round(outcome.seconds * 1000, 1),
                  "signed": refusal is None}  # fmt: skip
        if carried:
            fields["carried"] = carried
        if not ok:
            fields["reason"] = outcome.reason
        if refusal is not None:
            fields["held"] = refusal.message
        log_event(log, "verdict", logging.INFO if ok else logging.WARNING, **fields)

    async def unknown(self, rnd: Round, job: Job, label: str) -> None:
        """Noted in memory and written in batches (:meth:`_flush_unknowns`): an unknown epoch
        never leaves the process, so it needs no write of its own before the next one."""
        self.metrics.unknown.labels(label=label).inc()  # not a probe: the last one stands (probes.py)
        reason = job.last.reason if job.last is not None else ""
        self._unknowns.append((job.deal_id, rnd.epoch, label, {"attempts": job.attempts, "reason": reason}))

    async def _flush_unknowns(self) -> None:
        if self._unknowns:
            notes, self._unknowns = self._unknowns, []
            await asyncio.to_thread(self.ledger.note_unknowns, notes)


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
