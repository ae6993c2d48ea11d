"""Signed CAR uploads and attestation wire format."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account

from scatter.chain.eip712 import Attestation, sign_attestation
from scatter.errors import ScatterIntegrityError, ScatterValueError
from scatter.protocol.attestations import from_json, to_json
from scatter.protocol.upload import CarUpload, parse_hex

CLIENT_KEY = "0x" + "31" * 32
MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def upload() -> CarUpload:
    body = b"car bytes"
    return CarUpload(
        bid_id=3,
        slot=1,
        root=b"\x01\x55" + b"\x12\x20" + b"\x00" * 32,
        car_sha256=hashlib.sha256(body).digest(),
        car_size=len(body),
        expires=2_000_000_000,
    )


def test_upload_signature_recovers_to_the_client() -> None:
    sig = upload().sign(CLIENT_KEY, 31337, MARKET)
    assert upload().signer(sig, 31337, MARKET) == Account.from_key(CLIENT_KEY).address


@pytest.mark.parametrize("field", ["bid_id", "slot", "car_size", "expires"])
def test_upload_signature_is_bound_to_every_field(field: str) -> None:
    sig = upload().sign(CLIENT_KEY, 31337, MARKET)
    changed = CarUpload(**{**upload().__dict__, field: getattr(upload(), field) + 1})
    assert changed.signer(sig, 31337, MARKET) != Account.from_key(CLIENT_KEY).address
    assert upload().signer(sig, 1, MARKET) != Account.from_key(CLIENT_KEY).address


def test_upload_headers_carry_what_the_hoster_checks() -> None:
    sig = upload().sign(CLIENT_KEY, 31337, MARKET)
    headers = upload().headers(sig)
    assert parse_hex(headers["X-Scatter-Signature"], 65, "signature") == sig
    assert parse_hex(headers["X-Scatter-Car-Sha256"], 32, "sha256") == upload().car_sha256
    with pytest.raises(ScatterValueError, match="65 bytes"):
        upload().signer(b"\x00" * 10, 31337, MARKET)


def test_parse_hex_is_strict() -> None:
    with pytest.raises(ScatterValueError, match="not hex"):
        parse_hex("0xzz", 1, "x")
    with pytest.raises(ScatterValueError, match="must be 2 bytes"):
        parse_hex("0x00", 2, "x")
    with pytest.raises(ScatterValueError, match="missing x"):
        parse_hex(None, 2, "x")


def test_attestation_json_round_trip_and_tamper_detection() -> None:
    att = Attestation(deal_id=9, from_epoch=4, to_epoch=8, ok=True, evidence=b"\x05" * 32)
    signed = sign_attestation("0x" + "41" * 32, 31337, MARKET, att)
    wire = to_json(signed)
    assert from_json(wire, chain_id=31337, market=MARKET) == signed
    with pytest.raises(ScatterIntegrityError, match="signed by"):
        from_json({**wire, "toEpoch": 9}, chain_id=31337, market=MARKET)
    with pytest.raises(ScatterIntegrityError):
        from_json(wire, chain_id=1, market=MARKET)
    with pytest.raises(ScatterValueError, match="lacks"):
        from_json({k: v for k, v in wire.items() if k != "ok"}, chain_id=31337, market=MARKET)
    with pytest.raises(ScatterValueError, match="malformed"):
        from_json({**wire, "ok": "yes"}, chain_id=31337, market=MARKET)
