"""Settlement: validators' range signatures for the deals that are due, paid in batches.

Each tick the daemon lists the deals whose unpaid range is due (:class:`Due`).
:meth:`Settler.settle` then

1. asks every validator drawn into a deal's committee for the range's period
   (Market version 3: a range lies within one committee period, after the
   deal's ``failedEpoch``) **once per batch** to sign all their ranges
   (``POST .../attestations/ranges``; a validator without that route is asked
   deal by deal), verifying every signature as it arrives;
2. takes the **slow path** only for a deal short of a quorum: the validators'
   published verdicts show which range a quorum can sign (:func:`plan_range`);
   unpaid epochs are skipped only when they are decided, or when the grace
   period is about to run out; a committee period that is over without a
   quorum for any of its epochs is given up (``give_up``), so the next period's
   ranges are settled instead of asking for the dead one forever;
3. pays everything that has a quorum in **one** ``settleMany`` transaction per
   :data:`MAX_SETTLE_BATCH` deals: gas estimated first (a revert costs nothing;
   the batch then goes deal by deal, so one bad deal cannot hold up the
   others), recorded in the journal under the comma-joined deal ids, sent.

One transaction for a hundred deals instead of a hundred is what lets one daemon
keep a thousand deals paid on short epochs (``python -m scatter.bench.hoster``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from web3 import Web3

from scatter.chain.eip712 import SignedAttestation, quorum_tuples
from scatter.chain.market import MAX_SETTLE_BATCH, settle_many_calldata
from scatter.chain.tx import rpc_guard
from scatter.daemon.logs import log_event
from scatter.errors import ContractError
from scatter.hoster.attest import AttestationCollector, BatchAnswer, Validator, decided, plan_range
from scatter.hoster.metrics import HosterMetrics
from scatter.hoster.txjournal import TxJournal

log = logging.getLogger("scatter.hoster")
GAS_MARGIN = 1.25  # over the estimate: the first settlement of a deal costs more than the next
NO_BATCH_RETRY_S = 600.0  # a validator without the batch route is asked per deal this long


@dataclass(frozen=True)
class Due:
    """A deal whose epochs ``next_unpaid..last`` (within one committee period) are over and unpaid."""

    deal_id: int
    client: str
    next_unpaid: int
    last: int
    pressure: bool  # the period ends or a proof request nears: a quorum's range is settled even if it skips
    committee: frozenset[str] = frozenset()  # lower-case addresses of the period's committee members
    period_over: bool = False  # every verdict of the range's period is out: no quorum now means none ever


@dataclass(frozen=True)
class Ready:
    """A range with a quorum of ok signatures, ready to be paid."""

    deal_id: int
    from_epoch: int
    to_epoch: int
    sigs: list[SignedAttestation]


def settle_subject(deal_ids: Sequence[int]) -> str:
    """Journal subject of one settlement transaction: its deal ids, comma-joined."""
    return ",".join(str(d) for d in deal_ids)


def subject_deals(subjects: set[str]) -> set[int]:
    """Deal ids named by settlement subjects (:func:`settle_subject`)."""
    return {int(part) for s in subjects for part in s.split(",") if part}


class Settler:
    """Collects signatures and sends settlements for one hoster (see the module docstring)."""

    def __init__(
        self,
        *,
        w3: Web3,
        market: str,
        journal: TxJournal,
        collector: AttestationCollector,
        quorum: int,
        epoch_seconds: float,
        metrics: HosterMetrics,
        send_pool: Executor,
        retry_later: Callable[[int, float], None],
        give_up: Callable[[int, int], None] = lambda deal_id, through: None,
        min_range: int = 1,
    ) -> None:
        self.w3 = w3
        self.market = market
        self.journal = journal
        self.collector = collector
        self.quorum = quorum
        self.epoch_s = epoch_seconds
        self.metrics = metrics
        self.send_pool = send_pool
        self.retry_later = retry_later  # (deal id, seconds): when to look at the deal again
        self.give_up = give_up  # (deal id, epoch): never ask for the deal's epochs up to this one again
        self.min_range = min_range  # shortest prefix settled without pressure (the daemon's settle_every)
        self._no_batch_until: dict[str, float] = {}
        self._slow_slots = asyncio.Semaphore(16)

    async def settle(self, due: Sequence[Due], validators: Sequence[Validator]) -> None:
        """Collect and pay ``due`` (any number of deals), :data:`MAX_SETTLE_BATCH` per transaction."""
        for start in range(0, len(due), MAX_SETTLE_BATCH):
            chunk = list(due[start : start + MAX_SETTLE_BATCH])
            ready = await self._collect(chunk, validators)
            if ready:
                await self.pay(ready)

    # ------------------------------------------------------------ signatures

    def _eligible(self, d: Due, validators: Sequence[Validator]) -> list[Validator]:
        """The validators that may sign for ``d``: the members of its committee for the period."""
        return [v for v in validators if _may_sign(v, d)]

    async def _collect(self, chunk: list[Due], validators: Sequence[Validator]) -> list[Ready]:
        """Ranges with a quorum: one batched request per validator, then one for the prefixes a
        quorum reported (:meth:`_prefixes`), the slow path for the rest."""
        asks = {v: [(d.deal_id, d.next_unpaid, d.last) for d in chunk if _may_sign(v, d)] for v in validators}
        answers = await self._ask_all(asks)
        sigs: dict[int, list[SignedAttestation]] = {d.deal_id: [] for d in chunk}
        reach: dict[int, dict[Validator, int]] = {d.deal_id: {} for d in chunk}
        for v, answer in answers.items():
            for deal_id, signed in answer.signed.items():
                sigs[deal_id].append(signed)
                reach[deal_id][v] = signed.attestation.to_epoch
            for deal_id, x in answer.ok_through.items():
                reach[deal_id][v] = x
        ready: list[Ready] = []
        short: list[Due] = []
        for d in chunk:
            if len(sigs[d.deal_id]) >= self.quorum:
                chosen = _quorum_of(sigs[d.deal_id], self.quorum)
                ready.append(Ready(d.deal_id, d.next_unpaid, d.last, chosen))
            else:
                short.append(d)
        if short:
            got, short = await self._prefixes(short, reach)
            ready += got
        if short:
            live = [v for v in validators if v in answers]
            slow = await asyncio.gather(*(self._slow_path(d, self._eligible(d, live)) for d in short))
            ready += [r for r in slow if r is not None]
        return ready

    async def _prefixes(
        self, short: list[Due], reach: dict[int, dict[Validator, int]]
    ) -> tuple[list[Ready], list[Due]]:
        """For deals short of a quorum over their whole range: the longest prefix that ``quorum``
        validators reported ok (``okThrough``, or a range they signed), asked of exactly those
        validators in one more batch each. A prefix skips no epoch, so it needs no slow path;
        it is settled when it is at least :attr:`min_range` epochs long or the deal is under
        pressure, and a shorter one is left to grow (no slow path). Returns (ready, still short)."""
        planned: dict[int, int] = {}
        asks: dict[Validator, list[tuple[int, int, int]]] = {}
        waiting: set[int] = set()
        for d in short:
            ends = sorted(reach[d.deal_id].values(), reverse=True)
            if len(ends) < self.quorum:
                continue
            x = ends[self.quorum - 1]
            if x < d.next_unpaid:
                continue
            if x - d.next_unpaid + 1 < self.min_range and not d.pressure:
                # a quorum's prefix, too short yet: the slow path would find and settle that very
                # prefix, after downloading every verdict; wait for it to grow instead
                waiting.add(d.deal_id)
                self.retry_later(d.deal_id, self.epoch_s)
                continue
            planned[d.deal_id] = x
            for v, end in reach[d.deal_id].items():
                if end >= x:
                    asks.setdefault(v, []).append((d.deal_id, d.next_unpaid, x))
        if not planned:
            return [], [d for d in short if d.deal_id not in waiting]
        answers = await self._ask_all(asks)
        sigs: dict[int, list[SignedAttestation]] = {deal_id: [] for deal_id in planned}
        for answer in answers.values():
            for deal_id, signed in answer.signed.items():
                sigs[deal_id].append(signed)
        ready: list[Ready] = []
        rest: list[Due] = []
        for d in short:
            got = sigs.get(d.deal_id, [])
            if len(got) >= self.quorum:
                chosen = _quorum_of(got, self.quorum)
                ready.append(Ready(d.deal_id, d.next_unpaid, planned[d.deal_id], chosen))
            elif d.deal_id not in waiting:
                rest.append(d)
        self.metrics.prefix_settlements.inc(len(ready))
        return ready, rest

    async def _ask_all(
        self, asks: dict[Validator, list[tuple[int, int, int]]]
    ) -> dict[Validator, BatchAnswer]:
        """:meth:`_ask` of every validator with ranges to ask, at once; those that answered."""
        asked = [(v, ranges) for v, ranges in asks.items() if ranges]
        answers = await asyncio.gather(*(self._ask(v, r) for v, r in asked), return_exceptions=True)
        out: dict[Validator, BatchAnswer] = {}
        for (v, _), answer in zip(asked, answers, strict=True):
            if isinstance(answer, BaseException):
                error = str(answer).splitlines()[0][:200] if str(answer) else type(answer).__name__
                log_event(log, "no batch answer", logging.WARNING, validator=v.address, error=error)
                continue
            out[v] = answer
        return out

    async def _ask(self, v: Validator, ranges: list[tuple[int, int, int]]) -> BatchAnswer:
        if self._no_batch_until.get(v.address, 0.0) <= time.monotonic():
            answer = await self.collector.batch_range_signatures(v, ranges)
            if answer is not None:
                return answer
            self._no_batch_until[v.address] = time.monotonic() + NO_BATCH_RETRY_S
            log_event(log, "validator has no batch route; asking per deal", validator=v.address)

        async def one(deal_id: int, a: int, b: int) -> tuple[int, list[SignedAttestation]]:
            async with self._slow_slots:  # an older validator: one request per deal
                signed, _ = await self.collector.range_signatures(deal_id, a, b, [v])
            return deal_id, signed

        answers = await asyncio.gather(*(one(*r) for r in ranges))
        return BatchAnswer({deal_id: signed[0] for deal_id, signed in answers if signed}, {})

    async def _slow_path(self, d: Due, validators: list[Validator]) -> Ready | None:
        """The range a quorum can sign, from the validators' published verdicts, if it may be settled."""
        if len(validators) < self.quorum:
            self.retry_later(d.deal_id, self.epoch_s)
            return None
        async with self._slow_slots:
            verdicts = await self.collector.verdicts(d.deal_id, d.next_unpaid, validators)
            plan = plan_range(d.next_unpaid, d.last, verdicts, self.quorum)
            skip_ok = plan is not None and (
                plan.from_epoch == d.next_unpaid
                or d.pressure
                or decided(range(d.next_unpaid, plan.from_epoch), verdicts, self.quorum)
            )
            if plan is None and d.period_over:
                self.give_up(d.deal_id, d.last)
                self.metrics.periods_unpaid.inc()
                log_event(log, "period unpaid: no quorum", logging.WARNING, deal_id=d.deal_id,
                          from_epoch=d.next_unpaid, to_epoch=d.last)  # fmt: skip
                return None
            if plan is None or not skip_ok:
                self.retry_later(d.deal_id, self.epoch_s / 2)
                log_event(log, "no quorum yet", deal_id=d.deal_id, from_epoch=d.next_unpaid, to_epoch=d.last)
                return None
            chosen = [v for v in validators if v.address in plan.signers]
            a, b = plan.from_epoch, plan.to_epoch
            sigs, errors = await self.collector.range_signatures(d.deal_id, a, b, chosen)
        if len(sigs) < self.quorum:
            self.retry_later(d.deal_id, self.epoch_s / 2)
            log_event(log, "no quorum yet", deal_id=d.deal_id, from_epoch=a, to_epoch=b, errors=errors[:3])
            return None
        return Ready(d.deal_id, a, b, _quorum_of(sigs, self.quorum))

    # ------------------------------------------------------------- sending

    async def pay(self, ready: list[Ready]) -> None:
        """Settle ``ready`` in one transaction; if the batch would revert, deal by deal."""
        loop = asyncio.get_running_loop()
        try:
            tx_hash = await loop.run_in_executor(self.send_pool, self._send_batch, ready)
        except ContractError as exc:
            reason = str(exc).splitlines()[0]
            if len(ready) == 1:
                r = ready[0]
                self.retry_later(r.deal_id, self.epoch_s)
                log_event(log, "settle refused", logging.WARNING, deal_id=r.deal_id, from_epoch=r.from_epoch,
                          to_epoch=r.to_epoch, error=reason)  # fmt: skip
                return
            log_event(log, "settle batch refused; settling deal by deal", logging.WARNING, deals=len(ready),
                      error=reason)  # fmt: skip
            for r in ready:
                await self.pay([r])
            return
        self.metrics.txs.labels("settle").inc()
        self.metrics.settlements.inc(len(ready))
        for r in ready:
            log_event(log, "settle sent", deal_id=r.deal_id, from_epoch=r.from_epoch, to_epoch=r.to_epoch,
                      batch=len(ready), tx=tx_hash)  # fmt: skip

    def _send_batch(self, ready: list[Ready]) -> str:
        """Estimate (a revert raises ContractError, nothing sent), record, broadcast; the tx hash."""
        data = settle_many_calldata(
            [(r.deal_id, r.from_epoch, r.to_epoch, quorum_tuples(r.sigs)) for r in ready]
        )
        subject = settle_subject([r.deal_id for r in ready])
        call = {"from": self.journal.address, "to": self.market, "data": "0x" + data.hex()}
        gas = rpc_guard(f"settle {subject[:60]}", lambda: self.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        rec = self.journal.send_call("settle", subject, self.market, data, gas=int(gas * GAS_MARGIN))
        return "0x" + rec.tx_hash.hex()


def _may_sign(v: Validator, d: Due) -> bool:
    """Only the deal's committee for the range's period (never its hoster nor its client)."""
    who = v.address.lower()
    return who in d.committee and who != d.client.lower()


def _quorum_of(sigs: list[SignedAttestation], quorum: int) -> list[SignedAttestation]:
    """``quorum`` signatures, ordered by signer ascending as the Market requires."""
    return sorted(sigs, key=lambda s: int(s.signer, 16))[:quorum]
