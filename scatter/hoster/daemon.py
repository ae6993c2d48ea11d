"""The hoster daemon: a thin asyncio loop over the library.

Each tick: settle the transaction journal with the chain, make sure the node is
registered, apply confirmed market events to the index, bring this hoster's
deals in line with the index, carry out operator requests, accept matching
slots, start taking content for new deals (fetch or heal), settle the deals
whose range is due, finish deals past their end and unpin, withdraw above the
threshold. Every step reads durable state, so a tick may die at any point and
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
from scatter.chain.deployments import Deployment, find_deployment
from scatter.chain.index import IndexedBid, MarketIndex
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.params import MarketParams
from scatter.daemon.backoff import RETRYABLE, Backoff
from scatter.daemon.logs import log_event
from scatter.daemon.state import StateDB
from scatter.errors import ContractError, ScatterError
from scatter.hoster.api import create_app
from scatter.hoster.attest import AttestationCollector, Validator
from scatter.hoster.config import HosterConfig
from scatter.hoster.content import (
    UploadContext,
    UploadRejected,
    check_upload_headers,
    fetch_verified,
    gateway_bases,
    heal,
    import_verified_car,
    spool_body,
)
from scatter.hoster.failpoints import crash_point
from scatter.hoster.metrics import HosterMetrics
from scatter.hoster.settle import Due, Settler, subject_deals
from scatter.hoster.state import (
    AWAITING,
    DROPPED,
    ENDED,
    PINNED,
    DealView,
    HosterState,
    LocalDeal,
    earned_wei,
    holding_views,
)
from scatter.hoster.txjournal import TxJournal
from scatter.ipfs.abc import BlockStore
from scatter.ipfs.cid import cid_str, parse_cid
from scatter.ipfs.dag import file_size
from scatter.ipfs.errors import BlockNotFoundError
from scatter.protocol.hoster_api import PinStatus

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger("scatter.hoster")
READY_FILE = "hoster.json"
LOST_RACE = {"SlotNotOpen", "NoOpenSlots", "HosterAlreadyInBid"}


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
        self._chain_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoster-chain")
        # settlements are built (gas estimated) in parallel; the journal hands out nonces in order
        self._send_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hoster-send")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._retry_at: dict[str, float] = {}
        self._deal_locks: dict[int, asyncio.Lock] = {}
        self._last_ok = 0.0
        self._rpc_down = False
        self._last_error = ""
        self._joined = False
        self._last_gc = 0.0
        self._epoch = 0
        self._views: list[DealView] = []
        self._tick_count = 0
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
        self.w3: Web3

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self._start()
            await self._main_loop()
        finally:
            await self._shutdown()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _chain(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking web3 call on the daemon's one chain thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._chain_pool, lambda: fn(*args, **kwargs))

    async def _retrying(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        delays = Backoff(initial=0.5, maximum=10.0).delays()
        attempt = 0
        while True:
            try:
                return await fn()
            except RETRYABLE as exc:
                wait = delays(attempt)
                log_event(log, "rpc unavailable", logging.WARNING, what=what, wait_s=round(wait, 2),
                          error=str(exc).splitlines()[0])  # fmt: skip
                attempt += 1
                assert self._stop is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                if self._stop.is_set():
                    raise

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
        paths = [cfg.deployments] if cfg.deployments else None
        self.deployment = find_deployment(chain_id, paths)
        self.market = Market(self.w3, self.deployment.market)
        self.params = await self._retrying("params", lambda: self._chain(self.market.params))
        self.db = StateDB(cfg.state_dir / "hoster.db")
        self.index = MarketIndex(self.db, self.w3, self.deployment, confirmations=cfg.confirmations)
        self.index.follower.max_range = 5_000
        self.state = HosterState(self.db)
        self.journal = TxJournal(self.db, self.w3, self.account, max_fee_per_gas_cap=cfg.max_fee_per_gas_cap,
                                 on_bump=lambda _: self.metrics.fee_bumps.inc())  # fmt: skip
        self.store = open_store(cfg)
        # Keep-alive connections to every validator, enough for all settlements in flight.
        limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
        self._http = httpx.AsyncClient(timeout=10.0, limits=limits, trust_env=False)
        self.collector = AttestationCollector(chain_id, self.deployment.market, self._http)
        self.settler = Settler(
            w3=self.w3, market=self.deployment.market, journal=self.journal, collector=self.collector,
            quorum=self.params.quorum, epoch_seconds=self._epoch_s, metrics=self.metrics,
            send_pool=self._send_pool, retry_later=lambda deal_id, s: self._later(f"settle:{deal_id}", s),
        )  # fmt: skip

        app = create_app(self, self.store)
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        )
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
        if hasattr(self, "db"):
            self.db.close()
        if hasattr(self, "store"):
            self.store.close()
        (self.config.state_dir / READY_FILE).unlink(missing_ok=True)
        log_event(log, "hoster stopped", address=self.address)

    async def _main_loop(self) -> None:
        assert self._stop is not None
        delays = Backoff(initial=0.5, maximum=10.0).delays()
        failures = 0
        while not self._stop.is_set():
            wait = self.config.poll_interval
            try:
                await self.tick()
                self._last_ok = time.time()
                self._rpc_down = False
                failures = 0
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
                await asyncio.wait_for(self._stop.wait(), wait)

    # ----------------------------------------------------------------- tick

    async def tick(self) -> None:
        """One pass of the loop (public for tests and tools)."""
        self._tick_count += 1
        await self._reconcile_journal()
        await self._ensure_joined()
        await self._chain(self.index.sync)
        self._epoch = await self._chain(self.market.current_epoch)
        self._reconcile_deals()
        await self._handle_requests()
        await self._accept_slots()
        self._start_content_tasks()
        await self._settle_due()
        await self._finish_ended()
        await self._auto_withdraw()
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

        self._tasks[key] = asyncio.create_task(wrapper())

    def _due(self, key: str) -> bool:
        return key not in self._tasks and self._retry_at.get(key, 0.0) <= time.monotonic()

    def _later(self, key: str, seconds: float) -> None:
        self._retry_at[key] = time.monotonic() + seconds

    @property
    def _epoch_s(self) -> float:
        return float(self.params.epoch_seconds)

    # -------------------------------------------------------------- journal

    async def _reconcile_journal(self) -> None:
        if hasattr(self, "index"):
            cp = self.index.checkpoint().block
            for rec in await self._chain(self.journal.recheck_mined, cp):
                log_event(
                    log, "transaction reorganised away", logging.WARNING, kind=rec.kind, subject=rec.subject
                )
        for rec, receipt in await self._chain(self.journal.reconcile):
            if rec.kind == "accept":
                self._accept_outcome(int(rec.subject), receipt)
            elif receipt is not None and receipt["status"] != 1:
                log_event(log, "transaction reverted", logging.WARNING, kind=rec.kind, subject=rec.subject,
                          tx="0x" + rec.tx_hash.hex())  # fmt: skip

    def _accept_outcome(self, bid_id: int, receipt: TxReceipt | None) -> None:
        if receipt is None or receipt["status"] != 1:
            self.metrics.accept_races_lost.inc()
            log_event(log, "accept lost", bid_id=bid_id, reason="reverted or dropped (slot taken first)")
            return
        events = self.market.contract.events.SlotAccepted().process_receipt(receipt)
        for ev in events:
            a = ev["args"]
            if a["hoster"] != self.address:
                continue
            bid = self.index.bid(bid_id)
            if bid is None:
                continue
            self._add_deal(int(a["dealId"]), bid, int(a["slot"]), int(receipt["blockNumber"]))

    def _add_deal(self, deal_id: int, bid: IndexedBid, slot: int, block: int) -> None:
        cid = cid_str(parse_cid(bid.cid_of_slot(slot)))
        if self.state.add_deal(deal_id, bid.bid_id, slot, cid, bid.size, bid.client, block):
            log_event(log, "deal accepted", deal_id=deal_id, bid_id=bid.bid_id, slot=slot, cid=cid)

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
            if local is None:
                d = self.index.deal(deal_id)
                bid = self.index.bid(d.bid_id) if d is not None else None
                if d is not None and bid is not None:
                    self._add_deal(deal_id, bid, d.slot, cp)
            else:
                self._end_deal(local, "finished" if status == DealStatus.FINISHED else "faulted")
        self._views = holding_views(self.state.db)
        for v in self._views:
            if v.local.accepted_block <= cp and v.hoster != self.address:
                self._end_deal(v.local, "accept reorganised away", state=DROPPED)
        self._views = [v for v in self._views if v.hoster == self.address]

    def _end_deal(self, local: LocalDeal, why: str, *, state: str = ENDED) -> None:
        """Stop taking content, unpin (unless another deal holds the CID), then record the end:
        a crash in between leaves the deal holding, and the next tick ends it again."""
        task = self._tasks.get(f"content:{local.deal_id}")
        if task is not None:
            task.cancel()
        if not self.state.other_deals_hold(local.cid, local.deal_id):
            with contextlib.suppress(BlockNotFoundError):
                self.store.unpin(parse_cid(local.cid))
        self.state.set_state(local.deal_id, state, note=why)
        log_event(
            log, "deal ended", deal_id=local.deal_id, bid_id=local.bid_id, reason=why, unpinned=local.cid
        )
        if time.monotonic() - self._last_gc > 30:
            self._last_gc = time.monotonic()
            self._spawn("gc", asyncio.to_thread(self.store.gc))  # type: ignore[arg-type]

    # -------------------------------------------------------------- accept

    def _taken_bytes(self) -> int:
        used = self.state.used_bytes()
        # one bid per subject: a fee-bumped accept is pending twice (original and replacement)
        for subject in {rec.subject for rec in self.journal.pending() if rec.kind == "accept"}:
            bid = self.index.bid(int(subject))
            used += bid.size if bid is not None else 0
        return used

    def _choose_slot(self, bid: IndexedBid) -> tuple[int | None, str]:
        """An open slot this hoster takes, or why not."""
        if bid.client == self.address:
            return None, "own bid"
        if self.state.in_bid(bid.bid_id):
            return None, "already in this bid"
        slots = bid.open_slot_indexes()
        start = int(self.address, 16) % bid.slot_count
        ordered = sorted(slots, key=lambda s: (s - start) % bid.slot_count)
        reason = "no open slot"
        for slot in ordered:
            cid = cid_str(parse_cid(bid.cid_of_slot(slot)))
            why = self.config.filter.rejects(
                size=bid.size,
                price_per_epoch=bid.price_per_epoch,
                duration=bid.duration_epochs,
                client=bid.client,
                cid=cid,
            )
            if why is not None:
                reason = why
                continue
            erasure = len(bid.cids) > 1
            reopened = any(d.slot == slot for d in self.index.deals_of_bid(bid.bid_id))
            if erasure and reopened and not self.config.heal:
                reason = "reopened shard slot and healing is off"
                continue
            return slot, ""
        return None, reason

    async def _accept_slots(self) -> None:
        if not self._joined:
            return
        free = self.config.capacity - self._taken_bytes()
        cp = self.index.checkpoint().block
        sent = 0
        for bid in self.index.open_bids():
            key = f"accept:{bid.bid_id}"
            if sent >= 64 or not self._due(key) or bid.size > free:
                continue
            if self.journal.live("accept", str(bid.bid_id), confirmed_block=cp) is not None:
                continue
            slot, why = self._choose_slot(bid)
            if slot is None:
                self._later(key, 3600 if why in ("own bid", "already in this bid") else 60.0)
                continue
            fn = self.market.contract.functions.accept(bid.bid_id, slot)
            try:
                rec = await self._chain(self.journal.send, "accept", str(bid.bid_id), fn)
            except ContractError as exc:
                if exc.error_name in LOST_RACE:
                    self.metrics.accept_races_lost.inc()
                    log_event(log, "accept lost", bid_id=bid.bid_id, slot=slot, reason=exc.error_name)
                    self._later(key, max(1.0, 2 * self.config.poll_interval))  # other slots may be open
                else:
                    log_event(log, "accept refused", logging.WARNING, bid_id=bid.bid_id, slot=slot,
                              error=str(exc).splitlines()[0])  # fmt: skip
                    self._later(key, 60.0)
                continue
            self.metrics.txs.labels("accept").inc()
            log_event(log, "accept sent", bid_id=bid.bid_id, slot=slot, tx="0x" + rec.tx_hash.hex())
            free -= bid.size
            sent += 1

    # ------------------------------------------------------------- content

    def _start_content_tasks(self) -> None:
        awaiting = self.state.deals([AWAITING])
        pinned = {cid_str(c) for c in self.store.pins()} if awaiting else set()
        for local in awaiting:
            key = f"content:{local.deal_id}"
            if not self._due(key):
                continue
            if local.cid in pinned:  # pinned before a crash, or held for another deal
                self._pinned(local, file_size(parse_cid(local.cid), self.store) or 0, "store")
                continue
            bid = self.index.bid(local.bid_id)
            if bid is None:
                continue
            others = [d for d in self.index.deals_of_bid(bid.bid_id)
                      if d.deal_id != local.deal_id and d.status == DealStatus.ACTIVE]  # fmt: skip
            endpoints: dict[int, list[str]] = {}
            for d in others:
                node = self.index.node(Role.HOSTER, d.hoster)
                if node is not None:
                    endpoints.setdefault(d.slot, []).append(node.endpoint)
            if len(bid.cids) > 1:
                reopened = any(d.slot == local.slot for d in self.index.deals_of_bid(bid.bid_id)
                               if d.deal_id != local.deal_id)  # fmt: skip
                if reopened and self.config.heal:
                    self._spawn(key, self._heal(local, bid, endpoints))
                continue
            sources = gateway_bases(bid.origins) + list(self.config.fetch_gateways)
            sources += [e for eps in endpoints.values() for e in eps]
            if sources:
                self._spawn(key, self._fetch(local, sources))

    async def _fetch(self, local: LocalDeal, sources: list[str]) -> None:
        key = f"content:{local.deal_id}"
        try:
            size = await fetch_verified(self.store, local.cid, sources, local.size)
        except ScatterError as exc:
            self._later(key, max(2.0, self._epoch_s))
            log_event(log, "fetch failed", logging.WARNING, deal_id=local.deal_id, cid=local.cid,
                      error=str(exc).splitlines()[0][:200])  # fmt: skip
            return
        self._pinned(local, size, "fetch")

    async def _heal(self, local: LocalDeal, bid: IndexedBid, endpoints: dict[int, list[str]]) -> None:
        key = f"content:{local.deal_id}"
        cids = [cid_str(parse_cid(c)) for c in bid.cids]
        work = self.config.state_dir / "tmp" / f"heal-{local.deal_id}"
        try:
            size = await heal(
                self.store, work, cids=cids, slot=local.slot, sources=endpoints, max_size=local.size
            )
        except ScatterError as exc:
            self.metrics.heals.labels("failed").inc()
            self._later(key, max(2.0, self._epoch_s))
            log_event(log, "heal failed", logging.WARNING, deal_id=local.deal_id, slot=local.slot,
                      error=str(exc).splitlines()[0][:200])  # fmt: skip
            return
        self.metrics.heals.labels("ok").inc()
        self._pinned(local, size, "heal")

    def _pinned(self, local: LocalDeal, size: int, source: str) -> None:
        current = self.state.deal(local.deal_id)
        if current is None or current.state != AWAITING:
            return
        crash_point("pinned")
        self.state.set_state(local.deal_id, PINNED, nbytes=size, source=source)
        log_event(
            log,
            "pinned",
            deal_id=local.deal_id,
            bid_id=local.bid_id,
            cid=local.cid,
            bytes=size,
            source=source,
        )

    # ----------------------------------------------------------- HTTP side

    def pin_status(self, deal_id: int) -> PinStatus | None:
        local = self.state.deal(deal_id)
        if local is None or local.state == DROPPED:
            return None
        return PinStatus(deal_id, local.cid, local.state == PINNED, local.bytes, local.state)

    def health(self) -> tuple[bool, dict[str, object]]:
        fresh = not self._rpc_down and time.time() - self._last_ok < max(30.0, 10 * self.config.poll_interval)
        return fresh, {
            "address": self.address,
            "epoch": self._epoch,
            "checkpoint": self.index.checkpoint().block if hasattr(self, "index") else -1,
            "rpc": "ok" if fresh else "unavailable",
            "lastError": self._last_error,
        }

    async def _known_deal(self, deal_id: int) -> LocalDeal | None:
        local = self.state.deal(deal_id)
        if local is None:  # an accept whose receipt this process has not read yet
            await self._reconcile_journal()
            local = self.state.deal(deal_id)
        return local

    async def receive_upload(self, deal_id: int, request: Request) -> PinStatus:
        local = await self._known_deal(deal_id)
        if local is None or local.state == DROPPED:
            self.metrics.uploads.labels("unknown_deal").inc()
            raise UploadRejected(404, "not a deal of this hoster")
        if local.state == ENDED:
            raise UploadRejected(410, "deal has ended")
        ctx = UploadContext(deal_id, local.cid, local.size, local.client, self.deployment.chain_id,
                            self.deployment.market)  # fmt: skip
        try:
            upload = check_upload_headers(request.headers, ctx)
        except UploadRejected as exc:
            self.metrics.uploads.labels("rejected").inc()
            log_event(
                log, "upload rejected", logging.WARNING, deal_id=deal_id, status=exc.status, reason=str(exc)
            )
            raise
        if local.state == PINNED:
            return PinStatus(deal_id, local.cid, True, local.bytes, local.state)
        lock = self._deal_locks.setdefault(deal_id, asyncio.Lock())
        async with lock, self._upload_slots:
            tmp_dir = self.config.state_dir / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            path = tmp_dir / f"upload-{deal_id}-{uuid.uuid4().hex}.car"
            try:
                with path.open("wb") as out:
                    await spool_body(
                        request.stream(),
                        upload,
                        out,
                        idle_timeout=self.config.upload_idle_timeout,
                        total_timeout=self.config.upload_timeout,
                    )
                crash_point("upload_spooled")
                size = await asyncio.to_thread(import_verified_car, self.store, path, local.cid, local.size)
            except UploadRejected as exc:
                self.metrics.uploads.labels("rejected").inc()
                log_event(
                    log,
                    "upload rejected",
                    logging.WARNING,
                    deal_id=deal_id,
                    status=exc.status,
                    reason=str(exc),
                )
                raise
            finally:
                path.unlink(missing_ok=True)
        self.metrics.uploads.labels("pinned").inc()
        self._pinned(local, size, "upload")
        current = self.state.deal(deal_id)
        assert current is not None
        return PinStatus(deal_id, current.cid, current.state == PINNED, current.bytes, current.state)

    # ---------------------------------------------------------- settlement

    def _validators(self, exclude: set[str]) -> list[Validator]:
        return [
            Validator(n.address, n.endpoint)
            for n in self.index.nodes(Role.VALIDATOR)
            if n.stake >= self.params.min_validator_stake and n.address.lower() not in exclude
        ]

    async def _settle_due(self) -> None:
        """Hand the deals whose unpaid range is due to the settler, one batch task at a time."""
        if not self._due("settle"):
            return
        cp = self.index.checkpoint().block
        every = max(1, min(self.config.settle_every, self.params.grace_epochs - 2))
        in_flight = subject_deals(self.journal.live_subjects("settle", confirmed_block=cp))
        due: list[Due] = []
        for v in self._views:
            deal_id = v.local.deal_id
            if v.local.state != PINNED or v.status != DealStatus.ACTIVE or deal_id in in_flight:
                continue
            if not self._due(f"settle:{deal_id}"):
                continue
            nxt, last = v.paid_through + 1, min(self._epoch - 1, v.end_epoch)
            if last < nxt:
                continue
            pressure = self._epoch >= v.paid_through + self.params.grace_epochs - 1
            if last - nxt + 1 < every and last != v.end_epoch and not pressure:
                continue
            due.append(Due(deal_id, v.local.client, nxt, last, pressure))
        if not due:
            return
        validators = self._validators({self.address.lower()})
        if len(validators) < self.params.quorum:
            self._later("settle", self._epoch_s)
            return
        self._spawn("settle", self.settler.settle(due, validators))

    # --------------------------------------------------------------- finish

    async def _finish_ended(self) -> None:
        cp = self.index.checkpoint().block
        grace = self.params.grace_epochs
        in_flight = self.journal.live_subjects("finish", confirmed_block=cp)
        for v in self._views:
            local = v.local
            if v.status != DealStatus.ACTIVE or self._epoch <= v.end_epoch + grace:
                continue
            if (
                v.paid_through < v.end_epoch
                and self._epoch <= v.end_epoch + grace + 2
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
        balance = await self._chain(self.market.balance_of, self.address)
        cp = self.index.checkpoint().block
        self.metrics.earned.set(earned)
        self.metrics.balance.set(balance)
        self.metrics.settlement_lag.set(lag)
        self.metrics.checkpoint.set(cp)
        self.metrics.epoch.set(self._epoch)
        self.state.put(address=self.address, endpoint=self.endpoint, url=self.url, epoch=self._epoch,
                       checkpoint=cp, balance_wei=str(balance), earned_wei=str(earned), settlement_lag=lag,
                       capacity=self.config.capacity, used=self.state.used_bytes(),
                       pinned_bytes=self.state.pinned_bytes(), updated=time.time(),
                       market=self.deployment.market, chain_id=self.deployment.chain_id)  # fmt: skip


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
