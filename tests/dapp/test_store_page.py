"""The Store and My files pages wired to the formats pipeline: a file stored from the browser is
filled by the hosters and recorded; a file stored with the SDK shows in My files (decrypted in the
browser, its health from the chain) and downloads with identical bytes, and its share link opens
in the dapp and downloads with no wallet. (The 5 MiB round trips
between the browser and the CLI are tests/dapp/test_files*.py.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from scatter.chain import wallet
from scatter.chain.deploy import connect
from scatter.client import Scatter
from scatter.sdk.network import Network
from tests.dapp.conftest import (
    DAPP_ACCOUNT,
    DappEnv,
    PageFactory,
    quote_store,
    screenshot,
    sdk_price_at,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]


def _sdk(env: DappEnv, tmp_path: Path) -> Scatter:
    net = env.net
    assert net.deployment is not None
    network = Network(connect(net.rpc_url), net.rpc_url, net.deployment, True)
    return Scatter(network, wallet.dev_account(DAPP_ACCOUNT), state_root=tmp_path / "sdk")


def test_a_file_stored_in_the_browser_is_filled_and_recorded(
    open_dapp: PageFactory, dapp_env: DappEnv, tmp_path: Path
) -> None:
    """With the price left empty, the bid names the Python SDK's default for its shard size and
    duration at the block the page read."""
    sdk = _sdk(dapp_env, tmp_path)
    before = {f.file_id for f in sdk.ls(health=False)}
    market = dapp_env.market()
    bid_id = market.bid_count() + 1  # ids run from 1
    source = tmp_path / "notes.bin"
    source.write_bytes(os.urandom(200_000))
    page = open_dapp(path="#/store")
    quote_store(page, source)
    quoted = page.get_by_test_id("store-price-slot")
    expect(quoted).to_have_attribute("data-default", "true")
    block, wei = int(quoted.get_attribute("data-block") or ""), int(quoted.get_attribute("data-wei") or "")
    expect(page.get_by_test_id("store-price-warning")).to_have_count(0)
    screenshot(page, "store-quote")
    page.get_by_test_id("store-sign").click()
    expect(page.get_by_test_id("store-done")).to_be_visible()
    screenshot(page, "store-done")
    added = [f for f in sdk.ls(health=False) if f.file_id not in before]
    assert [(f.name, f.size) for f in added] == [("notes.bin", 200_000)]
    bid = market.get_bid(bid_id)
    assert bid.duration_epochs == 30 * 86_400 // 2  # the page's default: 30 days of 2 s epochs
    price = sdk_price_at(market, block, size=bid.size, epochs=bid.duration_epochs, per_gib=None)
    assert bid.price_per_epoch == wei == price.per_slot_epoch and not price.below_break_even


#: The page's CAR spool in the origin-private file system: {directory: {file: size}}.
SPOOLED = """async () => {
  const out = {};
  let root;
  try {
    root = await (await navigator.storage.getDirectory()).getDirectoryHandle("scatter-cars");
  } catch {
    return out;
  }
  for await (const [name, dir] of root.entries()) {
    out[name] = {};
    for await (const [file, handle] of dir.entries()) out[name][file] = (await handle.getFile()).size;
  }
  return out;
}"""


SWEPT = "() => document.documentElement.dataset.spoolSwept !== undefined"


def _spooled(page: Any) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = page.evaluate(SPOOLED)
    return result


def test_the_shards_wait_for_their_pushes_in_opfs_files_deleted_once_stored(
    open_dapp: PageFactory, tmp_path: Path
) -> None:
    """The encoded CARs are files in the origin-private file system (not Blobs in memory) until
    the store ends, then deleted."""
    source = tmp_path / "spooled.bin"
    source.write_bytes(os.urandom(300_000))
    page = open_dapp(path="#/store")
    quote_store(page, source)
    [files] = _spooled(page).values()
    assert sorted(files) == ["shard-0.car", "shard-1.car", "shard-2.car"]
    assert all(size > 300_000 for size in files.values())  # a 1/3 shard holds the whole ciphertext
    expect(page.get_by_test_id("store-memory-note")).to_have_count(0)
    page.get_by_test_id("store-sign").click()
    expect(page.get_by_test_id("store-done")).to_be_visible()
    assert _spooled(page) == {}


def test_car_files_left_by_a_closed_page_are_deleted_at_the_next_start(open_dapp: PageFactory) -> None:
    """At its start the dapp deletes the spool directories no live page holds (Web Lock of the
    directory's name): a closed tab's are removed, another open tab's are kept."""
    page = open_dapp(path="#/market")
    holder = page.context.new_page()
    holder.goto(page.url)
    # each tab's start-up sweep is over before the directories exist
    wait_until(lambda: page.evaluate(SWEPT) and holder.evaluate(SWEPT), what="the start-up sweeps")
    holder.evaluate("() => { navigator.locks.request('scatter-cars/held', () => new Promise(() => {})); }")
    page.evaluate(
        """async () => {
          const opfs = await navigator.storage.getDirectory();
          const root = await opfs.getDirectoryHandle("scatter-cars", { create: true });
          for (const name of ["held", "left"]) {
            const dir = await root.getDirectoryHandle(name, { create: true });
            const file = await dir.getFileHandle("shard-0.car", { create: true });
            const w = await file.createWritable();
            await w.write(new Uint8Array(1000));
            await w.close();
          }
        }"""
    )
    held = "async () => (await navigator.locks.query()).held.some((l) => l.name === 'scatter-cars/held')"
    wait_until(lambda: holder.evaluate(held), what="the other tab's lock")
    assert set(_spooled(page)) == {"held", "left"}
    page.reload()
    wait_until(lambda: page.evaluate(SWEPT), what="the start-up sweep")
    assert page.evaluate("() => document.documentElement.dataset.spoolSwept") == "1"
    assert _spooled(page) == {"held": {"shard-0.car": 1000}}


def test_my_files_decrypts_an_sdk_upload_downloads_it_and_shares_it(
    open_dapp: PageFactory, dapp_env: DappEnv, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    (tmp_path / "report.bin").write_bytes(data)
    _sdk(dapp_env, tmp_path).upload(tmp_path / "report.bin", shards=(2, 3), duration="1h", timeout=600)
    page = open_dapp(path="#/files")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-account")).to_be_visible()
    page.get_by_test_id("files-unlock").click()
    row = page.get_by_role("row").filter(has_text="report.bin")
    expect(row.get_by_test_id("file-health")).to_have_text("3/3 live")
    with page.expect_download() as download:
        row.get_by_test_id("file-download").click()
    assert Path(download.value.path()).read_bytes() == data
    row.get_by_test_id("file-share").click()
    expect(row.get_by_test_id("file-share-link")).to_be_visible()
    assert row.get_by_test_id("file-share-link").input_value().startswith("scatter:file?")
    web_link = row.get_by_test_id("file-share-web").input_value()
    screenshot(page, "my-files")

    # the share link opens in the dapp and downloads with no wallet at all
    shared = open_dapp(wallet=False, path=web_link.removeprefix(dapp_env.url + "/"))
    expect(shared.get_by_test_id("share-name")).to_have_text("report.bin")
    with shared.expect_download() as download:
        shared.get_by_test_id("share-download").click()
    assert Path(download.value.path()).read_bytes() == data
    expect(shared.get_by_test_id("share-status")).to_contain_text("sha256 checked")
    screenshot(shared, "share-link")
