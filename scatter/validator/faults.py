"""Report faults on chain: ``faultFailed`` with a quorum of fail signatures, ``faultMissed`` after grace.

- **faultFailed(deal, e, e, sigs)**: for an unpaid epoch e where this validator
  recorded ``fail``, it reads the other validators' published attestations
  (``GET .../attestations/{deal}?from=e``), keeps the verified ``ok = false``
  signatures over exactly [e, e] from registered, active validators that are
  neither the deal's hoster nor its client, and submits when they and its own
  reach the Market's quorum. Every signer shares the reporters' part.
- **faultMissed(deal)**: when ``currentEpoch > paidThrough + graceEpochs`` and
  something is unpaid (re-read with ``getDeal`` first), anyone may fault; the
  caller receives the reporters' part.

Each report is journalled (table ``fault_reports``) *before* its transaction is
sent. After a crash a journalled report is sent again only if the deal is still
Active on chain, so a fault that made it is never sent twice; a race lost to
another reporter reverts during gas estimation, which costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx
from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from scatter.chain.eip712 import SignedAttestation
from scatter.chain.index import IndexedDeal, MarketIndex
from scatter.chain.market import DealStatus, Market, NodeStatus, Role
from scatter.chain.params import MarketParams
from scatter.daemon.logs import log_event
from scatter.daemon.state import Migration, StateDB
from scatter.errors import ContractError, ScatterError
from scatter.protocol.attestations import attestations_path, from_json
from scatter.validator.ledger import SigningLedger
from scatter.validator.metrics import ValidatorMetrics

MIGRATIONS: Final[list[Migration]] = [
    (
        "validator_faults",
        1,
        [
            "CREATE TABLE fault_reports (deal_id INTEGER NOT NULL, kind TEXT NOT NULL, "
            "from_epoch INTEGER NOT NULL, to_epoch INTEGER NOT NULL, state TEXT NOT NULL, "
            "detail TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (deal_id, kind))"
        ],
    )
]

log = logging.getLogger("scatter.validator.faults")


@dataclass(frozen=True)
class PeerValidator:
    address: str
    endpoint: str


class FaultReporter:
    def __init__(
        self,
        market: Market,
        index: MarketIndex,
        ledger: SigningLedger,
        db: StateDB,
        params: MarketParams,
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
        self.metrics = metrics
        self.exclude = {a.lower() for a in exclude}
        self.client = client
        self.me = ledger.address
        db.migrate(MIGRATIONS)

    # -------------------------------------------------------------- journal

    def _journalled(self, deal_id: int, kind: str) -> str | None:
        row = self.db.query_one(
            "SELECT state FROM fault_reports WHERE deal_id = ? AND kind = ?", (deal_id, kind)
        )
        return str(row[0]) if row else None

    def _journal(self, deal_id: int, kind: str, a: int, b: int, state: str, detail: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO fault_reports VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(deal_id, kind) DO UPDATE "
                "SET from_epoch = excluded.from_epoch, to_epoch = excluded.to_epoch, state = excluded.state, "
                "detail = excluded.detail, at = excluded.at",
                (deal_id, kind, a, b, state, detail, time.time()),
            )

    def reports(self) -> list[dict[str, object]]:
        return [dict(r) for r in self.db.query("SELECT * FROM fault_reports ORDER BY at")]

    # ---------------------------------------------------------------- rules

    def _mine(self, deal: IndexedDeal, client: str) -> bool:
        return deal.hoster.lower() in self.exclude or client.lower() in self.exclude

    async def run_once(self, current_epoch: int) -> None:
        """Look at every active deal once; report what the rules allow."""
        for deal in await asyncio.to_thread(self.index.deals, status=DealStatus.ACTIVE):
            bid = await asyncio.to_thread(self.index.bid, deal.bid_id)
            if bid is None or self._mine(deal, bid.client):
                continue
            end = deal.end_epoch(bid.duration_epochs)
            try:
                reported = False
                failed = await asyncio.to_thread(self.ledger.failed_epochs, deal.deal_id, deal.paid_through)
                for epoch in [e for e in failed if e <= min(current_epoch, end)][-16:]:
                    reported = await self._failed(deal, bid.client, epoch)
                    if reported:
                        break
                late = current_epoch > deal.paid_through + self.params.grace_epochs
                if not reported and deal.paid_through < end and late:
                    await self._missed(deal.deal_id)
            except ScatterError as exc:
                log_event(log, "fault_check_failed", logging.WARNING, deal_id=deal.deal_id, error=str(exc))

    async def _send(self, kind: str, deal_id: int, a: int, b: int, call: Callable[[], TxReceipt]) -> bool:
        state = self._journalled(deal_id, kind)
        if state == "mined":
            return False
        live = await asyncio.to_thread(self.market.get_deal, deal_id)
        if live.status != DealStatus.ACTIVE:
            if state == "sending":
                self._journal(deal_id, kind, a, b, "done", f"deal is {live.status.name.lower()} on chain")
            return False
        await asyncio.to_thread(self._journal, deal_id, kind, a, b, "sending")
        try:
            receipt = await asyncio.to_thread(call)
        except ContractError as exc:
            self.metrics.faults.labels(kind=kind, outcome="reverted").inc()
            await asyncio.to_thread(self._journal, deal_id, kind, a, b, "reverted", str(exc))
            log_event(log, "fault_not_accepted", logging.INFO, deal_id=deal_id, kind=kind, error=str(exc))
            return False
        reward = self._credited(receipt)
        self.metrics.faults.labels(kind=kind, outcome="mined").inc()
        self.metrics.fault_rewards.inc(reward)
        await asyncio.to_thread(self._journal, deal_id, kind, a, b, "mined", receipt["transactionHash"].hex())
        log_event(log, "fault_reported", deal_id=deal_id, kind=kind, from_epoch=a, to_epoch=b,
                  reward_wei=reward, tx=receipt["transactionHash"].hex())  # fmt: skip
        return True

    def _credited(self, receipt: TxReceipt) -> int:
        events = self.market.contract.events.Credited().process_receipt(receipt, errors=DISCARD)
        return sum(int(e["args"]["amount"]) for e in events if e["args"]["account"] == self.me)

    async def _missed(self, deal_id: int) -> None:
        live = await asyncio.to_thread(self.market.get_deal, deal_id)
        current = await asyncio.to_thread(self.market.current_epoch)
        end = await asyncio.to_thread(self.market.deal_end_epoch, deal_id)
        if live.paid_through >= end or current <= live.paid_through + self.params.grace_epochs:
            return
        await self._send("missed", deal_id, live.paid_through + 1, current,
                         lambda: self.market.fault_missed(deal_id))  # fmt: skip

    async def peers(self, deal: IndexedDeal, client: str) -> list[PeerValidator]:
        """Other validators whose signatures count for the deal."""
        nodes = await asyncio.to_thread(self.index.nodes, Role.VALIDATOR)
        banned = {deal.hoster.lower(), client.lower(), self.me.lower()}
        return [
            PeerValidator(n.address, n.endpoint)
            for n in nodes
            if n.status == NodeStatus.ACTIVE
            and n.stake >= self.params.min_validator_stake
            and n.address.lower() not in banned
            and n.endpoint.startswith(("http://", "https://"))
        ]

    async def _failed(self, deal: IndexedDeal, client: str, epoch: int) -> bool:
        if self._journalled(deal.deal_id, "failed") == "mined":
            return True
        own = await asyncio.to_thread(self.ledger.sign_epoch, deal.deal_id, epoch)
        if own.attestation.ok:
            return False
        peers = await self.peers(deal, client)
        found = await asyncio.gather(*(self._peer_fail(p, deal.deal_id, epoch) for p in peers))
        sigs = [own] + [s for s in found if s is not None]
        if len(sigs) < self.params.quorum:
            log_event(log, "fail_quorum_pending", deal_id=deal.deal_id, epoch=epoch,
                      have=len(sigs), need=self.params.quorum)  # fmt: skip
            return False
        return await self._send("failed", deal.deal_id, epoch, epoch,
                         lambda: self.market.fault_failed(deal.deal_id, epoch, epoch, sigs))  # fmt: skip

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
                att.deal_id,
                att.from_epoch,
                att.to_epoch,
                att.ok,
            ) == (deal_id, epoch, epoch, False):
                return signed
        return None
