"""A transaction stuck below the base fee is replaced with higher fees, recorded first;
the cap holds replacements back; whichever version is mined settles the action once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3

from scatter.daemon.state import StateDB
from scatter.hoster.failpoints import ENV as CRASH_ENV
from scatter.hoster.txjournal import TxJournal, TxRecord
from tests.conftest import Chain

pytestmark = pytest.mark.integration

ACCOUNT = 8  # the journal's key; no other test of this module sends from it
PAYEE = Web3.to_checksum_address("0x" + "5c" * 20)
STALE = 0.05  # rebroadcast_after of the journals under test
KIND, SUBJECT = "pay", "invoice-1"


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    answer = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture()
def manual_w3(chain: Chain) -> Iterator[Web3]:
    """The test chain with automine off: sent transactions wait in the pool for ``evm_mine``.

    Afterwards automine is back on, the pool empty and the next block's base fee what it
    was: anvil's ``evm_revert`` (the ``chain`` fixture) restores the blocks, not the base fee.
    """
    w3 = chain.w3
    base = int(w3.eth.get_block("pending")["baseFeePerGas"])  # type: ignore[arg-type]
    _rpc(w3, "evm_setAutomine", [False])
    try:
        yield w3
    finally:
        _rpc(w3, "anvil_dropAllTransactions", [])
        _rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(base)])
        _rpc(w3, "evm_setAutomine", [True])


def _journal(chain: Chain, tmp_path: Path, **kwargs: Any) -> TxJournal:
    return TxJournal(StateDB(tmp_path / "journal.db"), chain.w3, chain.account(ACCOUNT),
                     rebroadcast_after=STALE, **kwargs)  # fmt: skip


def _fees(journal: TxJournal, tx_hash: bytes) -> tuple[int, int]:
    row = journal.db.query_one("SELECT raw FROM txs WHERE tx_hash = ?", (tx_hash,))
    assert row is not None
    tx = TypedTransaction.from_bytes(HexBytes(row[0])).as_dict()
    return int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"])


def _rows(journal: TxJournal) -> list[tuple[int, str, str | None]]:
    return [(r["nonce"], r["status"], r["error"]) for r in journal.db.query("SELECT * FROM txs ORDER BY id")]


def _send_and_spike(w3: Web3, journal: TxJournal) -> TxRecord:
    """Send a payment, let reconcile mark it sent, then mine an empty block whose base fee
    is far above the payment's max fee (anvil evicts it from its pool)."""
    rec = journal.send_call(KIND, SUBJECT, PAYEE, b"", gas=21_000, value=1)
    journal.reconcile()  # 'signed' -> 'sent'
    max_fee, _ = _fees(journal, rec.tx_hash)
    _rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(10 * max_fee)])
    _rpc(w3, "evm_mine", [])
    assert w3.eth.get_block("latest")["transactions"] == []
    time.sleep(2 * STALE)
    return rec


def _mine(w3: Web3) -> list[bytes]:
    _rpc(w3, "evm_mine", [])
    return [bytes(h) for h in w3.eth.get_block("latest")["transactions"]]  # type: ignore[arg-type]


def test_a_transaction_stuck_below_the_base_fee_is_replaced_and_the_replacement_mined(
    chain: Chain, manual_w3: Web3, tmp_path: Path
) -> None:
    w3 = manual_w3
    bumps: list[TxRecord] = []
    journal = _journal(chain, tmp_path, on_bump=bumps.append)
    old = _send_and_spike(w3, journal)
    old_max, old_tip = _fees(journal, old.tx_hash)

    assert journal.reconcile() == []
    assert len(bumps) == 1
    new = bumps[0]
    assert (new.kind, new.subject, new.nonce, new.status) == (KIND, SUBJECT, old.nonce, "sent")
    new_max, new_tip = _fees(journal, new.tx_hash)
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])  # type: ignore[arg-type]
    assert new_max >= 2 * base and new_max >= old_max * 9 // 8 + 1
    assert new_tip >= old_tip * 9 // 8 + 1
    assert _rows(journal) == [(old.nonce, "sent", None), (old.nonce, "sent", None)]
    # one transaction in flight for the subject, however many versions of it are signed
    live = journal.live(KIND, SUBJECT)
    assert live is not None and live.tx_hash == new.tx_hash
    assert journal.live_subjects(KIND, confirmed_block=w3.eth.block_number) == {SUBJECT}
    journal.reconcile()  # the replacement's fees are current: no third version
    assert len(bumps) == 1 and len(_rows(journal)) == 2

    assert _mine(w3) == [new.tx_hash]
    done = journal.reconcile()
    assert [(rec.tx_hash, receipt is not None and receipt["status"]) for rec, receipt in done] == [
        (new.tx_hash, 1)
    ]
    assert _rows(journal) == [
        (old.nonce, "dropped", "replaced by 0x" + new.tx_hash.hex()),
        (old.nonce, "mined", None),
    ]
    assert w3.eth.get_transaction_count(journal.address) == old.nonce + 1
    assert journal.pending() == []
    assert journal.live(KIND, SUBJECT, confirmed_block=w3.eth.block_number) is None


def test_no_replacement_above_the_cap_and_the_transaction_waits_for_fees_to_fall(
    chain: Chain, manual_w3: Web3, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w3 = manual_w3
    bumps: list[TxRecord] = []
    journal = _journal(chain, tmp_path, on_bump=bumps.append)
    rec = _send_and_spike(w3, journal)
    old_max, _ = _fees(journal, rec.tx_hash)
    journal.max_fee_per_gas_cap = old_max * 9 // 8  # one wei below the smallest valid replacement

    with caplog.at_level(logging.WARNING, logger="scatter.hoster"):
        for _ in range(3):
            assert journal.reconcile() == []
            time.sleep(2 * STALE)
    assert bumps == []
    assert _rows(journal) == [(rec.nonce, "sent", None)]  # refused for its fees by anvil, kept
    capped = [r for r in caplog.records if r.getMessage() == "fee bump capped"]
    assert len(capped) == 1 and capped[0].__dict__["cap_wei"] == old_max * 9 // 8

    # The spike passes: the very same transaction is taken again and mined.
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])  # type: ignore[arg-type]
    _rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(min(base, old_max // 4))])
    assert _mine(w3) == []
    journal.reconcile()
    assert _mine(w3) == [rec.tx_hash]
    assert [r.tx_hash for r, _ in journal.reconcile()] == [rec.tx_hash]
    assert _rows(journal) == [(rec.nonce, "mined", None)]


def test_a_replacement_between_the_needed_fee_and_the_cap_offers_the_cap(
    chain: Chain, manual_w3: Web3, tmp_path: Path
) -> None:
    w3 = manual_w3
    bumps: list[TxRecord] = []
    journal = _journal(chain, tmp_path, on_bump=bumps.append)
    rec = _send_and_spike(w3, journal)
    old_max, old_tip = _fees(journal, rec.tx_hash)
    cap = old_max * 2  # above the smallest replacement, below twice the spiked base fee
    journal.max_fee_per_gas_cap = cap

    journal.reconcile()
    assert len(bumps) == 1
    assert _fees(journal, bumps[0].tx_hash) == (cap, max(int(w3.eth.max_priority_fee), old_tip * 9 // 8 + 1))


def test_the_replacement_is_recorded_before_it_is_broadcast(
    chain: Chain, manual_w3: Web3, tmp_path: Path
) -> None:
    """kill -9 between recording the replacement and broadcasting it: the row is there,
    'signed'; the next pass broadcasts it and it is the one mined."""
    w3 = manual_w3
    journal = _journal(chain, tmp_path)
    old = _send_and_spike(w3, journal)
    url = str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    script = (
        "from scatter.chain import wallet; from scatter.chain.deploy import connect; "
        "from scatter.daemon.state import StateDB; from scatter.hoster.txjournal import TxJournal; "
        f"TxJournal(StateDB({str(tmp_path / 'journal.db')!r}), connect({url!r}), "
        f"wallet.dev_account({ACCOUNT}), rebroadcast_after={STALE}).reconcile()"
    )
    env = {**os.environ, CRASH_ENV: f"{KIND}_bump_signed"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()

    rows = journal.db.query("SELECT tx_hash, status FROM txs ORDER BY id")
    assert [r["status"] for r in rows] == ["sent", "signed"]
    new_hash = bytes(rows[1]["tx_hash"])
    assert _rpc(w3, "txpool_status", [])["pending"] == "0x0"  # never left the process

    journal.reconcile()  # the newest version of the nonce is broadcast, not bumped again
    assert [r["status"] for r in journal.db.query("SELECT status FROM txs ORDER BY id")] == ["sent", "sent"]
    assert _mine(w3) == [new_hash]
    journal.reconcile()
    assert _rows(journal) == [
        (old.nonce, "dropped", "replaced by 0x" + new_hash.hex()),
        (old.nonce, "mined", None),
    ]


def test_wait_follows_a_replacement_to_its_receipt(chain: Chain, manual_w3: Web3, tmp_path: Path) -> None:
    w3 = manual_w3
    bumps: list[TxRecord] = []
    journal = _journal(chain, tmp_path, on_bump=bumps.append)
    old = _send_and_spike(w3, journal)
    journal.reconcile()
    [new] = bumps
    assert _mine(w3) == [new.tx_hash]
    receipt = journal.wait(old, timeout=10)  # asked for the original: the replacement was mined
    assert receipt is not None and bytes(receipt["transactionHash"]) == new.tx_hash


def test_new_transactions_offer_at_most_the_cap(chain: Chain, manual_w3: Web3, tmp_path: Path) -> None:
    w3 = manual_w3
    base = int(w3.eth.get_block("pending")["baseFeePerGas"])  # type: ignore[arg-type]
    cap = base + 1  # below twice the base fee plus the tip, which is what it would offer
    journal = _journal(chain, tmp_path, max_fee_per_gas_cap=cap)
    rec = journal.send_call(KIND, SUBJECT, PAYEE, b"", gas=21_000, value=1)
    max_fee, tip = _fees(journal, rec.tx_hash)
    assert max_fee == cap and tip <= cap
    assert _mine(w3) == [rec.tx_hash]  # still above the base fee: mined
