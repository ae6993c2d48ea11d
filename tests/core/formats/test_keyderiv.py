"""Metadata key: EIP-712 request, deterministic signature, HKDF; vectors checked by second routes."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from scatter.formats import keyderiv
from scatter.formats.errors import InvalidParametersError, WrongKeyError

VECTOR = json.loads((Path(__file__).parents[2] / "testdata/formats/metadata_key_v1.json").read_text())
ACCOUNT = Account.from_key(VECTOR["private_key"])


def test_typed_data_is_the_documented_one_and_chain_independent() -> None:
    typed = keyderiv.key_request_typed_data()
    assert typed == VECTOR["typed_data"]
    assert "chainId" not in typed["domain"] and "verifyingContract" not in typed["domain"]
    assert [f["name"] for f in typed["types"]["EIP712Domain"]] == ["name", "version"]


def test_eip712_digest_by_hand() -> None:
    """hashStruct computed from the EIP-712 definition with keccak only."""

    def type_hash(sig: str) -> bytes:
        return bytes(keccak(sig.encode()))

    domain = type_hash("EIP712Domain(string name,string version)") + keccak(b"Scatter") + keccak(b"1")
    message = (
        type_hash("MetadataKeyRequest(string purpose,uint32 keyVersion)")
        + keccak(keyderiv.PURPOSE.encode())
        + (1).to_bytes(32, "big")
    )
    digest = keccak(b"\x19\x01" + keccak(domain) + keccak(message))
    assert digest.hex() == VECTOR["eip712_digest"] == keyderiv.key_request_digest().hex()


def test_signature_is_deterministic_and_recovers_to_the_owner() -> None:
    signature = keyderiv.sign_key_request(ACCOUNT)
    assert signature.hex() == VECTOR["signature"]
    assert keyderiv.sign_key_request(ACCOUNT) == signature
    recovered = Account.recover_message(
        encode_typed_data(full_message=VECTOR["typed_data"]), signature=signature
    )
    assert recovered == VECTOR["address"] == ACCOUNT.address
    assert keyderiv.recover_signer(signature) == ACCOUNT.address


def test_derived_key_matches_vector_and_a_hand_written_hkdf() -> None:
    signature = bytes.fromhex(VECTOR["signature"])
    prk = hmac.new(b"scatter/metadata-key/v1", signature[:64], hashlib.sha256).digest()
    okm = hmac.new(prk, b"scatter/metadata-key/v1/aes-256-gcm\x01", hashlib.sha256).digest()
    assert keyderiv.metadata_key_from_signature(signature).hex() == VECTOR["metadata_key"] == okm.hex()
    assert keyderiv.metadata_key_for_account(ACCOUNT).hex() == VECTOR["metadata_key"]


def test_wallet_encodings_of_the_same_signature_give_the_same_key() -> None:
    signature = bytes.fromhex(VECTOR["signature"])
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    high_s = r + (keyderiv.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    v01 = signature[:64] + bytes([v - 27])
    key = keyderiv.metadata_key_from_signature(signature)
    assert keyderiv.metadata_key_from_signature(high_s) == key
    assert keyderiv.metadata_key_from_signature(v01) == key


def test_other_wallets_get_other_keys() -> None:
    other = Account.from_key("0x" + "22" * 32)
    assert keyderiv.metadata_key_for_account(other) != keyderiv.metadata_key_for_account(ACCOUNT)


def test_derive_checks_the_signer_and_determinism() -> None:
    def wallet(typed: dict[str, object]) -> bytes:
        return bytes(ACCOUNT.sign_typed_data(full_message=typed).signature)

    key = keyderiv.derive_metadata_key(wallet, ACCOUNT.address, check_deterministic=True)
    assert key.hex() == VECTOR["metadata_key"]
    with pytest.raises(WrongKeyError, match="switch accounts"):
        keyderiv.derive_metadata_key(wallet, "0x" + "11" * 20)

    nonces = ec.derive_private_key(int(VECTOR["private_key"], 16), ec.SECP256K1())
    digest = keyderiv.key_request_digest()

    def randomized_wallet(typed: dict[str, object]) -> bytes:
        """A wallet that signs with a random nonce (no RFC 6979): valid, but a new signature each time."""
        r, s = decode_dss_signature(nonces.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        for v in (27, 28):
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
            if keyderiv.recover_signer(sig) == ACCOUNT.address:
                return sig
        raise AssertionError("no recovery id matches")

    assert keyderiv.derive_metadata_key(randomized_wallet, ACCOUNT.address) != key
    with pytest.raises(InvalidParametersError, match="not deterministic"):
        keyderiv.derive_metadata_key(randomized_wallet, ACCOUNT.address, check_deterministic=True)


def test_malformed_signatures_are_refused() -> None:
    with pytest.raises(InvalidParametersError, match="65 bytes"):
        keyderiv.metadata_key_from_signature(b"\x01" * 64)
    with pytest.raises(InvalidParametersError, match="out of range"):
        keyderiv.metadata_key_from_signature(bytes(64) + b"\x1b")
