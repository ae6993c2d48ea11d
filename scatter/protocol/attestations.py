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
- ``POST {API_PREFIX}/attestations/ranges`` (:data:`RANGES_PATH`) with
  ``{"ranges": [{"dealId": d, "fromEpoch": a, "toEpoch": b}, ...]}`` (1 to
  :data:`MAX_BATCH_RANGES` items, built by :func:`range_request`) → ``{"version":
  1, "validator": "0x..", "results": [...]}``: one result per requested range,
  in order, either the ``<attestation>`` the single ``.../range`` route would
  return for it or ``{"dealId": d, "fromEpoch": a, "toEpoch": b, "error": "<one
  line>"}`` where that route would refuse it (409) or the range is invalid.
  The validator signs a batch in one transaction per 5,000 epochs of
  verdicts (one for any ordinary batch). A malformed body
  (not JSON, no list, too many items, a non-integer field, over 64 KiB) → 400
  with a one-line reason; ``GET`` → 405. This is how a hoster with many deals
  asks each validator once per batch instead of once per deal.

``<attestation>`` is ``{"dealId": int, "fromEpoch": int, "toEpoch": int, "ok":
bool, "evidence": "0x<32 bytes>", "signer": "0x<address>", "signature":
"0x<65 bytes r||s||v>"}``. Receivers verify the signature against the Market's
EIP-712 domain (:mod:`scatter.chain.eip712`) before trusting ``signer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from web3 import Web3

from scatter.chain.eip712 import Attestation, SignedAttestation, recover_signer
from scatter.errors import ScatterIntegrityError, ScatterValueError
from scatter.protocol import API_PREFIX
from scatter.protocol.upload import parse_hex

WIRE_VERSION = 1

RANGES_PATH: Final = f"{API_PREFIX}/attestations/ranges"
"""Where a batch of ranges is asked for (``POST``)."""

MAX_BATCH_RANGES: Final = 256
"""Most ranges one batch may ask for; a hoster with more sends several batches."""


def attestations_path(deal_id: int) -> str:
    return f"{API_PREFIX}/attestations/{deal_id}"


def range_path(deal_id: int) -> str:
    return f"{API_PREFIX}/attestations/{deal_id}/range"


def range_request(ranges: Sequence[tuple[int, int, int]]) -> dict[str, Any]:
    """The body of ``POST`` :data:`RANGES_PATH` asking for each ``(dealId, fromEpoch, toEpoch)``."""
    if not 1 <= len(ranges) <= MAX_BATCH_RANGES:
        raise ScatterValueError(
            f"a batch asks for 1 to {MAX_BATCH_RANGES} ranges, not {len(ranges)}: split it into batches"
        )
    return {"ranges": [{"dealId": d, "fromEpoch": a, "toEpoch": b} for d, a, b in ranges]}


def parse_range_request(data: Any) -> list[tuple[int, int, int]]:
    """The ``(dealId, fromEpoch, toEpoch)`` of a :func:`range_request` body; one-line error if malformed.

    Only the shape is checked here: whether a range is valid and signable is the ledger's answer,
    given per range in the response.
    """
    items = data.get("ranges") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ScatterValueError('body must be {"ranges": [{"dealId": d, "fromEpoch": a, "toEpoch": b}, ...]}')
    if not 1 <= len(items) <= MAX_BATCH_RANGES:
        raise ScatterValueError(f"ranges must hold 1 to {MAX_BATCH_RANGES} items, not {len(items)}")
    ranges = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ScatterValueError(f"ranges[{i}] must be an object")
        fields = []
        for key in ("dealId", "fromEpoch", "toEpoch"):
            value = item.get(key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScatterValueError(f"ranges[{i}].{key} must be an integer")
            fields.append(value)
        ranges.append((fields[0], fields[1], fields[2]))
    return ranges


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
