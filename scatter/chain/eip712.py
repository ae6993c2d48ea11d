"""EIP-712 attestations: what validators sign and the Market verifies.

The domain binds every signature to one chain id and one Market address, and
the message to one deal and one epoch range, so a signature cannot be
replayed across deals, epochs, chains or deployments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

DOMAIN_NAME = "Scatter Market"
DOMAIN_VERSION = "2"

ATTESTATION_TYPES: dict[str, list[dict[str, str]]] = {
    "Attestation": [
        {"name": "dealId", "type": "uint256"},
        {"name": "fromEpoch", "type": "uint32"},
        {"name": "toEpoch", "type": "uint32"},
        {"name": "ok", "type": "bool"},
        {"name": "evidence", "type": "bytes32"},
    ]
}


@dataclass(frozen=True)
class Attestation:
    """A validator's verdict on epochs [from_epoch, to_epoch] of a deal."""

    deal_id: int
    from_epoch: int
    to_epoch: int
    ok: bool
    evidence: bytes = b"\x00" * 32

    def __post_init__(self) -> None:
        if len(self.evidence) != 32:
            raise ValueError("evidence must be a 32-byte digest")
        if not 0 <= self.from_epoch <= self.to_epoch < 2**32:
            raise ValueError(f"invalid epoch range {self.from_epoch}..{self.to_epoch}")


@dataclass(frozen=True)
class SignedAttestation:
    attestation: Attestation
    signer: str
    v: int
    r: bytes
    s: bytes

    def as_contract_tuple(self) -> tuple[bytes, int, bytes, bytes]:
        """The ``IMarket.Signature`` struct: (evidence, v, r, s)."""
        return (self.attestation.evidence, self.v, self.r, self.s)


def contract_typed_data(
    domain: tuple[str, str],
    chain_id: int,
    contract: str,
    types: dict[str, list[dict[str, str]]],
    primary: str,
    message: dict[str, Any],
) -> dict[str, Any]:
    """An ``eth_signTypedData_v4`` message whose domain (name, version) is bound to a chain and contract."""
    name, version = domain
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **types,
        },
        "primaryType": primary,
        "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": contract},
        "message": message,
    }


def typed_data(chain_id: int, market: str, att: Attestation) -> dict[str, Any]:
    """The full EIP-712 message (as ``eth_signTypedData_v4`` takes it)."""
    message = {
        "dealId": att.deal_id,
        "fromEpoch": att.from_epoch,
        "toEpoch": att.to_epoch,
        "ok": att.ok,
        "evidence": att.evidence,
    }
    domain = (DOMAIN_NAME, DOMAIN_VERSION)
    return contract_typed_data(domain, chain_id, market, ATTESTATION_TYPES, "Attestation", message)


def digest(chain_id: int, market: str, att: Attestation) -> bytes:
    """The 32-byte EIP-712 digest (equals ``Market.attestationDigest``)."""
    from eth_utils.crypto import keccak

    signable = encode_typed_data(full_message=typed_data(chain_id, market, att))
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def sign_attestation(
    private_key: bytes | str, chain_id: int, market: str, att: Attestation
) -> SignedAttestation:
    """Sign ``att`` for the Market at ``market`` on ``chain_id``."""
    signed = Account.sign_typed_data(private_key, full_message=typed_data(chain_id, market, att))
    signer = Account.from_key(private_key).address
    return SignedAttestation(
        attestation=att,
        signer=signer,
        v=signed.v,
        r=signed.r.to_bytes(32, "big"),
        s=signed.s.to_bytes(32, "big"),
    )


def recover_signer(chain_id: int, market: str, signed: SignedAttestation) -> str:
    """The address that produced ``signed`` (for checks before submitting)."""
    message = encode_typed_data(full_message=typed_data(chain_id, market, signed.attestation))
    vrs = (signed.v, int.from_bytes(signed.r, "big"), int.from_bytes(signed.s, "big"))
    return str(Account.recover_message(message, vrs=vrs))


def quorum_tuples(signed: list[SignedAttestation]) -> list[tuple[bytes, int, bytes, bytes]]:
    """Signatures ordered by signer address ascending, as the Market requires."""
    ordered = sorted(signed, key=lambda s: int(s.signer, 16))
    return [s.as_contract_tuple() for s in ordered]


# ------------------------------------------------------------ ExtendDeal (T7)

EXTEND_DEAL_TYPES: dict[str, list[dict[str, str]]] = {
    "ExtendDeal": [
        {"name": "dealId", "type": "uint256"},
        {"name": "extraEpochs", "type": "uint32"},
        {"name": "endEpoch", "type": "uint32"},
    ]
}


@dataclass(frozen=True)
class ExtendDeal:
    """A hoster's consent to extend its live deal by ``extra_epochs`` past ``end_epoch`` (its
    current end: a signature is void once the deal was extended, so it cannot be replayed)."""

    deal_id: int
    extra_epochs: int
    end_epoch: int

    def typed_data(self, chain_id: int, market: str) -> dict[str, Any]:
        message = {"dealId": self.deal_id, "extraEpochs": self.extra_epochs, "endEpoch": self.end_epoch}
        domain = (DOMAIN_NAME, DOMAIN_VERSION)
        return contract_typed_data(domain, chain_id, market, EXTEND_DEAL_TYPES, "ExtendDeal", message)

    def digest(self, chain_id: int, market: str) -> bytes:
        from eth_utils.crypto import keccak

        signable = encode_typed_data(full_message=self.typed_data(chain_id, market))
        return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))

    def sign(self, private_key: bytes | str, chain_id: int, market: str) -> bytes:
        """The 65-byte signature (r || s || v) ``extendDeal`` takes."""
        signed = Account.sign_typed_data(private_key, full_message=self.typed_data(chain_id, market))
        return bytes(signed.signature)
