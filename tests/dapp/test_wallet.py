"""The wallet in the dapp: connect, no wallet, a locked wallet, a rejected request, the wrong chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from web3 import Web3

from tests.dapp.conftest import (
    DappEnv,
    Locked,
    PageFactory,
    quote_pin,
    quote_store,
    screenshot,
    signing_requests,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

WRONG_CHAIN = 1  # Ethereum mainnet: Scatter is not deployed there in the dev summary


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _chain_state(env: DappEnv) -> tuple[int, int, int]:
    """What a sent transaction would change: the bid count, the account's nonce and balance."""
    market = env.market()
    account = Web3.to_checksum_address(env.account)
    w3 = market.w3
    return market.bid_count(), w3.eth.get_transaction_count(account), w3.eth.get_balance(account)


def test_connect_shows_account_chain_and_balance(open_dapp: PageFactory, dapp_env: DappEnv) -> None:
    page = open_dapp()
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-account")).to_have_text(_short(dapp_env.account))
    expect(page.get_by_test_id("wallet-chain")).to_have_text("Scatter dev network")
    expect(page.get_by_test_id("wallet-balance")).to_contain_text("ETH")
    expect(page.get_by_test_id("wrong-chain")).to_have_count(0)
    screenshot(page, "wallet-connected")


def test_without_a_wallet_the_market_reads_and_says_why_it_cannot_sign(open_dapp: PageFactory) -> None:
    page = open_dapp(wallet=False)
    expect(page.get_by_test_id("wallet-status")).to_have_text("No wallet")
    expect(page.get_by_test_id("wallet-message")).to_contain_text("No browser wallet found")
    expect(page.get_by_test_id("hoster-count")).to_have_text("3")
    screenshot(page, "no-wallet")


def test_a_rejected_connection_says_so_and_stays_disconnected(open_dapp: PageFactory) -> None:
    page = open_dapp()
    page.evaluate("window.__wallet.reject = true")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-message")).to_contain_text("You rejected the request")
    expect(page.get_by_test_id("connect")).to_be_visible()
    expect(page.get_by_test_id("wallet-account")).to_have_count(0)


def test_a_locked_wallet_is_named_and_connects_once_unlocked(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    page = open_dapp(locked="pending")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-message")).to_contain_text("already has a request waiting")
    page.evaluate("window.__wallet.unlock()")
    expect(page.get_by_test_id("wallet-account")).to_have_text(_short(dapp_env.account))


def test_the_wrong_chain_is_named_and_switching_fixes_it(open_dapp: PageFactory, dapp_env: DappEnv) -> None:
    page: Any = open_dapp(chain_id=WRONG_CHAIN)
    page.get_by_test_id("connect").click()
    banner = page.get_by_test_id("wrong-chain")
    expect(banner).to_contain_text("chain 1")
    expect(banner).to_contain_text("not deployed")
    screenshot(page, "wrong-chain")
    page.get_by_test_id(f"switch-{dapp_env.chain_id}").click()
    expect(banner).to_have_count(0)
    expect(page.get_by_test_id("wallet-chain")).to_have_text("Scatter dev network")
    assert "wallet_switchEthereumChain" in page.evaluate("window.__wallet.log")


def test_on_the_wrong_chain_a_pin_is_refused_before_the_wallet_is_asked(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    cid = dapp_env.public_content(40_000)
    before = _chain_state(dapp_env)
    page = open_dapp(chain_id=WRONG_CHAIN, path="#/pin")
    quote_pin(page, dapp_env, cid, replicas=1, hours=1)  # reading works on any chain
    expect(page.get_by_test_id(f"switch-{dapp_env.chain_id}")).to_be_visible()
    page.get_by_test_id("pin-sign").click()
    expect(page.get_by_test_id("pin-error")).to_contain_text(
        "Your wallet is on chain 1: switch to Scatter dev network first; nothing was sent"
    )
    expect(page.get_by_test_id("tx").first).to_have_attribute("data-status", "failed")
    assert signing_requests(page) == []
    assert _chain_state(dapp_env) == before


def test_on_the_wrong_chain_the_store_page_refuses_before_encoding(
    open_dapp: PageFactory, dapp_env: DappEnv, tmp_path: Path
) -> None:
    source = tmp_path / "wrong-chain.bin"
    source.write_bytes(b"x" * 10_000)
    page = open_dapp(chain_id=WRONG_CHAIN, path="#/store")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wrong-chain")).to_be_visible()
    page.get_by_test_id("store-file").set_input_files(str(source))
    page.get_by_test_id("store-encode").click()
    expect(page.get_by_test_id("store-error")).to_contain_text("switch to Scatter dev network first")
    expect(page.get_by_test_id("store-total")).to_have_count(0)
    assert signing_requests(page) == []


@pytest.mark.parametrize(
    ("locked", "words"),
    [
        ("unauthorized", "Your wallet is locked or has not connected this site"),  # code 4100
        ("empty", "Your wallet is locked: unlock it, then connect again"),  # eth_requestAccounts -> []
    ],
)
def test_a_locked_wallet_gets_a_plain_message_and_nothing_is_sent(
    open_dapp: PageFactory, dapp_env: DappEnv, locked: Locked, words: str
) -> None:
    cid = dapp_env.public_content(30_000)
    before = _chain_state(dapp_env)
    page = open_dapp(locked=locked, path="#/pin")
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("wallet-message")).to_contain_text(words)
    expect(page.get_by_test_id("connect")).to_be_visible()
    expect(page.get_by_test_id("wallet-account")).to_have_count(0)
    _quote_and_sign_without_connecting(page, dapp_env, cid)
    expect(page.get_by_test_id("pin-error")).to_contain_text("Connect your wallet first")
    assert signing_requests(page) == []
    assert _chain_state(dapp_env) == before


def test_a_wallet_locked_while_connected_disconnects_the_page_and_nothing_is_sent(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    cid = dapp_env.public_content(30_000)
    before = _chain_state(dapp_env)
    page = open_dapp(path="#/pin")
    quote_pin(page, dapp_env, cid, replicas=1, hours=1)
    page.evaluate("window.__wallet.lock()")
    expect(page.get_by_test_id("wallet-message")).to_contain_text("disconnected this site, or it is locked")
    expect(page.get_by_test_id("wallet-account")).to_have_count(0)
    page.get_by_test_id("pin-sign").click()
    expect(page.get_by_test_id("pin-error")).to_contain_text("Connect your wallet first")
    assert signing_requests(page) == []
    assert _chain_state(dapp_env) == before


def test_a_rejected_key_request_on_the_store_page_leaves_nothing_behind(
    open_dapp: PageFactory, dapp_env: DappEnv, tmp_path: Path
) -> None:
    """The first signature the Store page asks for is the key request: refusing it must come
    before the bid, or a paid bid would be left with no record of the file in My files."""
    source = tmp_path / "refused.bin"
    source.write_bytes(b"y" * 20_000)
    before = _chain_state(dapp_env)
    page = open_dapp(path="#/store")
    quote_store(page, source)
    page.evaluate("window.__wallet.reject = true")
    page.get_by_test_id("store-sign").click()
    expect(page.get_by_test_id("store-error")).to_contain_text("You rejected the request")
    assert signing_requests(page) == ["eth_signTypedData_v4"]
    assert _chain_state(dapp_env) == before


def _quote_and_sign_without_connecting(page: Any, env: DappEnv, cid: str) -> None:
    """Fill the pin form and press Sign with no connected account (the quote needs none)."""
    page.get_by_test_id("pin-cid").fill(cid)
    page.get_by_test_id("pin-origin").fill(env.origin.url)
    page.get_by_test_id("pin-replicas").fill("1")
    page.get_by_test_id("pin-check").click()
    page.get_by_test_id("pin-sign").click()
