"""Pin a CID from the dapp: the possession root computed in the browser, the cost before signing,
the deals appearing live; a rejected signature leaves nothing behind; cancel an open slot."""

from __future__ import annotations

import re

import pytest
from multiformats import CID
from playwright.sync_api import expect
from web3 import Web3

from scatter.chain.market import DealStatus
from scatter.formats.possession import root_of_cid
from tests.dapp.conftest import (
    DappEnv,
    PageFactory,
    quote_pin,
    screenshot,
    sdk_price_at,
    signing_requests,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_pin_computes_the_root_in_the_browser_shows_the_cost_and_its_deals_appear(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    """With the price left empty, the bid names the Python SDK's default for the same size and
    duration at the block the page read (2x the hosters' break-even), and nothing warns."""
    cid = dapp_env.public_content(300_000)
    size, root = root_of_cid(dapp_env.origin_store, CID.decode(cid))
    epochs = -(-3600 // 2)
    market = dapp_env.market()
    bids_before = market.bid_count()

    page = open_dapp(path="#/pin")
    quote_pin(page, dapp_env, cid, replicas=3, hours=1)
    expect(page.get_by_test_id("pin-root")).to_have_text("0x" + root.hex())  # same root as Python's
    quoted = page.get_by_test_id("pin-price-slot")
    expect(quoted).to_have_attribute("data-default", "true")
    sdk = sdk_price_at(
        market, int(quoted.get_attribute("data-block") or ""), size=size, epochs=epochs, per_gib=None
    )
    assert sdk.default and not sdk.below_break_even
    per_slot = sdk.per_slot_epoch
    expect(quoted).to_have_attribute("data-wei", str(per_slot))
    expect(page.get_by_test_id("pin-break-even")).to_have_attribute("data-wei", str(sdk.break_even))
    expect(page.get_by_test_id("pin-total")).to_have_attribute("data-wei", str(per_slot * 3 * epochs))
    expect(page.get_by_test_id("pin-price-warning")).to_have_count(0)
    expect(page.get_by_test_id("pin-collateral-warning")).to_have_count(0)
    screenshot(page, "pin-quote")
    page.get_by_test_id("pin-sign").click()

    expect(page.get_by_test_id("tx").first).to_have_attribute("data-status", "confirmed")
    expect(page.get_by_role("heading", name="3 of 3 replicas filled")).to_be_visible()
    screenshot(page, "pin-filled")

    bid_id = bids_before + 1  # ids run from 1
    assert market.bid_count() == bids_before + 1
    bid = market.get_bid(bid_id)
    assert (bid.client.lower(), bid.size, bid.slot_count, bid.price_per_epoch, bid.duration_epochs) == (
        dapp_env.account.lower(),
        size,
        3,
        per_slot,
        epochs,
    )
    assert market.slot_root(bid_id, 0) == root.ljust(32, b"\0")
    deals = [market.get_deal(i) for i in range(1, market.deal_count() + 1)]
    assert sorted(d.slot for d in deals if d.bid_id == bid_id and d.status == DealStatus.ACTIVE) == [0, 1, 2]

    market_page = open_dapp(path="#/market")
    # at least this bid's 3 (other tests' deals start and end meanwhile)
    at_least_3 = re.compile(r"active: ([3-9]|\d{2,})(?!\d)")  # the next chip's text follows the digits
    expect(market_page.get_by_test_id("deal-states")).to_contain_text(at_least_3)
    expect(market_page.get_by_test_id("activity")).to_contain_text(f"bid #{bid_id} slot")
    screenshot(market_page, "market")


def test_a_typed_price_below_the_break_even_warns_in_the_sdks_words(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    """1 wei per GiB-epoch: the bid would name 1 wei per slot-epoch, below what the hosters' gas
    costs; the quote says so with the SDK's PriceWarning text, and nothing is signed."""
    cid = dapp_env.public_content(40_000)
    size, _ = root_of_cid(dapp_env.origin_store, CID.decode(cid))
    page = open_dapp(path="#/pin")
    page.get_by_test_id("pin-price").fill("0.000000001")  # gwei: 1 wei
    quote_pin(page, dapp_env, cid, replicas=2, hours=1)
    quoted = page.get_by_test_id("pin-price-slot")
    expect(quoted).to_have_attribute("data-default", "false")
    expect(quoted).to_have_attribute("data-wei", "1")
    expect(page.get_by_test_id("pin-price-gib")).to_have_text("1 wei")
    block = int(quoted.get_attribute("data-block") or "")
    sdk = sdk_price_at(dapp_env.market(), block, size=size, epochs=1800, per_gib=1)
    assert sdk.below_break_even
    expect(page.get_by_test_id("pin-price-warning")).to_have_text(sdk.below_break_even_message())
    screenshot(page, "pin-price-warning")
    assert signing_requests(page) == []

    # an emptied field is the default again: no warning
    page.get_by_test_id("pin-price").fill("")
    page.get_by_test_id("pin-check").click()
    expect(page.get_by_test_id("pin-price-slot")).to_have_attribute("data-default", "true")
    expect(page.get_by_test_id("pin-price-warning")).to_have_count(0)


def test_a_rejected_signature_leaves_nothing_behind(open_dapp: PageFactory, dapp_env: DappEnv) -> None:
    cid = dapp_env.public_content(50_000)
    market = dapp_env.market()
    w3 = market.w3
    bids_before = market.bid_count()
    nonce_before = w3.eth.get_transaction_count(Web3.to_checksum_address(dapp_env.account))
    balance_before = w3.eth.get_balance(Web3.to_checksum_address(dapp_env.account))

    page = open_dapp(path="#/pin")
    quote_pin(page, dapp_env, cid, replicas=2, hours=1)
    page.evaluate("window.__wallet.reject = true")
    page.get_by_test_id("pin-sign").click()

    expect(page.get_by_test_id("tx").first).to_have_attribute("data-status", "failed")
    expect(page.get_by_test_id("tx").first).to_contain_text("You rejected the request")
    expect(page.get_by_test_id("pin-error")).to_contain_text("You rejected the request")
    expect(page.get_by_test_id("pin-live")).to_be_empty()
    screenshot(page, "pin-rejected")
    assert market.bid_count() == bids_before
    assert w3.eth.get_transaction_count(Web3.to_checksum_address(dapp_env.account)) == nonce_before
    assert w3.eth.get_balance(Web3.to_checksum_address(dapp_env.account)) == balance_before


def test_cancel_an_open_slot_refunds_it_and_withdraw_pays_it_out(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    """Four replicas on three hosters: one slot stays open; cancel it, then withdraw its escrow."""
    cid = dapp_env.public_content(80_000)
    market = dapp_env.market()
    bid_id = market.bid_count() + 1
    page = open_dapp(path="#/pin")
    quote_pin(page, dapp_env, cid, replicas=4, hours=1)
    # a hoster holds one slot of a bid: the page says the fourth may stay open (the SDK's warning)
    expect(page.get_by_test_id("pin-collateral-warning")).to_contain_text(
        "only 3 of 3 hosters have that much free, fewer than the bid's 4 slots"
    )
    page.get_by_test_id("pin-sign").click()
    expect(page.get_by_role("heading", name="3 of 4 replicas filled")).to_be_visible()
    expect(page.get_by_test_id("cancel-open")).to_have_text("Cancel 1 open slot (refund their escrow)")
    page.get_by_test_id("cancel-open").click()
    expect(page.get_by_test_id("slot-state").filter(has_text="closed")).to_have_count(1)
    expect(page.get_by_test_id("cancel-open")).to_have_count(0)
    bid = market.get_bid(bid_id)
    assert bid.open_slots == 0 and bin(bid.closed_slots).count("1") == 1
    refund = market.balance_of(dapp_env.account)
    assert refund > 0

    ops = open_dapp(path="#/operators")
    ops.get_by_test_id("connect").click()
    expect(ops.get_by_test_id("op-withdrawable")).not_to_have_text("0 ETH")
    ops.get_by_test_id("op-withdraw").click()
    expect(ops.get_by_test_id("tx").first).to_have_attribute("data-status", "confirmed")
    wait_until(lambda: market.balance_of(dapp_env.account) == 0, 60, "the withdrawal")


def test_a_revert_is_explained_in_words_before_anything_is_signed(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    market = dapp_env.market()
    wait_until(lambda: market.balance_of(dapp_env.account) == 0, 60, "an empty Market balance")
    page = open_dapp(path="#/operators")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("op-withdrawable")).to_have_text("0 ETH")
    page.get_by_test_id("op-withdraw").click()
    tx = page.get_by_test_id("tx").first
    expect(tx).to_have_attribute("data-status", "failed")
    expect(tx).to_contain_text("There is nothing to withdraw: the balance is zero.")
    assert "eth_sendTransaction" not in page.evaluate("window.__wallet.log")
    screenshot(page, "revert-in-words")
