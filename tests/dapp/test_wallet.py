"""The wallet in the dapp: connect, no wallet, a locked wallet, a rejected request, the wrong chain."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dapp.conftest import DappEnv, PageFactory, screenshot

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

WRONG_CHAIN = 1  # Ethereum mainnet: Scatter is not deployed there in the dev summary


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


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
    page = open_dapp(locked=True)
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
