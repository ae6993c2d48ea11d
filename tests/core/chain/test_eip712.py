"""EIP-712 attestation signing in Python, independent of any node."""

from __future__ import annotations

import pytest
from eth_account import Account

from scatter.chain.eip712 import Attestation, digest, quorum_tuples, recover_signer, sign_attestation

KEY_A = "0x" + "11" * 32
KEY_B = "0x" + "22" * 32
MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_signature_recovers_to_signer() -> None:
    att = Attestation(deal_id=7, from_epoch=3, to_epoch=12, ok=True, evidence=b"\x01" * 32)
    signed = sign_attestation(KEY_A, 31337, MARKET, att)
    assert signed.signer == Account.from_key(KEY_A).address
    assert recover_signer(31337, MARKET, signed) == signed.signer


@pytest.mark.parametrize(
    "other",
    [
        {"chain_id": 1},
        {"market": "0x" + "ab" * 20},
        {"att": Attestation(deal_id=8, from_epoch=3, to_epoch=12, ok=True, evidence=b"\x01" * 32)},
        {"att": Attestation(deal_id=7, from_epoch=4, to_epoch=12, ok=True, evidence=b"\x01" * 32)},
        {"att": Attestation(deal_id=7, from_epoch=3, to_epoch=12, ok=False, evidence=b"\x01" * 32)},
    ],
)
def test_digest_binds_chain_contract_deal_range_and_verdict(other: dict[str, object]) -> None:
    base = {
        "chain_id": 31337,
        "market": MARKET,
        "att": Attestation(deal_id=7, from_epoch=3, to_epoch=12, ok=True, evidence=b"\x01" * 32),
    }
    changed = {**base, **other}
    assert digest(**base) != digest(**changed)  # type: ignore[arg-type]


def test_quorum_tuples_are_sorted_by_signer() -> None:
    att = Attestation(deal_id=1, from_epoch=1, to_epoch=1, ok=True)
    a = sign_attestation(KEY_A, 31337, MARKET, att)
    b = sign_attestation(KEY_B, 31337, MARKET, att)
    ordered = sorted([a, b], key=lambda s: int(s.signer, 16))
    assert quorum_tuples([b, a]) == [s.as_contract_tuple() for s in ordered]


@pytest.mark.parametrize(("start", "end"), [(5, 4), (-1, 2), (0, 2**32)])
def test_attestation_rejects_bad_epoch_range(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="epoch range"):
        Attestation(deal_id=1, from_epoch=start, to_epoch=end, ok=True)


def test_attestation_rejects_short_evidence() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        Attestation(deal_id=1, from_epoch=1, to_epoch=1, ok=True, evidence=b"\x00")
