"""The pinning service's renewal against a real Market on anvil: a renewal bid commits to the same
size and possession root as the bid it renews (read from chain, not from the content), at the
price a new pin gets now, and is posted like the first."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scatter.client import Scatter
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes
from scatter.web.pinning.settings import PinSettings
from scatter.web.pinning.worker import SdkBackend

pytestmark = pytest.mark.integration


@pytest.fixture()
def origin(tmp_path: Path) -> Iterator[tuple[str, str]]:
    store = EmbeddedBlockStore(tmp_path / "origin", durable=False)
    root, blocks = import_bytes(os.urandom(300_000), cid_version=1)
    store.put_many(blocks)
    store.pin(root)
    with GatewayServer(create_gateway_app(store)) as server:
        yield server.url, str(root)


def test_a_renewal_bids_the_same_content_at_todays_price(
    sdk: Scatter, origin: tuple[str, str], tmp_path: Path
) -> None:
    url, cid = origin
    backend = SdkBackend(sdk)
    settings = PinSettings(db=tmp_path / "pins.sqlite", replicas=2, duration="1h", renew_before="10%")
    first = backend.quote(cid, [url], settings)
    first_bid = backend.post(cid, first, settings.replicas, [url])
    renewal = backend.renewal_quote(first_bid, settings)
    assert (renewal.size, renewal.root, renewal.epochs) == (first.size, first.root, first.epochs)
    assert renewal.escrow == renewal.price_per_slot * 2 * renewal.epochs
    second_bid = backend.post(cid, renewal, settings.replicas, [url])
    assert second_bid != first_bid and sdk.market.slot_root(second_bid, 0) == first.root
    assert sdk.market.get_bid(second_bid).size == first.size
    progress = backend.progress(second_bid)
    assert (progress.filled, progress.epochs_left) == (0, None)  # no live deal: nothing to renew yet
    assert backend.renew_margin(settings) == -(-first.epochs // 10)
