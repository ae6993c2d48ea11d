"""The metadata key: HKDF over a deterministic EIP-712 signature by the owner's wallet.

The owner signs one fixed typed-data message (:data:`KEY_REQUEST_TYPED_DATA`) with
``eth_signTypedData_v4``. Its domain has no ``chainId`` and no
``verifyingContract``, so the same wallet gets the same signature, hence the same
key, on every chain and from every app (SDK or dapp). The key is then::

    ikm = r || s                       (32 + 32 bytes; s normalised to the low half, v dropped)
    key = HKDF-SHA256(ikm, salt="scatter/metadata-key/v1", info="scatter/metadata-key/v1/aes-256-gcm", 32)

``v`` is dropped and ``s`` normalised because wallets differ there (27/28 vs 0/1,
high-s) while ``r`` and low ``s`` are fixed by RFC 6979 for a given key and message.
A wallet that signs with random nonces (some MPC or hardware wallets) cannot use
this scheme: :func:`derive_metadata_key` can sign twice to detect it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from scatter.formats.errors import InvalidParametersError, WrongKeyError

KEY_VERSION = 1
HKDF_SALT = b"scatter/metadata-key/v1"
HKDF_INFO = b"scatter/metadata-key/v1/aes-256-gcm"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

PURPOSE = (
    "Unlock my private Scatter files. This signature is the key to the names and "
    "content keys of my files: sign it only in a Scatter app I trust."
)

#: The exact ``eth_signTypedData_v4`` payload (JSON) that every Scatter app asks the wallet to sign.
KEY_REQUEST_TYPED_DATA: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
        ],
        "MetadataKeyRequest": [
            {"name": "purpose", "type": "string"},
            {"name": "keyVersion", "type": "uint32"},
        ],
    },
    "primaryType": "MetadataKeyRequest",
    "domain": {"name": "Scatter", "version": "1"},
    "message": {"purpose": PURPOSE, "keyVersion": KEY_VERSION},
}


def key_request_typed_data() -> dict[str, Any]:
    """A fresh copy of the typed data to sign (callers may serialise or mutate it)."""
    return copy.deepcopy(KEY_REQUEST_TYPED_DATA)


def key_request_digest() -> bytes:
    """The EIP-712 digest ``keccak256(0x1901 || domainSeparator || hashStruct(message))``."""
    signable = encode_typed_data(full_message=key_request_typed_data())
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def _split(signature: bytes) -> tuple[int, int]:
    if len(signature) != 65:
        raise InvalidParametersError(f"an Ethereum signature is 65 bytes (r, s, v), got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise InvalidParametersError("signature r or s out of range: not a secp256k1 signature")
    return r, s


def metadata_key_from_signature(signature: bytes) -> bytes:
    """The 32-byte metadata key from the wallet's 65-byte signature of the key request."""
    r, s = _split(signature)
    if s > SECP256K1_N // 2:
        s = SECP256K1_N - s
    ikm = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO).derive(ikm)


def recover_signer(signature: bytes) -> str:
    """The checksummed address that signed the key request (for checking a wallet's answer)."""
    _split(signature)
    return str(
        Account.recover_message(encode_typed_data(full_message=key_request_typed_data()), signature=signature)
    )


def sign_key_request(account: LocalAccount) -> bytes:
    """Sign the key request with a local account (the SDK's path; the dapp uses the wallet)."""
    return bytes(account.sign_typed_data(full_message=key_request_typed_data()).signature)


def derive_metadata_key(
    sign: Callable[[dict[str, Any]], bytes], address: str, *, check_deterministic: bool = False
) -> bytes:
    """Ask ``sign`` (a wallet) to sign the key request, check who signed, derive the key.

    With ``check_deterministic`` the request is signed twice; a wallet that returns
    two different signatures cannot hold a stable key and is refused.
    """
    signature = bytes(sign(key_request_typed_data()))
    signer = recover_signer(signature)
    if signer.lower() != address.lower():
        raise WrongKeyError(
            f"the key request was signed by {signer}, not by the owner {address}; switch accounts"
        )
    if check_deterministic:
        again = bytes(sign(key_request_typed_data()))
        if metadata_key_from_signature(again) != metadata_key_from_signature(signature):
            raise InvalidParametersError(
                "this wallet's signatures are not deterministic (RFC 6979), so it cannot derive a stable "
                "metadata key; use a wallet that signs deterministically"
            )
    return metadata_key_from_signature(signature)


def metadata_key_for_account(account: LocalAccount) -> bytes:
    """The metadata key of a local account."""
    return metadata_key_from_signature(sign_key_request(account))
