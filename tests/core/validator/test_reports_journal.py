"""Every report is simulated first and journalled before it is sent; nothing is sent twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from scatter.chain import wallet
from scatter.chain.params import preset
from scatter.daemon.state import StateDB
from scatter.errors import ContractError
from scatter.validator.committee import CommitteeCache
from scatter.validator.ledger import SigningLedger
from scatter.validator.metrics import ValidatorMetrics
from scatter.validator.reports import Reporter
from scatter.validator.signer import AttestationSigner

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECEIPT: Any = {"transactionHash": b"\x11" * 32}


def reporter(tmp_path: Path) -> Reporter:
    db = StateDB(tmp_path / "v.db")
    ledger = SigningLedger(db, AttestationSigner(wallet.dev_account(5), 31337, MARKET))
    no_events = SimpleNamespace(process_receipt=lambda receipt, errors: [])
    market: Any = SimpleNamespace(
        contract=SimpleNamespace(events=SimpleNamespace(Credited=lambda: no_events))
    )
    index: Any = SimpleNamespace()
    committee = CommitteeCache(lambda d, e: True, 30)
    return Reporter(market, index, ledger, db, preset("devnet"), committee, metrics=ValidatorMetrics(),
                    exclude=set(), client=httpx.AsyncClient())  # fmt: skip


def test_simulated_then_journalled_then_sent_once(tmp_path: Path) -> None:
    r = reporter(tmp_path)
    seen: list[str | None] = []

    def send() -> Any:
        seen.append(r.journalled(7, "audit", 90))  # what the journal says while the transaction leaves
        return RECEIPT

    sent = asyncio.run(r._send("audit", 7, 90, lambda: None, send))
    assert sent is not None and seen == ["sending"] and r.journalled(7, "audit", 90) == "mined"
    again = asyncio.run(r._send("audit", 7, 90, lambda: pytest.fail("simulated again"), send))
    assert again is None and seen == ["sending"]


def test_a_simulation_that_reverts_sends_nothing_and_journals_nothing(tmp_path: Path) -> None:
    r = reporter(tmp_path)
    sent = asyncio.run(r._send("audit", 7, 90, lambda: "NotDrawnForAudit", lambda: pytest.fail("sent")))
    assert sent is None and r.journalled(7, "audit", 90) is None


def test_a_crash_after_sending_is_resolved_by_simulating_again(tmp_path: Path) -> None:
    r = reporter(tmp_path)
    r._journal(7, "missed_proof", 3, "sending")  # the process died with the transaction in flight
    sent = asyncio.run(r._send("missed_proof", 7, 3, lambda: "NoOpenChallenge", lambda: pytest.fail("twice")))
    assert sent is None and r.journalled(7, "missed_proof", 3) == "done"


def test_a_race_lost_after_the_simulation_is_journalled_reverted(tmp_path: Path) -> None:
    r = reporter(tmp_path)

    def send() -> Any:
        raise ContractError("Market.reportMissedProof reverted: NoOpenChallenge(7)")

    assert asyncio.run(r._send("missed_proof", 7, 3, lambda: None, send)) is None
    assert r.journalled(7, "missed_proof", 3) == "reverted"
