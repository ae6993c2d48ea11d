"""Files between the browser and the CLI, on one wallet (dev client 2, the injected provider's
account): a 5 MiB file stored in the browser shows in My files and downloads there and with
`scatter download`, byte for byte; a file stored with `scatter upload` shows in the browser's My
files (the same metadata key from the same wallet signature) and downloads there byte for byte.
Then the bid's slots from the browser: cancel one open slot (refund credited), extend the open
slots (the cost shown before signing)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from scatter.chain.market import Bid, Market
from tests.dapp.conftest import (
    DAPP_ACCOUNT,
    DappEnv,
    PageFactory,
    quote_pin,
    screenshot,
    store_file,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

MIB = 1 << 20


def _cli(env: DappEnv, cwd: Path, *args: str) -> dict[str, Any]:
    """Run `scatter ARGS --json` as the dapp's account against the test's dev network."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    environ["SCATTER_DEPLOYMENTS"] = str(env.net.record_path)
    command = [sys.executable, "-m", "scatter", *args, "--rpc-url", env.rpc_url]
    command += ["--dev-account", str(DAPP_ACCOUNT), "--json"]
    proc = subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"scatter {args[0]} failed:\n{proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _my_files(open_dapp: PageFactory) -> Any:
    page = open_dapp(path="#/files")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-account")).to_be_visible()
    page.get_by_test_id("files-unlock").click()
    return page


def _download_in_browser(page: Any, row: Any, to: Path) -> Path:
    with page.expect_download() as download:
        row.get_by_test_id("file-download").click()
    download.value.save_as(str(to))
    return to


def test_a_5mib_file_stored_in_the_browser_downloads_in_the_browser_and_with_the_cli(
    open_dapp: PageFactory, dapp_env: DappEnv, tmp_path: Path
) -> None:
    source = tmp_path / f"browser-{os.urandom(4).hex()}.bin"
    source.write_bytes(os.urandom(5 * MIB))
    page = open_dapp(path="#/store")
    store_file(page, source)

    files = _my_files(open_dapp)
    row = files.get_by_role("row").filter(has_text=source.name)
    expect(row.get_by_test_id("file-health")).to_have_text("3/3 live")
    got = _download_in_browser(files, row, tmp_path / "from-browser.bin")
    assert _sha256(got) == _sha256(source)

    # the CLI, with the same wallet's key, finds the entry (same metadata key) and decodes it
    result = _cli(dapp_env, tmp_path, "download", source.name, "-o", str(tmp_path / "from-cli.bin"))
    assert _sha256(Path(result["path"])) == _sha256(source)


def test_a_file_stored_with_the_cli_shows_in_my_files_and_downloads_in_the_browser(
    open_dapp: PageFactory, dapp_env: DappEnv, tmp_path: Path
) -> None:
    source = tmp_path / f"cli-{os.urandom(4).hex()}.bin"
    source.write_bytes(os.urandom(5 * MIB))
    uploaded = _cli(dapp_env, tmp_path, "upload", str(source), "--shards", "2/3", "--duration", "1h", "-q")
    assert uploaded["name"] == source.name

    page = _my_files(open_dapp)
    row = page.get_by_role("row").filter(has_text=source.name)
    expect(row.get_by_test_id("file-health")).to_have_text("3/3 live")
    got = _download_in_browser(page, row, tmp_path / "from-browser.bin")
    assert _sha256(got) == _sha256(source)
    # its bid, from My files: every slot filled, so nothing to cancel or extend (T7: a filled
    # deal's end is fixed at its fill)
    row.get_by_test_id("file-slots").click()
    expect(
        page.get_by_role("heading", name=f"Bid #{uploaded['bid_id']}: 3 of 3 replicas filled")
    ).to_be_visible()
    expect(page.get_by_test_id("slot-cancel")).to_have_count(0)
    expect(page.get_by_test_id("bid-extend")).to_be_hidden()
    screenshot(page, "my-files-cli-upload")


def test_extend_the_open_slots_then_cancel_one_slot_from_the_browser(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    """Five replicas on three hosters: two slots stay open. Extend them (the cost shown before
    signing is what the Market takes), then cancel one of them: its whole budget is credited and
    the other stays open."""
    market = dapp_env.market()
    bid_id = market.bid_count() + 1
    page = open_dapp(path="#/pin")
    quote_pin(page, dapp_env, dapp_env.public_content(60_000), replicas=5, hours=1)
    page.get_by_test_id("pin-sign").click()
    expect(page.get_by_role("heading", name=f"Bid #{bid_id}: 3 of 5 replicas filled")).to_be_visible()
    expect(page.get_by_test_id("slot-cancel")).to_have_count(2)
    bid = market.get_bid(bid_id)
    waiting = bid.unreserved_slot_indexes()
    filled = [s for s in range(5) if s not in waiting]
    assert len(waiting) == 2

    filled_budgets = [market.slot_epochs(bid_id, s) for s in filled]
    extra = 40
    page.get_by_test_id("bid-extend-epochs").fill(str(extra))
    cost = bid.price_per_epoch * 2 * extra
    expect(page.get_by_test_id("bid-extend-cost")).to_have_attribute("data-wei", str(cost))
    screenshot(page, "bid-extend-quote")
    page.get_by_test_id("bid-extend").click()
    wait_until(lambda: market.slot_epochs(bid_id, waiting[0]) > bid.duration_epochs, 120, "the extension")
    mask = sum(1 << s for s in waiting)
    assert _events(market, "BidExtended", bid) == [
        {"bidId": bid_id, "extraEpochs": extra, "slots": mask, "paid": cost}
    ]
    assert [market.slot_epochs(bid_id, s) for s in waiting] == [bid.duration_epochs + extra] * 2
    assert [market.slot_epochs(bid_id, s) for s in filled] == filled_budgets  # live deals unchanged

    credited = market.balance_of(dapp_env.account)
    first = page.get_by_test_id("slot-cancel").first
    expect(first).to_have_text(f"Cancel slot {waiting[0]}")
    first.click()
    expect(page.get_by_test_id("slot-state").filter(has_text="closed")).to_have_count(1)
    expect(page.get_by_test_id("slot-cancel")).to_have_text([f"Cancel slot {waiting[1]}"])
    end = market.get_bid(bid_id)
    assert end.closed_slots == 1 << waiting[0] and end.unreserved_slot_indexes() == [waiting[1]]
    refund = bid.price_per_epoch * (bid.duration_epochs + extra)
    assert _events(market, "SlotCancelled", bid) == [{"bidId": bid_id, "slot": waiting[0], "refund": refund}]
    assert market.balance_of(dapp_env.account) - credited == refund  # withdrawable (Operators)
    screenshot(page, "bid-slot-cancelled")


def _events(market: Market, name: str, bid: Bid) -> list[dict[str, Any]]:
    logs = market.contract.events[name]().get_logs(
        from_block=bid.posted_block, argument_filters={"bidId": bid.bid_id}
    )
    return [dict(log["args"]) for log in logs]
