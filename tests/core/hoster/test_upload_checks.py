"""Checks made on an upload before its body is read, and on the body."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator

import pytest
from multiformats import CID, multihash
from starlette.datastructures import Headers

from scatter.chain import wallet
from scatter.hoster.content import UploadContext, UploadRejected, car_limit, check_upload_headers, spool_body
from scatter.ipfs.cid import cid_bytes, cid_str
from scatter.protocol.hoster_api import SlotStatus
from scatter.protocol.upload import CarUpload

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ROOT = CID("base32", 1, "raw", multihash.digest(b"shard", "sha2-256"))
CLIENT = wallet.dev_account(1)
CTX = UploadContext(7, 2, cid_str(ROOT), 1000, CLIENT.address, 31337, MARKET)
NOW = 1_000_000


def _headers(
    body: bytes, *, key: bytes = CLIENT.key, bid: int = 7, slot: int = 2, expires: int = NOW + 60
) -> dict[str, str]:
    up = CarUpload(bid, slot, cid_bytes(ROOT), hashlib.sha256(body).digest(), len(body), expires)
    return {k.lower(): v for k, v in up.headers(up.sign(key, 31337, MARKET)).items()}


def test_a_valid_signature_by_the_client_passes() -> None:
    upload = check_upload_headers(Headers(_headers(b"x" * 10)), CTX, now=NOW)
    assert upload.car_size == 10 and (upload.bid_id, upload.slot) == (7, 2)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (_headers(b"x", key=wallet.dev_account(2).key), 403),  # not the bid's client
        (_headers(b"x", bid=8), 403),  # signed for another bid
        (_headers(b"x", slot=1), 403),  # signed for another slot of the bid
        (_headers(b"x", expires=NOW - 1), 403),  # expired
        (_headers(b"x" * (car_limit(1000) + 1)), 413),  # too big for the slot
        ({**_headers(b"x"), "x-scatter-signature": "0x12"}, 400),  # malformed
        ({k: v for k, v in _headers(b"x").items() if k != "content-length"}, 400),  # no length
    ],
)
def test_bad_uploads_are_refused_before_the_body(headers: dict[str, str], status: int) -> None:
    with pytest.raises(UploadRejected) as exc:
        check_upload_headers(Headers(headers), CTX, now=NOW)
    assert exc.value.status == status


async def _chunks(parts: list[bytes], pause: float = 0.0) -> AsyncIterator[bytes]:
    for p in parts:
        await asyncio.sleep(pause)
        yield p


def _spool(parts: list[bytes], signed: bytes, pause: float = 0.0, idle: float = 5.0) -> bytes:
    up = CarUpload(7, 2, cid_bytes(ROOT), hashlib.sha256(signed).digest(), len(signed), NOW)
    out = io.BytesIO()
    asyncio.run(spool_body(_chunks(parts, pause), up, out, idle_timeout=idle, total_timeout=10))
    return out.getvalue()


def test_body_must_match_the_signed_length_and_hash() -> None:
    assert _spool([b"ab", b"cd"], b"abcd") == b"abcd"
    for parts, status in (([b"abcde"], 413), ([b"abc"], 400), ([b"abce"], 400)):
        with pytest.raises(UploadRejected) as exc:
            _spool(parts, b"abcd")
        assert exc.value.status == status


def test_a_stalled_body_is_cut() -> None:
    with pytest.raises(UploadRejected) as exc:
        _spool([b"ab", b"cd"], b"abcd", pause=0.3, idle=0.1)
    assert exc.value.status == 408


def test_slot_status_wire_format_round_trips() -> None:
    for s in (SlotStatus(3, 1, cid_str(ROOT), "filled", True, 42, 9, None),
              SlotStatus(3, 0, cid_str(ROOT), "reserved", False, 0, None, 1_700_000_000)):  # fmt: skip
        assert SlotStatus.from_json(s.to_json()) == s
        assert s.to_json()["version"] == 2
