"""Pinning a public CID (Market version 3): the SDK reads the content once from the origin,
verified against the CID, and the bid commits to its exact size and possession root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scatter.client import Scatter
from scatter.errors import ScatterConnectionError, ScatterValueError
from scatter.formats.possession import possession_root
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes

pytestmark = pytest.mark.integration


@dataclass
class Origin:
    url: str
    store: EmbeddedBlockStore

    def add(self, data: bytes) -> str:
        root, blocks = import_bytes(data, cid_version=1)
        for block in blocks:
            self.store.put(block)
        self.store.pin(root)
        return str(root)


@pytest.fixture()
def origin(tmp_path: Path) -> Iterator[Origin]:
    store = EmbeddedBlockStore(tmp_path / "origin", durable=False)
    with GatewayServer(create_gateway_app(store)) as server:
        yield Origin(server.url, store)


def test_pin_posts_the_contents_exact_size_and_possession_root(sdk: Scatter, origin: Origin) -> None:
    data = os.urandom(700_000)  # several leaf blocks: the root is over the file's bytes, not its DAG
    cid = origin.add(data)
    res = sdk.pin(cid, replicas=2, duration="1h", origins=[origin.url])
    bid = sdk.market.get_bid(res.bid_id)
    assert (bid.slot_count, bid.size, res.size) == (2, len(data), len(data))
    assert res.root == "0x" + possession_root(data).hex()
    info = sdk.bid_info(res.bid_id)
    assert info.roots == (res.root,) and info.origins == (origin.url,)
    assert sdk.market.slot_root(res.bid_id, 1) == possession_root(data)


def test_pin_refuses_a_wrong_size_and_needs_an_origin_before_posting(sdk: Scatter, origin: Origin) -> None:
    cid = origin.add(os.urandom(50_000))
    with pytest.raises(ScatterValueError, match="is 50000 bytes, not 49999"):
        sdk.pin(cid, origins=[origin.url], size=49_999)
    with pytest.raises(ScatterValueError, match="give an origin gateway"):
        sdk.pin(cid)
    assert sdk.market.bid_count() == 0


def test_pin_from_a_lying_origin_posts_nothing(sdk: Scatter, origin: Origin) -> None:
    cid = origin.add(os.urandom(300_000))
    for f in (origin.store.path / "blocks").rglob("*.data"):
        raw = bytearray(f.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        f.write_bytes(bytes(raw))
    with pytest.raises(ScatterConnectionError, match=f"could not read {cid}"):
        sdk.pin(cid, origins=[origin.url])
    assert sdk.market.bid_count() == 0


def test_the_pinning_service_bids_the_sdk_default_unless_its_price_is_set(
    sdk: Scatter, origin: Origin, tmp_path: Path
) -> None:
    """A pin with no price set pays the hosters' gas as `scatter pin` does (at 1 gwei a GiB-epoch,
    the old default, hosters with the default filter skip it); a set price is used as given."""
    from scatter.sdk.pricing import price_bid
    from scatter.sdk.units import GWEI, slot_price
    from scatter.web.pinning.settings import PinSettings
    from scatter.web.pinning.worker import SdkBackend

    data = os.urandom(300_000)
    cid = origin.add(data)
    backend = SdkBackend(sdk)
    settings = PinSettings(db=tmp_path / "pins.sqlite", replicas=2, duration="1h")
    quote = backend.quote(cid, [origin.url], settings)
    expected = price_bid(sdk.w3, sdk.params, size=len(data), duration=quote.epochs, per_gib_epoch=None)
    assert quote.price_per_slot == expected.per_slot_epoch > expected.break_even > slot_price(GWEI, len(data))
    assert quote.escrow == quote.price_per_slot * 2 * quote.epochs

    cheap = backend.quote(cid, [origin.url], settings.model_copy(update={"price": GWEI}))
    assert cheap.price_per_slot == slot_price(GWEI, len(data))
