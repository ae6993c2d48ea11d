"""Wire format of validators' attestations and the validator's publishing API.

A validator serves, on its registered endpoint:

- ``GET {API_PREFIX}/attestations/{dealId}?from=E`` → ``{"version": 1,
  "validator": "0x..", "attestations": [<attestation>...]}``: every attestation
  it signed for the deal whose range ends at or after epoch E.
- ``POST {API_PREFIX}/attestations/{dealId}/range`` with ``{"fromEpoch": a,
  "toEpoch": b}`` → one ``<attestation>`` with ok = true covering [a, b], signed
  only if the validator recorded an ``ok`` verdict for every epoch of the range
  (409 with a one-line reason otherwise). This is how a hoster gets one
  signature per validator for a whole settlement range.

``<attestation>`` is ``{"dealId": int, "fromEpoch": int, "toEpoch": int, "ok":
bool, "evidence": "0x<32 bytes>", "signer": "0x<address>", "signature":
"0x<65 bytes r||s||v>"}``. Receivers verify the signature against the Market's
EIP-712 domain (:mod:`scatter.chain.eip712`) before trusting ``signer``.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from scatter.chain.eip712 import Attestation, SignedAttestation, recover_signer
from scatter.errors import ScatterIntegrityError, ScatterValueError
from scatter.protocol import API_PREFIX
from scatter.protocol.upload import parse_hex

WIRE_VERSION = 1


def attestations_path(deal_id: int) -> str:
    return f"{API_PREFIX}/attestations/{deal_id}"


def range_path(deal_id: int) -> str:
    return f"{API_PREFIX}/attestations/{deal_id}/range"


def to_json(signed: SignedAttestation) -> dict[str, Any]:
    att = signed.attestation
    return {
        "dealId": att.deal_id,
        "fromEpoch": att.from_epoch,
        "toEpoch": att.to_epoch,
        "ok": att.ok,
        "evidence": "0x" + att.evidence.hex(),
        "signer": signed.signer,
        "signature": "0x" + (signed.r + signed.s + bytes([signed.v])).hex(),
    }


def from_json(data: Any, *, chain_id: int, market: str) -> SignedAttestation:
    """Parse and verify one attestation; the signature must recover to ``signer``."""
    if not isinstance(data, dict):
        raise ScatterValueError("attestation must be a JSON object")
    try:
        att = Attestation(
            deal_id=_int(data["dealId"]),
            from_epoch=_int(data["fromEpoch"]),
            to_epoch=_int(data["toEpoch"]),
            ok=_bool(data["ok"]),
            evidence=parse_hex(data["evidence"], 32, "evidence"),
        )
        sig = parse_hex(data["signature"], 65, "signature")
        signer = Web3.to_checksum_address(data["signer"])
    except KeyError as exc:
        raise ScatterValueError(f"attestation lacks {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise ScatterValueError(f"malformed attestation: {exc}") from None
    signed = SignedAttestation(attestation=att, signer=signer, v=sig[64], r=sig[:32], s=sig[32:64])
    try:
        recovered = recover_signer(chain_id, market, signed)
    except Exception as exc:  # eth-keys raises several types for bad signatures
        raise ScatterIntegrityError(f"attestation signature does not verify: {exc}") from exc
    if recovered != signer:
        raise ScatterIntegrityError(f"attestation claims signer {signer} but was signed by {recovered}")
    return signed


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value
