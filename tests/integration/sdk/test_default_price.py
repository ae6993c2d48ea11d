"""The default price from the command line: shown with its total before the bid is posted, and a
given price below the hosters' break-even posted with a warning line (not refused)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scatter.chain.anvil import Anvil
from scatter.chain.deployments import record_deployment
from scatter.chain.market import Role
from scatter.chain.params import ETHER
from scatter.client import Scatter
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes
from scatter.sdk.pricing import CollateralWarning, PriceWarning
from scatter.sdk.units import DEFAULT_PRICE_PER_GIB_EPOCH, format_eth, slot_price
from tests.conftest import Chain

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]
SIZE = 40_000


@pytest.fixture()
def origin(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(gateway URL, CID) of SIZE random bytes served over HTTP on loopback."""
    store = EmbeddedBlockStore(tmp_path / "origin", durable=False)
    root, blocks = import_bytes(os.urandom(SIZE), cid_version=1)
    for block in blocks:
        store.put(block)
    store.pin(root)
    with GatewayServer(create_gateway_app(store)) as server:
        yield server.url, str(root)


@pytest.fixture()
def run(chain: Chain, anvil: Anvil, tmp_path: Path) -> Run:
    record = record_deployment(chain.deployment, tmp_path / "deployments.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env.update(SCATTER_RPC_URL=anvil.url, SCATTER_DEPLOYMENTS=str(record))

    def scatter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scatter", *args, "--dev-account", "1"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return scatter


def _join_hosters(chain: Chain, count: int, stake: int = ETHER) -> None:
    for i in range(count):
        chain.market(10 + i).join(Role.HOSTER, f"http://127.0.0.1:{i + 1}", 1 << 30, stake)


def test_a_default_priced_pin_shows_its_price_and_escrow_before_posting(
    run: Run, sdk: Scatter, chain: Chain, origin: tuple[str, str]
) -> None:
    url, cid = origin
    _join_hosters(chain, 3)  # with the stake to lock its collateral: no warning
    done = run("pin", cid, "--origin", url, "--duration", "1h")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    said = " ".join(done.stderr.split())  # the console wraps long lines
    bid = sdk.market.get_bid(1)
    assert (
        f"posting a bid for {cid}: 3 replicas for 60 epochs at {bid.price_per_epoch} wei/slot/epoch "
        f"(default: 2x the hosters' break-even at" in said
    )
    assert f"escrow {format_eth(bid.escrow)}" in said
    assert bid.price_per_epoch > slot_price(DEFAULT_PRICE_PER_GIB_EPOCH, SIZE)  # not the old 1 gwei


def test_a_given_price_below_break_even_is_posted_with_a_warning_line(
    run: Run, sdk: Scatter, chain: Chain, origin: tuple[str, str]
) -> None:
    url, cid = origin
    _join_hosters(chain, 3)
    done = run("pin", cid, "--origin", url, "--duration", "1h", "--price", "1gwei", "--json")
    assert done.returncode == 0, done.stderr
    [warning] = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert "below the hosters' break-even" in warning
    result = json.loads(done.stdout)  # the document is alone on stdout, and complete
    assert result["price_per_epoch_wei"] == slot_price(10**9, SIZE) == sdk.market.get_bid(1).price_per_epoch
    assert result["escrow_wei"] == result["price_per_epoch_wei"] * 3 * result["duration_epochs"]


def test_the_sdk_warns_too(sdk: Scatter, chain: Chain, origin: tuple[str, str]) -> None:
    url, cid = origin
    _join_hosters(chain, 3)
    with pytest.warns(PriceWarning, match="below the hosters' break-even"):
        sdk.pin(cid, origins=[url], duration="1h", price="1gwei")


def test_a_bid_whose_collateral_no_hoster_can_lock_warns(
    sdk: Scatter, chain: Chain, origin: tuple[str, str]
) -> None:
    url, cid = origin
    with pytest.warns(CollateralWarning, match="no hoster is registered on this market yet"):
        sdk.pin(cid, origins=[url], duration="1h")  # not "shorten the duration": nothing would help
    _join_hosters(chain, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollateralWarning)
        sdk.pin(cid, origins=[url], duration="1h")  # a slot locks well under 1 ETH
    # 30 days of 60-second epochs pay ~1 G gas of settlements a slot: more than 1 ETH of collateral
    with pytest.warns(CollateralWarning, match=r"only 0 of 3 hosters have that much free"):
        res = sdk.pin(cid, origins=[url], duration="30d")
    bid = sdk.market.get_bid(res.bid_id)
    assert sdk.params.collateral(bid.price_per_epoch, bid.duration_epochs) > ETHER
