"""Hostile uploads are refused without harming other deals; public pins are fetched, verified."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scatter.hoster.daemon import HosterThread
from scatter.ipfs.cid import cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.hoster_api import PinStatus, deal_path
from scatter.protocol.upload import CarUpload, upload_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    CLIENT,
    Content,
    make_content,
    post_bid,
    signed_upload,
    wait_until,
)

pytestmark = pytest.mark.integration


def _deal_for(h: HosterThread, bid_id: int) -> int:
    deal = wait_until(lambda: next((d for d in h.hoster.state.deals() if d.bid_id == bid_id), None),
                      what=f"accept of bid {bid_id}")  # fmt: skip
    return deal.deal_id


def _pinned(h: HosterThread, deal_id: int) -> bool:
    return PinStatus.from_json(httpx.get(h.url + deal_path(deal_id)).json()).pinned


def test_hostile_uploads_are_rejected_and_other_deals_are_unharmed(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(2, upload_idle_timeout=1.0)
    good = make_content(b"the real shard " * 30_000)
    other = make_content(b"another deal's shard " * 20_000)
    bid_a = post_bid(chain, [good.cid_bytes], size=len(good.data))
    bid_b = post_bid(chain, [other.cid_bytes], size=len(other.data))
    deal_a, deal_b = _deal_for(h, bid_a), _deal_for(h, bid_b)
    assert signed_upload(chain, h.url, deal_b, other).status_code == 200

    # A CAR of other content under a signature for the slot's CID: the root check refuses it.
    wrong = make_content(b"not the shard the client bid for")
    assert signed_upload(chain, h.url, deal_a, wrong, root=good.cid_bytes).status_code == 400
    # The right CAR for another deal's CID (signed for that CID): the signature does not verify.
    assert signed_upload(chain, h.url, deal_a, other).status_code == 403
    # Signed by someone who is not the bid's client.
    assert signed_upload(chain, h.url, deal_a, good, signer=9).status_code == 403
    # Expired signature.
    assert signed_upload(chain, h.url, deal_a, good, expires_in=-10).status_code == 403
    # Oversized: more than the slot's size allows.
    huge = make_content(os.urandom(len(good.data) * 2))
    assert signed_upload(chain, h.url, deal_a, good, body=huge.car).status_code == 413
    # A tampered block inside the CAR (same length, signed as such): verification refuses it.
    tampered = bytearray(good.car)
    tampered[-100] ^= 0xFF
    assert signed_upload(chain, h.url, deal_a, good, body=bytes(tampered)).status_code == 400
    # Not a deal of this hoster.
    assert signed_upload(chain, h.url, 999, good).status_code == 404
    # A slow sender: sends the headers and a few bytes, then stalls past the idle timeout.
    upload = CarUpload(deal_a, good.cid_bytes, hashlib.sha256(good.car).digest(), len(good.car),
                       int(time.time()) + 600)  # fmt: skip
    sig = upload.sign(chain.account(CLIENT).key, chain.deployment.chain_id, chain.deployment.market)
    port = int(h.url.rsplit(":", 1)[1])
    head = "".join(f"{k}: {v}\r\n" for k, v in upload.headers(sig).items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"PUT {upload_path(deal_a)} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + good.car[:100])
        # Meanwhile the other deal is served normally.
        assert _pinned(h, deal_b)
        assert httpx.get(f"{h.url}/ipfs/{cid_str(other.cid)}", params={"format": "raw"}).status_code == 200
        reply = s.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408")
    assert not _pinned(h, deal_a)
    assert not any(p == good.cid for p in h.hoster.store.pins())

    # The honest upload still goes through afterwards.
    assert signed_upload(chain, h.url, deal_a, good).status_code == 200
    assert _pinned(h, deal_a) and _pinned(h, deal_b)
    assert h.hoster.metrics.uploads.labels("rejected")._value.get() >= 7


def test_public_pin_is_fetched_from_the_bid_origins_and_verified(
    chain: Chain, start_hoster: Callable[..., HosterThread], tmp_path: Path
) -> None:
    content: Content = make_content(b"a public file " * 30_000)
    origin_store = EmbeddedBlockStore(tmp_path / "origin")
    import io

    origin_store.import_car(io.BytesIO(content.car))
    with GatewayServer(create_gateway_app(origin_store)) as origin:
        h = start_hoster(2)
        bid_id = post_bid(chain, [content.cid_bytes], size=len(content.data), slots=2,
                          origins=[f"{origin.url}/ipfs/{cid_str(content.cid)}"])  # fmt: skip
        deal_id = _deal_for(h, bid_id)
        wait_until(lambda: _pinned(h, deal_id), what="the fetch from the origin")
    # Served from the hoster's own store (the origin is gone).
    raw = httpx.get(f"{h.url}/ipfs/{cid_str(content.cid)}", params={"format": "car"})
    assert raw.status_code == 200
    origin_store.close()
