"""Every page: served at / by the web node, keyboard-reachable, labelled, usable on a narrow screen and
in the dark theme, and talking to no host but the chain RPC, the hosters' endpoints and the origins
the user typed (no fonts, CDNs or analytics)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.dapp.conftest import DappEnv, PageFactory, screenshot

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

PAGES = {"market": "Market", "pin": "Pin a CID", "store": "Store a private file", "files": "My files",
         "operators": "Operators"}  # fmt: skip


def test_the_web_node_serves_the_dapp_beside_its_api(dapp_env: DappEnv) -> None:
    page = httpx.get(dapp_env.url + "/", timeout=30)
    assert page.status_code == 200 and "<title>Scatter</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    deployment = httpx.get(dapp_env.url + "/deployment.json", timeout=30).json()
    chain = deployment["chains"][str(dapp_env.chain_id)]
    assert deployment["default"] == dapp_env.chain_id
    assert chain["market"] == dapp_env.net.deployment.market  # type: ignore[union-attr]
    assert chain["rpcUrl"] == dapp_env.rpc_url
    # the API, the health check and unknown paths are not shadowed by the dapp
    assert httpx.get(dapp_env.url + "/healthz", timeout=30).json()["ok"] is True
    assert httpx.get(dapp_env.url + "/api/status", timeout=30).status_code == 200
    assert httpx.get(dapp_env.url + "/nope", timeout=30).status_code == 404


def _tab_to(page: Any, text: str, limit: int = 40) -> None:
    """Press Tab until the focused element's text is ``text`` (the page works from the keyboard)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == text:
            return
    raise AssertionError(f"{text!r} is not reachable with Tab")


NAV = {"market": "Market", "pin": "Pin a CID", "store": "Store a file", "files": "My files",
       "operators": "Operators"}  # fmt: skip


def test_every_page_by_keyboard_with_labels_and_screenshots(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    page = open_dapp()
    for name, title in PAGES.items():
        page.goto(f"{dapp_env.url}/")  # focus starts at the top of the document
        expect(page.get_by_test_id("hoster-count")).to_have_text("3")
        _tab_to(page, NAV[name])
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator(f'#nav a[href="#/{name}"]')).to_have_attribute("aria-current", "page")
        # every form control has a label a screen reader reads
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('main input, main select')]
                 .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                 .map((el) => el.name)"""
        )
        assert unlabelled == [], f"{name}: unlabelled {unlabelled}"
        screenshot(page, f"page-{name}")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_a_narrow_screen_does_not_scroll_sideways(open_dapp: PageFactory, dark: bool) -> None:
    page = open_dapp(width=375, dark=dark)
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("hoster-count")).to_have_text("3")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(17, 19, 24)") == dark
    screenshot(page, f"narrow-{'dark' if dark else 'light'}")


def test_the_dapp_talks_only_to_the_chain_hosters_and_typed_origins(
    open_dapp: PageFactory, dapp_env: DappEnv
) -> None:
    """Every request every browser context of this session made (all the tests before this one,
    and a visit of each page here) went to an allowed host."""
    page = open_dapp(path="#/pin")
    page.get_by_test_id("connect").click()
    page.get_by_test_id("pin-cid").fill(dapp_env.public_content(1000))
    page.get_by_test_id("pin-origin").fill(dapp_env.origin.url)
    page.get_by_test_id("pin-check").click()
    expect(page.get_by_test_id("pin-root")).to_be_visible()
    for name in PAGES:
        page.goto(f"{dapp_env.url}/#/{name}")
        expect(page.locator("h1")).to_have_text(PAGES[name])
    page.goto(f"{dapp_env.url}/#/market")
    expect(page.get_by_test_id("hoster-count")).to_have_text("3")
    # the hosters' and validators' /healthz were asked from the browser
    expect(page.locator(".health.ok")).to_have_count(6)
    allowed = dapp_env.allowed_hosts()
    seen = {urlsplit(u).netloc for u in dapp_env.requests if not u.startswith("data:")}
    assert seen, "no request was recorded"
    assert seen <= allowed, f"requests to {sorted(seen - allowed)}"
    assert urlsplit(dapp_env.rpc_url).netloc in seen and urlsplit(dapp_env.origin.url).netloc in seen
