"""The signed CAR upload: a client pushes a shard's CAR to the hoster that reserved its slot.

Market version 3: a hoster *reserves* an open slot (``reserve(bidId, slot, ...)``)
before any collateral is locked, the client pushes the content, and the hoster
fills the slot (with a possession proof) only after checking it. So the upload
names the slot, not a deal (there is none yet):

``PUT {API_PREFIX}/bids/{bidId}/slots/{slot}/car`` with the CAR as the body and headers

- ``X-Scatter-Signature``: 0x-hex of the 65-byte EIP-712 signature by the bid's client
- ``X-Scatter-Car-Sha256``: 0x-hex sha256 of the body
- ``X-Scatter-Expires``: unix time after which the signature is void

over ``CarUpload(uint256 bidId, uint8 slot, bytes root, bytes32 carSha256, uint64
carSize, uint64 expires)`` in the domain ``{name: "Scatter Hoster", version: "2",
chainId, verifyingContract: <Market>}``. The hoster accepts the body only if the
signer is the bid's client, the slot is reserved by (or being filled by) this
hoster, ``root`` is the slot's CID, the body hashes to ``carSha256`` with
``carSize`` bytes, within the size limit, and the signature has not expired. It
then checks the DAG against the slot's exact size and possession root before it
keeps anything (:mod:`scatter.hoster.content`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from scatter.chain.eip712 import contract_typed_data
from scatter.errors import ScatterValueError
from scatter.protocol import API_PREFIX

DOMAIN_NAME = "Scatter Hoster"
DOMAIN_VERSION = "2"
SIGNATURE_HEADER = "X-Scatter-Signature"
SHA256_HEADER = "X-Scatter-Car-Sha256"
EXPIRES_HEADER = "X-Scatter-Expires"

CAR_UPLOAD_TYPES: dict[str, list[dict[str, str]]] = {
    "CarUpload": [
        {"name": "bidId", "type": "uint256"},
        {"name": "slot", "type": "uint8"},
        {"name": "root", "type": "bytes"},
        {"name": "carSha256", "type": "bytes32"},
        {"name": "carSize", "type": "uint64"},
        {"name": "expires", "type": "uint64"},
    ]
}


def upload_path(bid_id: int, slot: int) -> str:
    return f"{API_PREFIX}/bids/{bid_id}/slots/{slot}/car"


@dataclass(frozen=True)
class CarUpload:
    bid_id: int
    slot: int
    root: bytes  # binary CID of the shard (the slot's CID)
    car_sha256: bytes
    car_size: int
    expires: int

    def typed_data(self, chain_id: int, market: str) -> dict[str, Any]:
        message = {
            "bidId": self.bid_id,
            "slot": self.slot,
            "root": self.root,
            "carSha256": self.car_sha256,
            "carSize": self.car_size,
            "expires": self.expires,
        }
        domain = (DOMAIN_NAME, DOMAIN_VERSION)
        return contract_typed_data(domain, chain_id, market, CAR_UPLOAD_TYPES, "CarUpload", message)

    def sign(self, private_key: bytes | str, chain_id: int, market: str) -> bytes:
        signed = Account.sign_typed_data(private_key, full_message=self.typed_data(chain_id, market))
        return bytes(signed.signature)

    def signer(self, signature: bytes, chain_id: int, market: str) -> str:
        """The address that signed, or a ScatterValueError for a malformed signature."""
        if len(signature) != 65:
            raise ScatterValueError("upload signature must be 65 bytes")
        message = encode_typed_data(full_message=self.typed_data(chain_id, market))
        try:
            return str(Account.recover_message(message, signature=signature))
        except Exception as exc:  # eth-keys raises several types for bad signatures
            raise ScatterValueError(f"invalid upload signature: {exc}") from exc

    def headers(self, signature: bytes) -> dict[str, str]:
        return {
            SIGNATURE_HEADER: "0x" + signature.hex(),
            SHA256_HEADER: "0x" + self.car_sha256.hex(),
            EXPIRES_HEADER: str(self.expires),
            "Content-Type": "application/vnd.ipld.car",
            "Content-Length": str(self.car_size),
        }


def parse_hex(value: str | None, length: int, what: str) -> bytes:
    """Strict 0x-hex of exactly ``length`` bytes."""
    if value is None:
        raise ScatterValueError(f"missing {what}")
    text = value[2:] if value.startswith("0x") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ScatterValueError(f"{what} is not hex") from None
    if len(raw) != length:
        raise ScatterValueError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw
