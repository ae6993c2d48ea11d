"""What the validator sends on chain besides its signatures (Market VERSION 3, docs/trust.md).

Nothing here slashes on a vote. Four kinds of transaction, each *simulated*
(``eth_call``) first, then journalled (table ``validator_reports``) *before* it
is sent:

- ``request_proof`` — for an epoch this validator voted ``fail`` in a deal whose
  committee it sits on, it gathers the other committee members' published
  ``fail`` attestations over exactly [e, e] and, with a quorum, calls
  ``requestProof(dealId, e, sigs)`` posting ``proofBond`` (``msg.value``): the
  hoster must prove possession; the bond pays the hoster if it does.
- ``missed_proof`` — ``reportMissedProof(dealId)`` for the overdue challenge of
  *any* deal (objective: the contract checks the deadline); the caller gets the
  reporter's share of the slash.
- ``missed_quorum`` — ``requestProofForMissedQuorum(dealId)`` once a deal went
  ``missedQuorumEpochs`` without an epoch paid or proven (free).
- ``audit`` — at each ``auditEveryBlocks`` seed block, the lottery
  ``keccak256(abi.encode(blockhash(seedBlock), dealId)) % 10000 < auditBps`` is
  computed off chain for every active deal; only winners are sent (free).

The journal key is (deal, kind, key): the epoch, the challenge epoch, the last
paid epoch or the seed block. A ``sending`` row left by a crash is simulated
again: if the first transaction landed, the simulation reverts and the row is
closed; nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from scatter.chain.eip712 import SignedAttestation, quorum_tuples
from scatter.chain.index import IndexedDeal, MarketIndex
from scatter.chain.market import DealStatus, Market, NodeStatus, Role, audit_draws
from scatter.chain.params import MarketParams
from scatter.chain.tx import rpc_guard
from scatter.daemon.logs import log_event
from scatter.daemon.state import Migration, StateDB
from scatter.errors import ContractError, ScatterError
from scatter.protocol.attestations import attestations_path, from_json
from scatter.validator.committee import CommitteeCache
from scatter.validator.ledger import SigningLedger
from scatter.validator.metrics import ValidatorMetrics

MIGRATIONS: Final[list[Migration]] = [
    (
        "validator_reports",
        1,
        [
            "CREATE TABLE reports (deal_id INTEGER NOT NULL, kind TEXT NOT NULL, key INTEGER NOT NULL, "
            "state TEXT NOT NULL, detail TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (deal_id, kind, key))"
        ],
    )
]

BLOCKHASH_WINDOW: Final = 256
"""Blocks back ``blockhash`` (and so ``audit``) reaches."""

FAIL_LOOKBACK: Final = 16
"""Most recent fail epochs of one deal considered for a proof request."""

log = logging.getLogger("scatter.validator.reports")


@dataclass(frozen=True)
class PeerValidator:
    address: str
    endpoint: str


@dataclass(frozen=True)
class Sent:
    """A transaction that was simulated, journalled and mined."""

    kind: str
    deal_id: int
    key: int
    tx: str
    reward: int


def audit_seed_blocks(head: int, every: int, after: int) -> list[int]:
    """Audit seed blocks usable at ``head``: multiples of ``every`` above ``after``, below ``head``
    (their hash is known) and within the last :data:`BLOCKHASH_WINDOW` blocks."""
    low = max(after + 1, head - BLOCKHASH_WINDOW + 1, 1)
    first = -(-low // every) * every
    return list(range(first, head, every))


def audit_winners(block_hash: bytes, deal_ids: Sequence[int], audit_bps: int) -> list[int]:
    """The deals the seed block's lottery draws (what ``audit`` would accept)."""
    return [d for d in deal_ids if audit_draws(block_hash, d, audit_bps)]


class Reporter:
    """Sends the four kinds of report for one validator; one :meth:`run_once` per epoch,
    :meth:`run_audits` whenever a new audit seed block appears."""

    def __init__(
        self,
        market: Market,
        index: MarketIndex,
        ledger: SigningLedger,
        db: StateDB,
        params: MarketParams,
        committee: CommitteeCache,
        *,
        metrics: ValidatorMetrics,
        exclude: set[str],
        client: httpx.AsyncClient,
    ) -> None:
        self.market = market
        self.index = index
        self.ledger = ledger
        self.db = db
        self.params = params
        self.committee = committee
        self.metrics = metrics
        self.exclude = {a.lower() for a in exclude}
        self.client = client
        self.me = ledger.address
        self.last_audit_block = 0
        self.simulated: Counter[str] = Counter()  # eth_calls made, by kind (each a chain read)
        self.audit_rounds: deque[tuple[int, list[int]]] = deque(maxlen=64)  # (seed block, winners)
        db.migrate(MIGRATIONS)

    # -------------------------------------------------------------- journal

    def journalled(self, deal_id: int, kind: str, key: int) -> str | None:
        row = self.db.query_one(
            "SELECT state FROM reports WHERE deal_id = ? AND kind = ? AND key = ?", (deal_id, kind, key)
        )
        return str(row[0]) if row else None

    def _journal(self, deal_id: int, kind: str, key: int, state: str, detail: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(deal_id, kind, key) DO UPDATE "
                "SET state = excluded.state, detail = excluded.detail, at = excluded.at",
                (deal_id, kind, key, state, detail, time.time()),
            )

    def reports(self) -> list[dict[str, object]]:
        return [dict(r) for r in self.db.query("SELECT * FROM reports ORDER BY at")]

    # ---------------------------------------------------------- transactions

    def _simulate(self, name: str, *args: Any, value: int = 0) -> str | None:
        """``eth_call`` of the transaction from this validator: None if it would pass, else why not."""
        self.simulated[name] += 1
        fn = getattr(self.market.contract.functions, name)(*args)
        params: dict[str, Any] = {"from": Web3.to_checksum_address(self.me), "value": value}
        try:
            rpc_guard(f"simulating Market.{name}", lambda: fn.call(params))
        except ContractError as exc:
            return str(exc).splitlines()[0]
        return None

    async def _send(
        self,
        kind: str,
        deal_id: int,
        key: int,
        simulate: Callable[[], str | None],
        send: Callable[[], TxReceipt],
    ) -> Sent | None:
        """Simulate, journal, send, journal: the one path of every report."""
        state = await asyncio.to_thread(self.journalled, deal_id, kind, key)
        if state in ("mined", "done"):
            return None
        why_not = await asyncio.to_thread(simulate)
        if why_not is not None:
            if state == "sending":  # a crash after sending: it landed, or someone else's did
                await asyncio.to_thread(self._journal, deal_id, kind, key, "done", why_not)
            log_event(log, "report_not_due", logging.DEBUG, deal_id=deal_id, kind=kind, key=key, why=why_not)
            return None
        await asyncio.to_thread(self._journal, deal_id, kind, key, "sending")
        try:
            receipt = await asyncio.to_thread(send)
        except ContractError as exc:  # lost a race between the simulation and the block
            self.metrics.reports.labels(kind=kind, outcome="reverted").inc()
            await asyncio.to_thread(self._journal, deal_id, kind, key, "reverted", str(exc)[:300])
            log_event(log, "report_reverted", logging.INFO, deal_id=deal_id, kind=kind, error=str(exc)[:300])
            return None
        tx = receipt["transactionHash"].hex()
        reward = self._credited(receipt)
        await asyncio.to_thread(self._journal, deal_id, kind, key, "mined", tx)
        self.metrics.reports.labels(kind=kind, outcome="mined").inc()
        self.metrics.report_rewards.inc(reward)
        log_event(log, "report_sent", deal_id=deal_id, kind=kind, key=key, reward_wei=reward, tx=tx)
        return Sent(kind, deal_id, key, tx, reward)

    def _credited(self, receipt: TxReceipt) -> int:
        events = self.market.contract.events.Credited().process_receipt(receipt, errors=DISCARD)
        me = Web3.to_checksum_address(self.me)
        return sum(int(e["args"]["amount"]) for e in events if e["args"]["account"] == me)

    # ---------------------------------------------------------------- rounds

    async def run_once(self, current_epoch: int) -> list[Sent]:
        """Overdue challenges, fail quorums and missed quorums: what the rules allow now."""
        sent: list[Sent] = []
        deals = await asyncio.to_thread(self.index.deals, status=DealStatus.ACTIVE)
        for deal in deals:
            try:
                for attempt in (self.missed_proof, self.request_proof, self.missed_quorum):
                    done = await attempt(deal, current_epoch)
                    if done is not None:
                        sent.append(done)
                        break  # the deal's state changed: look again next round
            except ScatterError as exc:
                log_event(log, "report_failed", logging.WARNING, deal_id=deal.deal_id, error=str(exc)[:300])
        return sent

    async def missed_proof(self, deal: IndexedDeal, current_epoch: int) -> Sent | None:
        """``reportMissedProof`` once the deal's open challenge is past its due epoch."""
        if not deal.challenge_open or current_epoch <= deal.challenge_due:
            return None
        return await self._send(
            "missed_proof", deal.deal_id, deal.challenge_epoch,
            lambda: self._simulate("reportMissedProof", deal.deal_id),
            lambda: self.market.report_missed_proof(deal.deal_id),
        )  # fmt: skip

    async def missed_quorum(self, deal: IndexedDeal, current_epoch: int) -> Sent | None:
        """``requestProofForMissedQuorum`` when nothing was paid (or proven) for too long."""
        if deal.challenge_open:
            return None
        # an estimate (the last proven epoch is the challenge's if it was answered): the simulation decides
        last = max(deal.paid_through, deal.start_epoch - 1, deal.failed_epoch, deal.challenge_epoch)
        if current_epoch <= last + self.params.missed_quorum_epochs or current_epoch > deal.end_epoch + 1:
            return None
        return await self._send(
            "missed_quorum", deal.deal_id, last,
            lambda: self._simulate("requestProofForMissedQuorum", deal.deal_id),
            lambda: self.market.request_proof_for_missed_quorum(deal.deal_id),
        )  # fmt: skip

    async def request_proof(self, deal: IndexedDeal, current_epoch: int) -> Sent | None:
        """With a committee quorum of ``fail`` for an epoch this validator failed: ``requestProof``."""
        if deal.challenge_open or self._mine(deal):
            return None
        after = max(deal.paid_through, deal.failed_epoch)
        failed = await asyncio.to_thread(self.ledger.failed_epochs, deal.deal_id, after)
        for epoch in [e for e in failed if e < current_epoch][-FAIL_LOOKBACK:]:
            state = await asyncio.to_thread(self.journalled, deal.deal_id, "request_proof", epoch)
            if state in ("mined", "done"):
                continue
            sigs = await self.fail_quorum(deal, epoch)
            if sigs is not None:
                return await self._request_proof(deal.deal_id, epoch, sigs)
        return None

    async def _request_proof(self, deal_id: int, epoch: int, sigs: list[SignedAttestation]) -> Sent | None:
        def simulate() -> str | None:
            return self._simulate(
                "requestProof", deal_id, epoch, quorum_tuples(sigs), value=self.params.proof_bond
            )

        return await self._send("request_proof", deal_id, epoch, simulate,
                                lambda: self.market.request_proof(deal_id, epoch, sigs))  # fmt: skip

    async def fail_quorum(self, deal: IndexedDeal, epoch: int) -> list[SignedAttestation] | None:
        """This validator's fail attestation for [epoch, epoch] plus the committee's, if a quorum."""
        if not await asyncio.to_thread(self.committee.member, deal.deal_id, epoch):
            return None
        own = await asyncio.to_thread(self.ledger.sign_epoch, deal.deal_id, epoch)
        if own.attestation.ok:
            return None
        peers = await self.peers(deal, epoch)
        found = await asyncio.gather(*(self._peer_fail(p, deal.deal_id, epoch) for p in peers))
        sigs = [own] + [s for s in found if s is not None]
        if len(sigs) < self.params.quorum:
            log_event(log, "fail_quorum_pending", deal_id=deal.deal_id, epoch=epoch,
                      have=len(sigs), need=self.params.quorum)  # fmt: skip
            return None
        return sigs[: self.params.quorum]  # its own first: the fewest signatures, the least gas

    async def peers(self, deal: IndexedDeal, epoch: int) -> list[PeerValidator]:
        """The other validators of the deal's committee for ``epoch`` (a chain read each)."""
        nodes = await asyncio.to_thread(self.index.nodes, Role.VALIDATOR)
        bid = await asyncio.to_thread(self.index.bid, deal.bid_id)
        banned = {deal.hoster.lower(), self.me.lower(), (bid.client.lower() if bid else "")}
        candidates = [
            PeerValidator(n.address, n.endpoint)
            for n in nodes
            if n.status == NodeStatus.ACTIVE
            and n.stake >= self.params.min_validator_stake
            and n.address.lower() not in banned
            and n.endpoint.startswith(("http://", "https://"))
        ]
        member = self.market.is_committee_member
        seats = await asyncio.gather(
            *(asyncio.to_thread(member, deal.deal_id, epoch, p.address) for p in candidates)
        )
        return [p for p, seat in zip(candidates, seats, strict=True) if seat]

    async def _peer_fail(self, peer: PeerValidator, deal_id: int, epoch: int) -> SignedAttestation | None:
        try:
            resp = await self.client.get(
                peer.endpoint.rstrip("/") + attestations_path(deal_id), params={"from": epoch}, timeout=5.0
            )
            if resp.status_code != 200:
                return None
            items = resp.json().get("attestations", [])
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        for item in items if isinstance(items, list) else []:
            try:
                signed = from_json(item, chain_id=self.ledger.signer.chain_id, market=self.market.address)
            except ScatterError:
                continue
            att = signed.attestation
            if Web3.to_checksum_address(signed.signer) == Web3.to_checksum_address(peer.address) and (
                att.deal_id, att.from_epoch, att.to_epoch, att.ok,
            ) == (deal_id, epoch, epoch, False):  # fmt: skip
                return signed
        return None

    def _mine(self, deal: IndexedDeal) -> bool:
        return deal.hoster.lower() in self.exclude

    # ---------------------------------------------------------------- audits

    async def run_audits(self, head: int) -> list[Sent]:
        """For each new audit seed block: the lottery off chain, ``audit`` for the winners only."""
        every = self.params.audit_every_blocks
        blocks = audit_seed_blocks(head, every, self.last_audit_block)
        if not blocks:
            return []
        deals = await asyncio.to_thread(self.index.deals, status=DealStatus.ACTIVE)
        ids = [d.deal_id for d in deals]
        sent: list[Sent] = []
        for block in blocks:
            block_hash = await asyncio.to_thread(self._block_hash, block)
            winners = audit_winners(block_hash, ids, self.params.audit_bps)
            self.metrics.audit_draws.inc(len(ids))
            self.audit_rounds.append((block, winners))  # drawn before any is sent: a stop mid-round shows it
            for deal_id in winners:
                try:
                    done = await self._audit(deal_id, block)
                except ScatterError as exc:
                    log_event(log, "audit_failed", logging.WARNING, deal_id=deal_id, error=str(exc)[:300])
                    continue
                if done is not None:
                    sent.append(done)
            self.last_audit_block = block
        return sent

    def _block_hash(self, number: int) -> bytes:
        header = rpc_guard(f"reading block {number}", lambda: self.market.w3.eth.get_block(number))
        return bytes(header["hash"] or b"")

    async def _audit(self, deal_id: int, block: int) -> Sent | None:
        return await self._send("audit", deal_id, block, lambda: self._simulate("audit", deal_id, block),
                                lambda: self.market.audit(deal_id, block))  # fmt: skip
