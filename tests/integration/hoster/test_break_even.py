"""The daemon's default bid filter: a slot paying less than its gas at the chain's gas price is not taken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scatter.chain.deployments import record_deployment
from scatter.chain.economics import break_even_price, current_gas_price
from scatter.chain.market import Market
from scatter.hoster.config import BidFilter
from scatter.hoster.daemon import HosterThread
from scatter.hoster.state import HosterState
from tests.conftest import Chain
from tests.integration.hoster.conftest import make_content, post_bid, wait_until

pytestmark = pytest.mark.integration

H = 2
GIB = 1 << 30


def test_the_default_filter_takes_a_bid_above_break_even_and_leaves_one_below(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    cheap, paying = make_content(b"c" * 1500), make_content(b"p" * 1500)
    params = Market(chain.w3, chain.deployment.market).params()
    # the gas price only falls while blocks are nearly empty: twice today's is a safe floor later
    floor = break_even_price(params, size=1500, duration=6, gas_price=2 * current_gas_price(chain.w3),
                             settle_every=2)  # fmt: skip
    price = -(-floor * 1500 // GIB)  # wei per slot-epoch paying the floor per GiB-epoch
    below = post_bid(chain, [cheap], price=price // 4)
    above = post_bid(chain, [paying], price=price)
    h = start_hoster(H, filter=BidFilter())  # the default: break_even on
    state: HosterState = h.hoster.state
    wait_until(lambda: above in {j.bid_id for j in state.jobs()}, timeout=90, what="the paying bid taken")
    wait_until(lambda: h.hoster._tick_count > 20, timeout=90, what="more full passes")
    assert below not in {j.bid_id for j in state.jobs()}


def test_quote_prints_the_break_even_price_the_filter_uses(chain: Chain, tmp_path: Path) -> None:
    record = record_deployment(chain.deployment, tmp_path / "deployments.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env["SCATTER_DEPLOYMENTS"] = str(record)
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    done = subprocess.run(
        [sys.executable, "-m", "scatter", "hoster", "quote", "--rpc-url", url, "--size", "64MiB",
         "--duration", "12 epochs", "--gas-price", "3gwei", "--batch", "20", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    params = Market(chain.w3, chain.deployment.market).params()
    expected = break_even_price(params, size=64 << 20, duration=12, gas_price=3 * 10**9, settle_every=2,
                                batch=20, block_seconds=out["block_seconds"])  # fmt: skip
    assert out["gas_price_wei"] == 3 * 10**9 and out["market"] == chain.deployment.market
    assert [s["break_even_wei_per_gib_epoch"] for s in out["slots"]] == [expected]
    human = subprocess.run(
        [sys.executable, "-m", "scatter", "hoster", "quote", "--rpc-url", url, "--size", "64MiB"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert human.returncode == 0 and "64 MiB for" in human.stdout and "break-even" in human.stdout
