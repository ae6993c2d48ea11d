"""The hoster daemon: a thin asyncio loop over the library.

Each tick (Market version 3, docs/trust.md): settle the transaction journal
with the chain, make sure the node is registered, apply confirmed market events
to the index, bring this hoster's deals in line with the index, answer the
possession challenges of its deals (first: the one deadline that costs
collateral), carry out operator requests, take matching open slots (reserve
one for a private push; fetch or heal public and reopened ones), fill the slots
whose content was checked with a proof (collateral is locked only then),
release reservations the client never pushed to (collecting the fee), settle
the deals whose range is due, finish deals past their end and unpin, withdraw
above the threshold. Every step reads durable state, so a tick may die at any point and
the next process picks up where it stopped. The HTTP endpoint (gateway, upload,
pin status, health, metrics) runs on the same loop.

Start it with :class:`Hoster` (``await hoster.run()``), :class:`HosterThread`
(in a background thread, for tests and tools) or ``scatter hoster run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

import httpx
import uvicorn
from eth_account.signers.local import LocalAccount
from starlette.requests import Request
from web3 import Web3
from web3.types import TxReceipt

from scatter.chain import wallet
from scatter.chain.deploy import connect
from scatter.chain.deployments import Deployment, Source, find_deployment
from scatter.chain.economics import (
    BLOCK_SECONDS,
    block_seconds_of,
    break_even_price,
    current_gas_price,
    settle_range_epochs,
)
from scatter.chain.follower import ChainEvent
from scatter.chain.index import IndexedBid, IndexedDeal, MarketIndex
from scatter.chain.market import (
    MAX_PROOF_BATCH,
    Challenge,
    DealStatus,
    Market,
    NodeStatus,
    ProofItem,
    Role,
    fill_seed,
    prove_many_calldata,
)
from scatter.chain.params import MarketParams
from scatter.chain.tx import head_number, latest_head, on_loopback, rpc_guard
from scatter.daemon.backoff import RETRYABLE, Backoff, retry
from scatter.daemon.endpoint import check_endpoint
from scatter.daemon.http import make_server
from scatter.daemon.logs import RateLimitedLog, log_event
from scatter.daemon.state import StateDB
from scatter.errors import ContractError, ScatterError
from scatter.hoster.api import create_app
from scatter.hoster.attest import AttestationCollector, Validator
from scatter.hoster.config import HosterConfig
from scatter.hoster.content import (
    Checked,
    UploadContext,
    UploadRejected,
    check_upload_headers,
    fetch_checked,
    gateway_bases,
    heal,
    import_checked_car,
    spool_body,
)
from scatter.hoster.failpoints import crash_point
from scatter.hoster.gc import StoreJanitor
from scatter.hoster.metrics import HosterMetrics
from scatter.hoster.possess import ProofKeeper, ShardMismatch, check_shard
from scatter.hoster.queue import place_in_queue, slot_order, step_seconds, turn_in
from scatter.hoster.settle import Due, Settler, subject_deals
from scatter.hoster.state import (
    ABANDONED,
    AWAITING,
    DROPPED,
    ENDED,
    FETCH,
    FETCHING,
    FILLED,
    FILLING,
    HEAL,
    HEALING,
    LIVE_SLOT,
    LOST,
    PINNED,
    PUSH,
    RELEASED,
    RESERVED,
    RESERVING,
    VERIFIED,
    DealView,
    HosterState,
    LocalDeal,
    SlotJob,
    earned_wei,
    holding_views,
)
from scatter.hoster.txjournal import PENDING, TxJournal
from scatter.ipfs.abc import BlockStore
from scatter.ipfs.cid import cid_str, parse_cid
from scatter.protocol.hoster_api import SlotStatus

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger("scatter.hoster")
_rejections = RateLimitedLog(log)  # anyone can send a bad upload: a flood costs a few lines
_unbuildable = RateLimitedLog(log)  # a lost shard is asked again every pass while its challenge is open
READY_FILE = "hoster.json"
BLOCK_TIME_TTL_S = 3600.0  # how long the chain's measured block time is used before it is read again
RECHECK_S = 5.0  # seconds before a bid whose slots this hoster passed over is looked at again
FULL_PASS_POLLS = 8  # a full pass at least every 8 polls, whatever the blocks held (see _block_pass)
DUE_POLL_S = 0.05  # on a node on this machine, seconds between looks once a block is due (_next_poll)
# Market events that open, free or close slots: work for any hoster (see Hoster._concerns_me)
SLOT_EVENTS = frozenset({"BidPosted", "SlotReopened", "ReservationReleased", "SlotCancelled", "BidExtended"})
LOST_RACE = {"SlotNotOpen", "SlotIsReserved", "HosterAlreadyInBid", "SlotExhausted", "NoReservation"}


def _split_key(key: str) -> tuple[int, int]:
    """``"bid:slot"`` -> (bid, slot): the journal subject of a slot's reserve, fill and release."""
    bid, slot = key.split(":")
    return int(bid), int(slot)


def _proof_item(deal_id: int, c: Challenge) -> str:
    """One deal's part of a ``prove`` journal subject: the deal and its challenge, so a new
    challenge of the same deal (after a fault) is answered again."""
    return f"{deal_id}@{c.seed.hex()[-16:]}"


def resolve_account(config: HosterConfig) -> LocalAccount:
    """The signing key: an anvil dev account if configured, else env/.env/keystore."""
    if config.dev_account is not None:
        return wallet.dev_account(config.dev_account)
    return wallet.load_account()


def open_store(config: HosterConfig) -> BlockStore:
    if config.ipfs_api:
        from scatter.ipfs.kubo import KuboBlockStore

        return KuboBlockStore(config.ipfs_api)
    from scatter.ipfs.embedded import EmbeddedBlockStore

    return EmbeddedBlockStore(config.state_dir / "blocks")


class Hoster:
    """One hoster daemon. ``await run()`` serves until :meth:`stop` (thread-safe) is called."""

    def __init__(self, config: HosterConfig, *, account: LocalAccount | None = None) -> None:
        self.config = config
        self.account = account or resolve_account(config)
        self.address = str(self.account.address)
        self.metrics = HosterMetrics()
        self.registry = self.metrics.registry
        self.ready = threading.Event()
        self.url = ""
        self.endpoint = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None  # ends the main loop's wait: stopping, or content verified
        self._local_rpc = on_loopback(config.rpc_url)
        self._block_gap = 0.0  # seconds between the last heads seen (their timestamps), 0: unknown
        self._chain_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoster-chain")
        # settlements are built (gas estimated) in parallel; the journal hands out nonces in order
        self._send_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hoster-send")
        # Proofs have a deadline that costs collateral: their own thread, never queued behind
        # settlements and fills (at 300 deals they were, and honest hosters missed proofs).
        self._prove_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoster-prove")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._retry_at: dict[str, float] = {}
        self._slot_locks: dict[str, asyncio.Lock] = {}
        self._tries: dict[str, int] = {}
        self._open: dict[int, Challenge] = {}  # open challenges of this hoster's deals
        self._opened: dict[int, tuple[tuple[int, ...], float]] = {}  # bid -> (open slots, first seen)
        self._block_s = BLOCK_SECONDS  # the chain's seconds per block (break-even filter), re-read hourly
        self._block_s_due = 0.0
        self._polled = False  # challengeOf read for every live deal since this process started
        self._proved: set[str] = set()  # challenge items whose proveMany was mined
        self._committees: dict[tuple[int, int], tuple[frozenset[str], frozenset[str]]] = {}
        self._given_up: dict[int, int] = {}  # deal id -> last epoch of a period given up unpaid
        self._now = 0  # timestamp and number of the latest block (read each tick)
        self._head = 0
        self._last_ok = 0.0
        self._rpc_down = False
        self._last_error = ""
        self._joined = False
        self._epoch = 0
        self._views: list[DealView] = []
        self._tick_count = 0
        self._nudged = True  # something happened here (an upload, a task ended): the next pass is full
        self._head_seen = time.monotonic()  # when the head last changed (a frozen node is unhealthy)
        self._full_pass_due = 0.0  # monotonic time of the next full pass even without a new block
        self._balance = 0  # the market balance, read at most every full-pass interval (or after a task)
        self._metrics_due = 0.0
        self._nudged_metrics = True
        self._facts: dict[str, object] = {}  # the status facts last written (hoster_kv)
        self._facts_at = 0.0
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._upload_slots = asyncio.Semaphore(config.max_parallel_uploads)
        # set in _start
        self.db: StateDB
        self.state: HosterState
        self.journal: TxJournal
        self.settler: Settler
        self.index: MarketIndex
        self.market: Market
        self.params: MarketParams
        self.deployment: Deployment
        self.store: BlockStore
        self.keeper: ProofKeeper
        self.janitor: StoreJanitor
        self.w3: Web3

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        try:
            await self._start()
            await self._main_loop()
        finally:
            await self._shutdown()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: already stopped
                self._loop.call_soon_threadsafe(self._stop.set)
                if self._wake is not None:
                    self._loop.call_soon_threadsafe(self._wake.set)

    async def _chain(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking web3 call on the daemon's one chain thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._chain_pool, lambda: fn(*args, **kwargs))

    async def _retrying(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        def failed(exc: BaseException, wait: float) -> None:
            log_event(log, "rpc unavailable", logging.WARNING, what=what, wait_s=round(wait, 2),
                      error=str(exc).splitlines()[0])  # fmt: skip

        assert self._stop is not None
        return await retry(
            what, fn, backoff=Backoff(initial=0.5, maximum=10.0), on_error=failed, stop=self._stop
        )

    async def _start(self) -> None:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        (cfg.state_dir / READY_FILE).unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((cfg.host, cfg.port))
        except OSError as exc:
            raise ScatterError(
                f"cannot listen on {cfg.host}:{cfg.port} ({exc}); choose another --port"
            ) from None
        port = self._sock.getsockname()[1]
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        self.url = f"http://{host}:{port}"
        self.endpoint = cfg.public_endpoint or self.url

        self.w3 = await self._retrying("connecting", lambda: self._chain(connect, cfg.rpc_url))
        chain_id = await self._retrying("chain id", lambda: self._chain(lambda: int(self.w3.eth.chain_id)))
        check_endpoint(self.endpoint, chain_id)
        paths: list[Source] | None = [cfg.deployments] if cfg.deployments else None
        self.deployment = await self._chain(find_deployment, chain_id, paths, w3=self.w3)
        self.market = Market(self.w3, self.deployment.market)
        self.params = await self._retrying("params", lambda: self._chain(self.market.params))
        self.db = StateDB(cfg.state_dir / "hoster.db")
        self.index = MarketIndex(self.db, self.w3, self.deployment, confirmations=cfg.confirmations)
        self.index.follower.max_range = 5_000
        self.state = HosterState(self.db)
        self.journal = TxJournal(self.db, self.w3, self.account, max_fee_per_gas_cap=cfg.max_fee_per_gas_cap,
                                 on_bump=lambda _: self.metrics.fee_bumps.inc())  # fmt: skip
        self.store = open_store(cfg)
        self.keeper = ProofKeeper(cfg.state_dir / "possession", self.store)
        self.janitor = StoreJanitor(self.store, self.state, self.keeper, cfg.state_dir / "tmp",
                                    min_interval=min(30.0, self._epoch_s / 2))  # fmt: skip
        freed = await asyncio.to_thread(self.janitor.recover)  # before the endpoint serves
        log_event(log, "temp files removed", bytes=freed)
        # Keep-alive connections to every validator, enough for all settlements in flight.
        limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
        self._http = httpx.AsyncClient(timeout=10.0, limits=limits, trust_env=False)
        self.collector = AttestationCollector(chain_id, self.deployment.market, self._http)
        self.settler = Settler(
            w3=self.w3, market=self.deployment.market, journal=self.journal, collector=self.collector,
            quorum=self.params.quorum, epoch_seconds=self._epoch_s, metrics=self.metrics,
            send_pool=self._send_pool, retry_later=lambda deal_id, s: self._later(f"settle:{deal_id}", s),
            give_up=self._give_up_through,
            min_range=settle_range_epochs(self.params, cfg.settle_every),
        )  # fmt: skip

        app = create_app(self, self.store)
        self._server = make_server(app, cfg.http_limits)
        self._server_task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._server_task.done():
                raise ScatterError("the hoster's HTTP server failed to start")
            await asyncio.sleep(0.01)
        self.metrics.capacity.set(cfg.capacity)
        self._write_ready(chain_id)
        log_event(log, "hoster started", address=self.address, url=self.url, endpoint=self.endpoint,
                  market=self.deployment.market, chain_id=chain_id)  # fmt: skip
        self.ready.set()

    def _write_ready(self, chain_id: int) -> None:
        info = {"version": 1, "pid": os.getpid(), "url": self.url, "endpoint": self.endpoint,
                "address": self.address, "chainId": chain_id, "market": self.deployment.market}  # fmt: skip
        path = self.config.state_dir / READY_FILE
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
            json.dump(info, tmp)
        Path(tmp.name).replace(path)

    async def _shutdown(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            self._server.should_exit = True
        if self._server_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._server_task, 10)
        if self._sock is not None:
            self._sock.close()
        if self._http is not None:
            await self._http.aclose()
        self._chain_pool.shutdown(wait=True, cancel_futures=True)
        self._send_pool.shutdown(wait=True, cancel_futures=True)
        self._prove_pool.shutdown(wait=True, cancel_futures=True)
        if hasattr(self, "db"):
            self.db.close()
        if hasattr(self, "store"):
            self.store.close()
        (self.config.state_dir / READY_FILE).unlink(missing_ok=True)
        log_event(log, "hoster stopped", address=self.address)

    async def _main_loop(self) -> None:
        assert self._stop is not None and self._wake is not None
        delays = Backoff(initial=0.5, maximum=10.0).delays()
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.config.poll_interval
            try:
                if self._nudged or time.monotonic() >= self._full_pass_due:
                    await self.tick()
                else:
                    await self._block_pass()
                self._last_ok = time.time()
                self._rpc_down = False
                failures = 0
                wait = self._next_poll()
            except RETRYABLE as exc:
                wait = delays(failures)
                failures += 1
                self._rpc_down = True
                self._last_error = str(exc).splitlines()[0]
                self.metrics.errors.labels("rpc").inc()
                log_event(
                    log, "rpc unavailable", logging.WARNING, wait_s=round(wait, 2), error=self._last_error
                )
            except Exception as exc:
                self._last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self.metrics.errors.labels("tick").inc()
                log.exception("tick failed", extra={"event": "tick failed"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _next_poll(self) -> float:
        """Seconds until the next look at the chain: ``poll_interval``; on a node on this machine,
        timed for the next block instead — due one block gap after the last new head was seen,
        looked for a little before, then every DUE_POLL_S until it shows (for at most
        ``poll_interval`` past due: a node that mines only on demand is polled as usual). A new
        bid is then seen within about DUE_POLL_S of its block, for about two looks per block."""
        if not self._local_rpc or self._block_gap <= 0:
            return self.config.poll_interval
        late = time.monotonic() - (self._head_seen + self._block_gap)
        if late > self.config.poll_interval:
            return self.config.poll_interval
        return min(self.config.poll_interval, max(DUE_POLL_S, -late - DUE_POLL_S))

    # ----------------------------------------------------------------- tick

    async def _block_pass(self) -> None:
        """Between full passes (nothing done here since the last one, which is recent): one
        ``eth_blockNumber``, and on a new block the index's sync (one ``eth_getLogs``). A block
        with an event for this hoster (:meth:`_concerns_me`) brings the full pass forward; a
        challenge of one of its deals is answered at once. Blocks without either cost nothing
        more (at 300 deals every block brings settlements, and a full pass per block kept a
        starved hoster from its proofs)."""
        head = await self._chain(head_number, self.w3)
        if head == self._head:
            return
        events = await self._chain(self.index.sync, head=head)
        await self._read_head()
        if any(self._concerns_me(e) for e in events):
            await self.tick()
        elif any(e.name == "ProofRequested" for e in events):
            await self._prove_due()

    def _concerns_me(self, e: ChainEvent) -> bool:
        """Whether ``e`` changes what a full pass would do now: open slots (new, reopened, freed),
        this hoster's own reservations, fills and deal ends, or another hoster's claim on a bid
        it works on. Challenges are answered without a full pass; settlements wait for theirs."""
        if e.name in SLOT_EVENTS:
            return True
        if e.name == "DealSettled":
            return False
        if str(e.args.get("hoster", "")).lower() == self.address.lower():
            return True
        bid_id = e.args.get("bidId")
        return bid_id is not None and any(j.bid_id == bid_id for j in self.state.jobs(LIVE_SLOT))

    async def _read_head(self) -> None:
        number, timestamp = await self._chain(latest_head, self.w3)
        if number != self._head:
            if 0 < self._head < number:
                self._block_gap = (timestamp - self._now) / (number - self._head)
            self._head_seen = time.monotonic()
        self._now, self._head = timestamp, number
        self._epoch = self.params.epoch_at(self._now)  # currentEpoch() at the head, without a call

    async def tick(self) -> None:
        """One full pass of the loop (public for tests and tools)."""
        self._nudged = False
        self._full_pass_due = time.monotonic() + self._full_pass_s
        self._tick_count += 1
        await self._reconcile_journal()
        await self._ensure_joined()
        await self._chain(self.index.sync)
        await self._read_head()
        self._reconcile_deals()
        await self._prove_due()  # first: a proof window is the one deadline that costs collateral
        await self._handle_requests()
        await self._take_slots()
        self._start_content_tasks()
        await self._fill_verified()
        await self._release_expired()
        await self._settle_due()
        await self._finish_ended()
        await self._auto_withdraw()
        self._collect_garbage()
        await self._reconcile_journal()
        await self._update_metrics()

    def _spawn(self, key: str, coro: Awaitable[None]) -> None:
        async def wrapper() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.metrics.errors.labels(key.split(":")[0]).inc()
                log_event(log, "task failed", logging.WARNING, task=key, error=f"{exc}".splitlines()[0][:300])
            finally:
                self._tasks.pop(key, None)
                self._nudged = self._nudged_metrics = True

        self._tasks[key] = asyncio.create_task(wrapper())

    def _due(self, key: str) -> bool:
        return key not in self._tasks and self._retry_at.get(key, 0.0) <= time.monotonic()

    def _later(self, key: str, seconds: float) -> None:
        self._retry_at[key] = time.monotonic() + seconds

    @property
    def _full_pass_s(self) -> float:
        return FULL_PASS_POLLS * self.config.poll_interval

    @property
    def _epoch_s(self) -> float:
        return float(self.params.epoch_seconds)

    # -------------------------------------------------------------- journal

    async def _reconcile_journal(self) -> None:
        if hasattr(self, "index"):
            cp = self.index.checkpoint().block
            rewound = self.index.take_rewind()  # a reorg deeper than the confirmations: recheck from there
            try:
                gone = await self._chain(
                    self.journal.recheck_mined, cp if rewound is None else min(cp, rewound)
                )
            except BaseException:
                self.index.keep_rewind(rewound)  # rechecked on the next attempt
                raise
            for rec in gone:
                log_event(
                    log, "transaction reorganised away", logging.WARNING, kind=rec.kind, subject=rec.subject
                )
                if rec.kind == "reserve":  # the reservation is gone: so is the slot job
                    bid_id, slot = _split_key(rec.subject)
                    self.state.set_job(bid_id, slot, LOST, only_from=(RESERVING, RESERVED),
                                       note="reserve reorganised away")  # fmt: skip
        for rec, receipt in await self._chain(self.journal.reconcile):
            ok = receipt is not None and receipt["status"] == 1
            if rec.kind == "reserve":
                self._reserve_outcome(rec.subject, receipt if ok else None)
            elif rec.kind == "fill":
                self._fill_outcome(rec.subject, receipt if ok else None)
            elif rec.kind == "prove" and ok:  # answered (or skipped on chain): never sent again
                self._proved.update(rec.subject.split(","))
            elif rec.kind == "release" and ok:
                bid_id, slot = _split_key(rec.subject)
                self.state.set_job(
                    bid_id, slot, RELEASED, only_from=(RESERVED,), note="reservation fee collected"
                )
                self.metrics.reservations.labels("released").inc()
            if receipt is not None and not ok:
                log_event(log, "transaction reverted", logging.WARNING, kind=rec.kind, subject=rec.subject,
                          tx="0x" + rec.tx_hash.hex())  # fmt: skip

    def _reserve_outcome(self, key: str, receipt: TxReceipt | None) -> None:
        bid_id, slot = _split_key(key)
        if receipt is None:
            self.metrics.races_lost.inc()
            self.state.set_job(bid_id, slot, LOST, only_from=(RESERVING,), note="reserve reverted or dropped")
            log_event(log, "reserve lost", bid_id=bid_id, slot=slot)
            return
        for ev in self.market.events(receipt, "SlotReserved"):
            if ev["hoster"] == self.address and int(ev["slot"]) == slot:
                self.state.set_job(bid_id, slot, RESERVED, only_from=(RESERVING,),
                                   reserved_until=int(ev["expiresAt"]))  # fmt: skip
                self.metrics.reservations.labels("made").inc()
                log_event(log, "slot reserved", bid_id=bid_id, slot=slot, until=int(ev["expiresAt"]))

    def _fill_outcome(self, key: str, receipt: TxReceipt | None) -> None:
        bid_id, slot = _split_key(key)
        if receipt is None:
            # a race lost after the estimate, or the seed block aged out: check again, then retry
            self.state.set_job(bid_id, slot, VERIFIED, only_from=(FILLING,), note="fill reverted or dropped")
            self._later(f"fill:{key}", max(1.0, self._epoch_s / 2))
            return
        for ev in self.market.events(receipt, "SlotFilled"):
            if ev["hoster"] == self.address and int(ev["slot"]) == slot:
                self._filled(bid_id, slot, int(ev["dealId"]), int(receipt["blockNumber"]))

    def _filled(self, bid_id: int, slot: int, deal_id: int, block: int) -> None:
        job = self.state.job(bid_id, slot)
        if job is None:
            return
        if self.state.add_deal(deal_id, bid_id, slot, job.cid, job.size, job.client, block):
            self.state.set_state(deal_id, PINNED, nbytes=job.bytes or job.size, source=job.mode)
            log_event(log, "slot filled", deal_id=deal_id, bid_id=bid_id, slot=slot, cid=job.cid)
        if job.state != FILLED:
            self.state.set_job(bid_id, slot, FILLED, deal_id=deal_id)
            if job.mode == PUSH:
                self.metrics.reservations.labels("filled").inc()

    # ----------------------------------------------------------------- join

    async def _ensure_joined(self) -> None:
        if self._joined and self._tick_count % 30:
            return
        node = await self._chain(self.market.node, Role.HOSTER, self.address)
        cp = self.index.checkpoint().block
        if node.status == NodeStatus.NONE:
            if any(r.kind == "join" for r in self.journal.pending()):
                return  # sent, not mined yet
            fn = self.market.contract.functions.join(int(Role.HOSTER), self.endpoint, self.config.capacity)
            rec = await self._chain(self.journal.send, "join", "hoster", fn, self.config.stake)
            self.metrics.txs.labels("join").inc()
            log_event(
                log,
                "joining",
                stake_wei=self.config.stake,
                endpoint=self.endpoint,
                tx="0x" + rec.tx_hash.hex(),
            )
            await self._chain(self.journal.wait, rec)
            return
        stale = node.endpoint != self.endpoint or node.capacity != self.config.capacity
        if (
            node.status == NodeStatus.ACTIVE
            and stale
            and self.journal.live("update", "hoster", confirmed_block=cp) is None
        ):
            fn = self.market.contract.functions.updateNode(
                int(Role.HOSTER), self.endpoint, self.config.capacity
            )
            rec = await self._chain(self.journal.send, "update", "hoster", fn)
            log_event(log, "updating node", endpoint=self.endpoint, capacity=self.config.capacity)
            await self._chain(self.journal.wait, rec)
        self._joined = node.status == NodeStatus.ACTIVE

    # ------------------------------------------------------- deals vs index

    def _reconcile_deals(self) -> None:
        cp = self.index.checkpoint().block
        for deal_id, status in self.state.db.query(
            "SELECT d.deal_id, d.status FROM deals d LEFT JOIN hoster_deals h ON h.deal_id = d.deal_id "
            "WHERE d.hoster = ? AND ((h.deal_id IS NULL AND d.status = 1) "
            "OR (h.state IN ('awaiting', 'pinned') AND d.status IN (2, 3)))",
            (self.address,),
        ):
            local = self.state.deal(deal_id)
            if local is None:  # filled on chain, receipt not read here (a crash in between)
                d = self.index.deal(deal_id)
                if d is not None:
                    self._filled(d.bid_id, d.slot, deal_id, cp)
            else:
                self._end_deal(local, "finished" if status == DealStatus.FINISHED else "faulted")
        self._views = holding_views(self.state.db)
        for v in self._views:
            if v.local.accepted_block <= cp and v.hoster != self.address:
                self._end_deal(v.local, "fill reorganised away", state=DROPPED)
        self._views = [v for v in self._views if v.hoster == self.address]

    def _end_deal(self, local: LocalDeal, why: str, *, state: str = ENDED) -> None:
        """Unpin (unless another deal or slot here holds the CID), then record the end: a crash in
        between leaves the deal holding, and the next tick ends it again."""
        if not self.state.other_deals_hold(local.cid, local.deal_id):
            self._drop_content(local.cid)
        self.state.set_state(local.deal_id, state, note=why)
        log_event(
            log, "deal ended", deal_id=local.deal_id, bid_id=local.bid_id, reason=why, unpinned=local.cid
        )

    def _drop_content(self, cid: str) -> None:
        """Unpin ``cid`` and forget its possession cache; its blocks go within the epoch."""
        self.janitor.drop(parse_cid(cid))

    def _collect_garbage(self) -> None:
        """Unpin what no live deal or slot job needs (once per epoch); when anything was unpinned,
        delete the blocks no pin reaches (:mod:`scatter.hoster.gc`)."""
        for cid in self.janitor.unpin_strays(self._epoch):
            log_event(log, "stray pin removed", logging.WARNING, cid=cid_str(cid))
        if self._due("gc") and self.janitor.take_due(self._epoch):
            self._spawn("gc", self._collect())

    async def _collect(self) -> None:
        result, held = await asyncio.to_thread(self.janitor.collect)
        self.metrics.gc_freed.inc(result.freed_bytes)
        self.metrics.store_bytes.set(held.size_bytes)
        log_event(log, "garbage collected", blocks=result.removed_blocks, bytes=result.freed_bytes,
                  store_bytes=held.size_bytes)  # fmt: skip

    # ----------------------------------------------------------- take slots

    def _slot_mode(self, bid: IndexedBid, slot: int, deals: list[IndexedDeal]) -> tuple[str | None, str]:
        """How this hoster would take the content of ``slot`` (``deals``: the bid's, from the index),
        or why it would not."""
        past = [d for d in deals if d.slot == slot]
        live_others = [d for d in deals if d.status == DealStatus.ACTIVE]
        if len(bid.cids) > 1 and past:
            return (HEAL, "") if self.config.heal else (None, "reopened shard slot and healing is off")
        if gateway_bases(bid.origins) or (past and live_others):
            return FETCH, ""
        return PUSH, ""

    def _choose_slot(self, bid: IndexedBid, gas_price: int = 0) -> tuple[int | None, str, str]:
        """(slot, mode, why not) for an open slot this hoster would take (``gas_price``: for the
        filter's break-even price, scatter.chain.economics; 0 skips it)."""
        if bid.client == self.address:
            return None, "", "own bid"
        if self.state.in_bid(bid.bid_id):
            return None, "", "already holds a live slot of this bid"
        open_slots = bid.open_slot_indexes()
        deals = self.index.deals_of_bid(bid.bid_id)
        place = self._place_in_queue(bid, deals)
        waited = time.monotonic() - self._opened_at(bid.bid_id, open_slots)
        step = self.config.queue_step if self.config.queue_step is not None else step_seconds(self._epoch_s)
        turn = turn_in(place, len(open_slots), step)
        floor = break_even_price(self.params, size=bid.size, duration=bid.duration_epochs,
                                 gas_price=gas_price, settle_every=self.config.settle_every,
                                 block_seconds=self._block_s)  # fmt: skip
        reason = "no open slot"
        for slot in slot_order(place, open_slots):
            held = self.index.reservation(bid.bid_id, slot)
            if held is not None and held.expires_at > self._now:
                reason = "reserved by another hoster"
                continue
            cid = cid_str(parse_cid(bid.cid_of_slot(slot)))
            why = self.config.filter.rejects(
                size=bid.size, price_per_epoch=bid.price_per_epoch, duration=bid.duration_epochs,
                client=bid.client, cid=cid, break_even=floor,
            )  # fmt: skip
            if why is not None:
                reason = why
                continue
            mode, why = self._slot_mode(bid, slot, deals)
            if mode is None:
                reason = why
                continue
            if mode != PUSH and waited < turn:  # scatter.hoster.queue: the ones ahead go first
                reason = f"place {place} in the queue: its turn in {turn - waited:.0f} s"
                continue
            return slot, mode, ""
        return None, "", reason

    def _place_in_queue(self, bid: IndexedBid, deals: list[IndexedDeal]) -> int:
        """This hoster's place among the hosters that may take a slot of ``bid``: the active ones
        other than its client and the holders of its live slots (among ``deals``, the bid's)."""
        barred = {d.hoster.lower() for d in deals if d.status == DealStatus.ACTIVE} | {bid.client.lower()}
        hosters = [n.address for n in self.index.nodes(Role.HOSTER) if n.address.lower() not in barred]
        return place_in_queue(self.address, hosters, bid.bid_id)

    def _opened_at(self, bid_id: int, open_slots: list[int]) -> float:
        """When this process first saw ``bid_id`` with exactly these slots open (monotonic)."""
        key = tuple(open_slots)
        seen = self._opened.get(bid_id)
        if seen is None or seen[0] != key:
            seen = self._opened[bid_id] = (key, time.monotonic())
        return seen[1]

    def _promised_collateral(self) -> int:
        return sum(j.max_collateral for j in self.state.jobs(LIVE_SLOT))

    async def _take_slots(self) -> None:
        """Start work on open slots that match: reserve (private push) or fetch/heal (then fill).
        Nothing is locked here: collateral is locked only by ``fill``, after the content checked."""
        if not self._joined:
            return
        free = self.config.capacity - self.state.used_bytes()
        stake: int | None = None
        started = 0
        gas_price: int | None = None
        still_open: set[int] = set()
        for bid in self.index.open_bids():
            still_open.add(bid.bid_id)
            key = f"take:{bid.bid_id}"
            if started >= 64 or not self._due(key) or bid.size > free:
                continue
            if gas_price is None:  # one read per pass, only when a bid is looked at
                use = self.config.filter.break_even
                gas_price = await self._chain(current_gas_price, self.w3) if use else 0
                if use and time.monotonic() >= self._block_s_due:  # the audit gas counts blocks
                    self._block_s = await self._chain(block_seconds_of, self.w3)
                    self._block_s_due = time.monotonic() + BLOCK_TIME_TTL_S
            slot, mode, why = self._choose_slot(bid, gas_price)
            if slot is None:
                self._later(key, 3600.0 if why == "own bid" else RECHECK_S)
                continue
            epochs = await self._chain(self.market.slot_epochs, bid.bid_id, slot)
            collateral = self.params.collateral(bid.price_per_epoch, epochs)
            if stake is None:
                node = await self._chain(self.market.node, Role.HOSTER, self.address)
                stake = node.free_stake - self._promised_collateral()
            if epochs == 0 or collateral > stake:
                self._later(key, RECHECK_S)
                continue
            cid = cid_str(parse_cid(bid.cid_of_slot(slot)))
            first = {PUSH: RESERVING, FETCH: FETCHING, HEAL: HEALING}[mode]
            started_job = self.state.add_job(
                bid.bid_id, slot, cid=cid, root=bid.root_of_slot(slot), size=bid.size, client=bid.client,
                mode=mode, state=first, max_collateral=collateral,
            )  # fmt: skip
            if not started_job:
                continue
            if mode == PUSH and not await self._reserve(bid.bid_id, slot, collateral):
                continue
            log_event(log, "slot taken", bid_id=bid.bid_id, slot=slot, mode=mode, collateral_wei=collateral)
            free -= bid.size
            stake -= collateral
            started += 1
        for bid_id in self._opened.keys() - still_open:
            del self._opened[bid_id]

    async def _reserve(self, bid_id: int, slot: int, collateral: int) -> bool:
        key = f"{bid_id}:{slot}"
        fn = self.market.contract.functions.reserve(bid_id, slot, collateral)
        try:
            rec = await self._chain(self.journal.send, "reserve", key, fn)
        except ContractError as exc:  # estimated first: nothing was sent
            self.metrics.races_lost.inc()
            self.state.set_job(bid_id, slot, LOST, note=f"reserve refused: {exc.error_name or exc}"[:200])
            self._later(f"take:{bid_id}", max(1.0, 2 * self.config.poll_interval))
            log_event(log, "reserve lost", bid_id=bid_id, slot=slot, reason=exc.error_name)
            return False
        self.metrics.txs.labels("reserve").inc()
        log_event(log, "reserve sent", bid_id=bid_id, slot=slot, tx="0x" + rec.tx_hash.hex())
        return True

    # ------------------------------------------------------------- content

    def _start_content_tasks(self) -> None:
        pinned = {cid_str(c) for c in self.store.pins()}
        for job in self.state.jobs([RESERVED, FETCHING, HEALING]):
            key = f"content:{job.key}"
            if not self._due(key):
                continue
            if job.cid in pinned:  # pinned before a crash, or held for another slot: check it again
                self._spawn(key, self._recheck(job))
                continue
            if job.state == RESERVED:
                continue  # waits for the client's push
            bid = self.index.bid(job.bid_id)
            if bid is None:
                continue
            endpoints: dict[int, list[str]] = {}
            for d in self.index.deals_of_bid(bid.bid_id):
                node = self.index.node(Role.HOSTER, d.hoster) if d.status == DealStatus.ACTIVE else None
                if node is not None and d.hoster != self.address:
                    endpoints.setdefault(d.slot, []).append(node.endpoint)
            if job.state == HEALING:
                self._spawn(key, self._heal(job, bid, endpoints))
                continue
            sources = gateway_bases(bid.origins) + list(self.config.fetch_gateways)
            sources += [e for slot, eps in endpoints.items() if len(bid.cids) == 1 for e in eps]
            if sources:
                self._spawn(key, self._fetch(job, sources))

    def _content_failed(self, job: SlotJob, what: str, exc: BaseException) -> None:
        key = f"content:{job.key}"
        tries = self._tries.get(key, 0) + 1
        self._tries[key] = tries
        if tries >= self.config.content_attempts:
            self.state.set_job(job.bid_id, job.slot, ABANDONED, note=f"{what} failed {tries} times")
        else:
            self._later(key, max(2.0, self._epoch_s))
        log_event(log, f"{what} failed", logging.WARNING, bid_id=job.bid_id, slot=job.slot, cid=job.cid,
                  attempt=tries, error=str(exc).splitlines()[0][:200])  # fmt: skip

    async def _recheck(self, job: SlotJob) -> None:
        try:
            cache = await asyncio.to_thread(check_shard, self.store, parse_cid(job.cid), job.size, job.root)
        except ShardMismatch as exc:
            self._later(f"content:{job.key}", 3600.0)
            log_event(log, "pinned content does not match the slot", logging.WARNING, bid_id=job.bid_id,
                      slot=job.slot, error=str(exc)[:200])  # fmt: skip
            return
        self._verified(job, Checked(job.size, cache), "store")

    async def _fetch(self, job: SlotJob, sources: list[str]) -> None:
        work = self.config.state_dir / "tmp" / f"fetch-{job.bid_id}-{job.slot}"
        try:
            checked = await fetch_checked(self.store, work, job.cid, sources, job.size, job.root)
        except ScatterError as exc:
            self._content_failed(job, "fetch", exc)
            return
        self._verified(job, checked, "fetch")

    async def _heal(self, job: SlotJob, bid: IndexedBid, endpoints: dict[int, list[str]]) -> None:
        cids = [cid_str(parse_cid(c)) for c in bid.cids]
        work = self.config.state_dir / "tmp" / f"heal-{job.bid_id}-{job.slot}"
        try:
            checked = await heal(self.store, work, cids=cids, slot=job.slot, sources=endpoints, size=job.size,
                                 possession_root=job.root)  # fmt: skip
        except ScatterError as exc:
            self.metrics.heals.labels("failed").inc()
            self._content_failed(job, "heal", exc)
            return
        self.metrics.heals.labels("ok").inc()
        self._verified(job, checked, "heal")

    def _verified(self, job: SlotJob, checked: Checked, source: str) -> None:
        """The content matched the slot and is pinned: keep its possession cache, fill next."""
        crash_point("pinned")
        self._nudged = True
        if self._wake is not None:
            self._wake.set()  # fill now, not after the loop's wait
        self.keeper.save(parse_cid(job.cid), checked.cache)
        if self.state.set_job(job.bid_id, job.slot, VERIFIED, nbytes=checked.size, note=source,
                              only_from=(RESERVING, RESERVED, FETCHING, HEALING)):  # fmt: skip
            log_event(log, "content verified", bid_id=job.bid_id, slot=job.slot, cid=job.cid,
                      bytes=checked.size, source=source)  # fmt: skip

    # ---------------------------------------------------------------- fill

    async def _fill_verified(self) -> None:
        cp = self.index.checkpoint().block
        for job in self.state.jobs([VERIFIED]):
            key = f"fill:{job.key}"
            if not self._due(key) or self.journal.live("fill", job.key, confirmed_block=cp) is not None:
                continue
            reserve = self.journal.live("reserve", job.key)
            if reserve is not None and reserve.status in PENDING:
                continue  # pushed before the reservation was mined (the client reads pending state)
            await self._fill(job)

    async def _fill(self, job: SlotJob) -> None:
        """Fill with a proof over a recent block: estimated first (a fill that would revert is never
        sent), locking at most the collateral computed when the slot was taken."""
        key = f"fill:{job.key}"
        seed_block = max(0, self._head - 1)  # in the past both for the estimate and once mined
        block = await self._chain(self.w3.eth.get_block, seed_block)
        seed = fill_seed(bytes(block["hash"] or b""), job.bid_id, job.slot, self.address)
        proof = await asyncio.to_thread(self.keeper.prove, parse_cid(job.cid), job.size, seed)
        fn = self.market.contract.functions.fill(job.bid_id, job.slot, seed_block, job.max_collateral, proof)
        try:
            rec = await self._chain(self.journal.send, "fill", job.key, fn)
        except ContractError as exc:
            if exc.error_name in LOST_RACE or exc.error_name in ("CollateralTooHigh", "UnknownBid"):
                self.metrics.races_lost.inc()
                self.state.set_job(job.bid_id, job.slot, LOST if exc.error_name in LOST_RACE else ABANDONED,
                                   note=f"fill refused: {exc.error_name}")  # fmt: skip
                if not self.state.other_deals_hold(job.cid, -1):
                    self._drop_content(job.cid)
            else:
                self._later(key, max(1.0, self._epoch_s))
            log_event(log, "fill refused", logging.WARNING, bid_id=job.bid_id, slot=job.slot,
                      error=str(exc).splitlines()[0][:200])  # fmt: skip
            return
        self.state.set_job(job.bid_id, job.slot, FILLING, only_from=(VERIFIED,))
        self.metrics.txs.labels("fill").inc()
        log_event(log, "fill sent", bid_id=job.bid_id, slot=job.slot, seed_block=seed_block,
                  collateral_wei=job.max_collateral, tx="0x" + rec.tx_hash.hex())  # fmt: skip

    # ---------------------------------------------------------- reservation

    async def _release_expired(self) -> None:
        """A reservation whose client never pushed: release it, which pays this hoster the
        reservation fee (one epoch of the slot) and frees the slot. Nothing was ever locked."""
        cp = self.index.checkpoint().block
        for job in self.state.jobs([RESERVED]):
            if job.reserved_until == 0 or self._now < job.reserved_until:
                continue
            key = f"release:{job.key}"
            if not self._due(key) or self.journal.live("release", job.key, confirmed_block=cp) is not None:
                continue
            fn = self.market.contract.functions.releaseReservation(job.bid_id, job.slot)
            try:
                rec = await self._chain(self.journal.send, "release", job.key, fn)
            except ContractError as exc:
                holder = str(exc.error_args[2]).lower() if exc.error_name == "SlotIsReserved" else ""
                if exc.error_name in LOST_RACE and holder != self.address.lower():
                    # released by another, the slot cancelled or reserved again: the job is over
                    self.state.set_job(
                        job.bid_id, job.slot, RELEASED, note=f"released by another: {exc.error_name}"
                    )
                else:  # not expired yet where the estimate ran: try again shortly
                    self._later(key, max(1.0, self.config.poll_interval))
                continue
            self.metrics.txs.labels("release").inc()
            log_event(log, "release sent", bid_id=job.bid_id, slot=job.slot, tx="0x" + rec.tx_hash.hex())

    # --------------------------------------------------------------- proofs

    async def _prove_due(self) -> None:
        """Answer every open challenge of this hoster's deals within its window, in batches of
        one ``proveMany``. Proofs read only the local store and the chain: no gateway involved."""
        if not self._due("prove"):
            return
        live = {v.local.deal_id: v for v in self._views if v.status == DealStatus.ACTIVE}
        if not self._polled:  # after a start: the index may predate a challenge's event
            for deal_id in live:
                c = await self._chain(self.market.challenge_of, deal_id)
                if c.open:
                    self._open[deal_id] = c
            self._polled = True
        for d in self.index.open_challenges(hoster=self.address):
            known = self._open.get(d.deal_id)
            indexed = (d.challenge_epoch, d.challenge_due)
            fresh = known is not None and (known.requested_epoch, known.due_epoch) == indexed
            if d.deal_id in live and not fresh:  # a new challenge (after a fault: same epoch, later due)
                self._open[d.deal_id] = await self._chain(self.market.challenge_of, d.deal_id)
        for deal_id, known in list(self._open.items()):  # closed on chain, as the index saw it
            row = self.index.deal(deal_id)
            if row is None or row.challenge_open:
                continue
            if (row.challenge_epoch, row.challenge_due) == (known.requested_epoch, known.due_epoch):
                self._open.pop(deal_id)
        cp = self.index.checkpoint().block
        in_flight = {i for s in self.journal.live_subjects("prove", confirmed_block=cp) for i in s.split(",")}
        todo: list[tuple[DealView, Challenge]] = []
        for deal_id, c in list(self._open.items()):
            if deal_id not in live or not c.open:
                self._open.pop(deal_id, None)
                continue
            if _proof_item(deal_id, c) in self._proved:
                self._open.pop(deal_id, None)
                continue
            if _proof_item(deal_id, c) in in_flight:
                continue
            if self._epoch > c.due_epoch:
                self.metrics.proofs.labels("late").inc()
                self._open.pop(deal_id, None)
                continue
            todo.append((live[deal_id], c))
        if todo:
            todo.sort(key=lambda t: t[1].due_epoch)
            self._spawn("prove", self._prove(todo))

    async def _prove(self, todo: list[tuple[DealView, Challenge]]) -> None:
        def build(v: DealView, c: Challenge) -> ProofItem | None:
            """The deal's proof item, or None when its shard cannot answer (a block lost or
            corrupt here): that deal misses its proof, and no other deal waits for it."""
            try:
                proof = self.keeper.prove(parse_cid(v.local.cid), v.local.size, c.seed)
            except (ScatterError, OSError) as exc:
                self.metrics.proofs.labels("unbuildable").inc()
                _unbuildable.log("proof cannot be built", logging.ERROR, key=f"unbuildable:{v.local.deal_id}",
                                 deal_id=v.local.deal_id, error=str(exc).splitlines()[0])  # fmt: skip
                return None
            return v.local.deal_id, c.seed, proof

        challenges = {v.local.deal_id: c for v, c in todo}
        for start in range(0, len(todo), MAX_PROOF_BATCH):
            chunk = todo[start : start + MAX_PROOF_BATCH]
            built = [await asyncio.to_thread(build, v, c) for v, c in chunk]
            items = [item for item in built if item is not None]
            if items:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._prove_pool, self._send_proofs, items, challenges)

    def _send_proofs(self, items: list[ProofItem], challenges: dict[int, Challenge]) -> None:
        """Estimate, record, broadcast one ``proveMany``; an item that fails the estimate is dropped
        from the batch and tried alone (so one bad item never holds up the others)."""
        subject = ",".join(_proof_item(d, challenges[d]) for d, _, _ in items)
        data = prove_many_calldata(items)
        call = {"from": self.journal.address, "to": self.market.address, "data": "0x" + data.hex()}
        try:
            gas = rpc_guard(f"prove {subject[:60]}", lambda: self.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        except ContractError as exc:
            if len(items) > 1:
                for item in items:
                    self._send_proofs([item], challenges)
                return
            self.metrics.proofs.labels("dropped").inc()
            log_event(log, "proof refused", logging.ERROR, deal_id=items[0][0],
                      error=str(exc).splitlines()[0][:200])  # fmt: skip
            return
        rec = self.journal.send_call(
            "prove", subject, self.market.address, data, gas=int(gas * 1.25) + 20_000
        )
        self.metrics.txs.labels("prove").inc()
        self.metrics.proofs.labels("sent").inc(len(items))
        log_event(log, "proofs sent", deals=[d for d, _, _ in items], tx="0x" + rec.tx_hash.hex())

    # ----------------------------------------------------------- HTTP side

    def slot_status(self, bid_id: int, slot: int) -> SlotStatus | None:
        job = self.state.job(bid_id, slot)
        if job is None:
            return None
        pinned = job.state in (VERIFIED, FILLING, FILLED)
        if job.deal_id is not None:
            local = self.state.deal(job.deal_id)
            pinned = local is not None and local.state == PINNED
        until = job.reserved_until or None
        return SlotStatus(bid_id, slot, job.cid, job.state, pinned, job.bytes, job.deal_id, until)

    def pin_status(self, deal_id: int) -> SlotStatus | None:
        local = self.state.deal(deal_id)
        if local is None or local.state == DROPPED:
            return None
        status = self.slot_status(local.bid_id, local.slot)
        state = "filled" if local.state == PINNED else local.state
        until = status.reserved_until if status else None
        pinned = local.state == PINNED
        return SlotStatus(local.bid_id, local.slot, local.cid, state, pinned, local.bytes, deal_id, until)

    def health(self) -> tuple[bool, dict[str, object]]:
        """Healthy while the chain answers and moves: a node that answers but mines nothing for
        ``max_head_age`` seconds (frozen, or cut off from its peers) is as bad as none."""
        fresh = not self._rpc_down and time.time() - self._last_ok < max(30.0, 10 * self.config.poll_interval)
        head_age = time.monotonic() - self._head_seen
        stale = 0 < self.config.max_head_age < head_age
        return fresh and not stale, {
            "address": self.address,
            "epoch": self._epoch,
            "checkpoint": self.index.checkpoint().block if hasattr(self, "index") else -1,
            "rpc": "stale" if fresh and stale else "ok" if fresh else "unavailable",
            "headAgeSeconds": round(head_age, 1),
            "lastError": self._last_error,
        }

    async def receive_upload(self, bid_id: int, slot: int, request: Request) -> SlotStatus:
        job = self.state.job(bid_id, slot)
        if job is None or job.state not in (RESERVING, RESERVED, FETCHING, VERIFIED, FILLING, FILLED):
            await self._reconcile_journal()  # a reserve whose receipt this process has not read yet
            job = self.state.job(bid_id, slot)
        if job is None or job.state not in (RESERVING, RESERVED, FETCHING, VERIFIED, FILLING, FILLED):
            self.metrics.uploads.labels("unknown_slot").inc()
            raise UploadRejected(404, "this hoster holds no reservation of this slot")
        ctx = UploadContext(bid_id, slot, job.cid, job.size, job.client, self.deployment.chain_id,
                            self.deployment.market)  # fmt: skip
        try:
            upload = check_upload_headers(request.headers, ctx)
        except UploadRejected as exc:
            self.metrics.uploads.labels("rejected").inc()
            _rejections.log("upload rejected", logging.WARNING, bid_id=bid_id, slot=slot, status=exc.status,
                      reason=str(exc))  # fmt: skip
            raise
        if job.state in (VERIFIED, FILLING, FILLED):
            status = self.slot_status(bid_id, slot)
            assert status is not None
            return status
        lock = self._slot_locks.setdefault(job.key, asyncio.Lock())
        async with lock, self._upload_slots:
            tmp_dir = self.config.state_dir / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            name = f"upload-{bid_id}-{slot}-{uuid.uuid4().hex}"
            path = tmp_dir / f"{name}.car"
            try:
                with path.open("wb") as out:
                    await spool_body(
                        request.stream(), upload, out, idle_timeout=self.config.upload_idle_timeout,
                        total_timeout=self.config.upload_timeout,
                    )  # fmt: skip
                crash_point("upload_spooled")
                checked = await asyncio.to_thread(
                    import_checked_car, self.store, tmp_dir / name, path, job.cid, job.size, job.root
                )
            except UploadRejected as exc:
                self.metrics.uploads.labels("rejected").inc()
                self.state.set_job(bid_id, slot, job.state, note=f"upload refused: {exc}"[:200])
                _rejections.log("upload rejected", logging.WARNING, bid_id=bid_id, slot=slot,
                          status=exc.status, reason=str(exc))  # fmt: skip
                raise
            finally:
                path.unlink(missing_ok=True)
        self.metrics.uploads.labels("verified").inc()
        self._verified(job, checked, "upload")
        status = self.slot_status(bid_id, slot)
        assert status is not None
        return status

    # ---------------------------------------------------------- settlement

    def _validators(self, exclude: set[str]) -> list[Validator]:
        return [
            Validator(n.address, n.endpoint)
            for n in self.index.nodes(Role.VALIDATOR)
            if n.stake >= self.params.min_validator_stake and n.address.lower() not in exclude
        ]

    async def _committee(self, deal_id: int, period: int, validators: list[Validator]) -> frozenset[str]:
        """The deal's committee for ``period`` among ``validators`` (cached: it never changes)."""
        key = (deal_id, period)
        found = self._committees.get(key)
        if found is None or len(found[1]) != len(validators):
            epoch = period * self.params.period_epochs
            members = []
            for v in validators:
                if await self._chain(self.market.is_committee_member, deal_id, epoch, v.address):
                    members.append(v.address.lower())
            found = (frozenset(members), frozenset(v.address for v in validators))
            self._committees[key] = found
        return found[0]

    def _give_up_through(self, deal_id: int, epoch: int) -> None:
        """Settle nothing up to ``epoch`` again (a period over without a quorum; kept until restart)."""
        self._given_up[deal_id] = max(epoch, self._given_up.get(deal_id, 0))

    async def _settle_due(self) -> None:
        """Hand the deals whose unpaid range is due to the settler, one batch task at a time.

        A range starts after ``paidThrough`` and ``failedEpoch`` and lies within one committee
        period; a deal with a challenge open waits for its proof (validators sign no ok until
        then: asking only cost both sides CPU)."""
        if not self._due("settle"):
            return
        p = self.params
        cp = self.index.checkpoint().block
        every = settle_range_epochs(p, self.config.settle_every)
        in_flight = subject_deals(self.journal.live_subjects("settle", confirmed_block=cp))
        validators = self._validators({self.address.lower()})
        if len(validators) < p.quorum:
            self._later("settle", self._epoch_s)
            return
        due: list[Due] = []
        for v in self._views:
            deal_id = v.local.deal_id
            if v.local.state != PINNED or v.status != DealStatus.ACTIVE or deal_id in in_flight:
                continue
            if not self._due(f"settle:{deal_id}"):
                continue
            if v.challenge_open:  # validators sign no ok while a challenge is open: prove first
                continue
            nxt = max(v.paid_through, v.failed_epoch, self._given_up.get(deal_id, 0)) + 1
            last = min(self._epoch - 1, v.end_epoch)
            period_end = p.period_bounds(p.period_of(nxt))[1]
            last = min(last, period_end)
            if last < nxt:
                continue
            pressure = last == period_end or self._epoch >= v.paid_through + p.missed_quorum_epochs - 1
            if last - nxt + 1 < every and last != v.end_epoch and not pressure:
                continue
            committee = await self._committee(deal_id, p.period_of(nxt), validators)
            over = last == min(period_end, v.end_epoch) and self._epoch >= last + 2  # all verdicts are out
            due.append(Due(deal_id, v.local.client, nxt, last, pressure, committee, period_over=over))
        if due:
            self._spawn("settle", self.settler.settle(due, validators))

    # --------------------------------------------------------------- finish

    async def _finish_ended(self) -> None:
        cp = self.index.checkpoint().block
        window = self.params.proof_window_epochs
        in_flight = self.journal.live_subjects("finish", confirmed_block=cp)
        for v in self._views:
            local = v.local
            if v.status != DealStatus.ACTIVE or v.challenge_open or self._epoch <= v.end_epoch + window:
                continue
            if (
                v.paid_through < v.end_epoch
                and self._epoch <= v.end_epoch + window + 2
                and local.state == PINNED
            ):
                continue  # the last range may still be settled
            if str(local.deal_id) in in_flight or not self._due(f"finish:{local.deal_id}"):
                continue
            fn = self.market.contract.functions.finish(local.deal_id)
            try:
                rec = await self._chain(self.journal.send, "finish", str(local.deal_id), fn)
            except ContractError as exc:
                self._later(f"finish:{local.deal_id}", self._epoch_s)
                log_event(log, "finish refused", logging.WARNING, deal_id=local.deal_id, error=str(exc))
                continue
            self.metrics.txs.labels("finish").inc()
            log_event(log, "finish sent", deal_id=local.deal_id, tx="0x" + rec.tx_hash.hex())

    # ------------------------------------------------------------- withdraw

    async def _withdraw(self, to: str) -> str:
        cp = self.index.checkpoint().block
        if self.journal.live("withdraw", "balance", confirmed_block=cp) is not None:
            return "a withdrawal is already in flight"
        balance = await self._chain(self.market.balance_of, self.address)
        if balance == 0:
            return "nothing to withdraw"
        fn = self.market.contract.functions.withdraw(Web3.to_checksum_address(to))
        rec = await self._chain(self.journal.send, "withdraw", "balance", fn)
        self.metrics.txs.labels("withdraw").inc()
        log_event(log, "withdraw sent", amount_wei=balance, to=to, tx="0x" + rec.tx_hash.hex())
        return "0x" + rec.tx_hash.hex()

    async def _handle_requests(self) -> None:
        for request_id, kind, args in self.state.open_requests():
            if kind != "withdraw":
                self.state.close_request(request_id, "failed", f"unknown request {kind}")
                continue
            to = args.get("to") or self.config.payout_address or self.address
            try:
                result = await self._withdraw(to)
            except ScatterError as exc:
                self.state.close_request(request_id, "failed", str(exc).splitlines()[0])
                continue
            self.state.close_request(request_id, "done", result)

    async def _auto_withdraw(self) -> None:
        threshold = self.config.withdraw_threshold
        if threshold is None or not self._due("withdraw"):
            return
        balance = await self._chain(self.market.balance_of, self.address)
        if balance >= max(threshold, 1):
            await self._withdraw(self.config.payout_address or self.address)
            self._later("withdraw", 2 * self._epoch_s)

    # -------------------------------------------------------------- metrics

    async def _update_metrics(self) -> None:
        counts = self.state.counts()
        for s in (AWAITING, PINNED, ENDED, DROPPED):
            self.metrics.deals.labels(s).set(counts.get(s, 0))

        self.metrics.bytes_pinned.set(self.state.pinned_bytes())
        self.metrics.capacity_used.set(self.state.used_bytes())
        earned = earned_wei(self.state.db, self.address, self.params.validator_fee_bps)
        lag = 0
        for v in self._views:
            if v.local.state == PINNED and v.status == DealStatus.ACTIVE:
                lag = max(lag, min(self._epoch - 1, v.end_epoch) - v.paid_through)
        if self._nudged_metrics or time.monotonic() >= self._metrics_due:  # a chain read: not every block
            self._balance = await self._chain(self.market.balance_of, self.address)
            self._metrics_due = time.monotonic() + self._full_pass_s
        self._nudged_metrics = False
        balance = self._balance
        cp = self.index.checkpoint().block
        self.metrics.earned.set(earned)
        self.metrics.balance.set(balance)
        self.metrics.settlement_lag.set(lag)
        self.metrics.checkpoint.set(cp)
        self.metrics.epoch.set(self._epoch)
        facts = dict(address=self.address, endpoint=self.endpoint, url=self.url, epoch=self._epoch,
                     balance_wei=str(balance), earned_wei=str(earned), settlement_lag=lag,
                     capacity=self.config.capacity, used=self.state.used_bytes(),
                     pinned_bytes=self.state.pinned_bytes(), market=self.deployment.market,
                     chain_id=self.deployment.chain_id)  # fmt: skip
        if facts != self._facts or time.time() - self._facts_at >= self._full_pass_s:  # a write per change
            self._facts, self._facts_at = facts, time.time()
            self.state.put(**facts, checkpoint=cp, updated=self._facts_at)


class HosterThread:
    """A :class:`Hoster` running its own event loop in a background thread."""

    def __init__(self, config: HosterConfig, *, account: LocalAccount | None = None) -> None:
        self.hoster = Hoster(config, account=account)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return self.hoster.url

    def start(self, timeout: float = 60.0) -> HosterThread:
        def target() -> None:
            try:
                asyncio.run(self.hoster.run())
            except BaseException as exc:
                self._error = exc

        self._thread = threading.Thread(target=target, daemon=True, name="scatter-hoster")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.hoster.ready.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ScatterError(f"hoster did not start: {self._error}")
        return self

    def stop(self) -> None:
        self.hoster.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> HosterThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
