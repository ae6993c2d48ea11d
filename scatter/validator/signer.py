"""Sign attestations fast: the EIP-712 domain separator and type hash are computed once.

:func:`scatter.chain.eip712.sign_attestation` re-encodes the whole typed-data
message for every signature (milliseconds each); a validator signs one
attestation per deal per epoch, so this module hashes the 5-field struct by
hand (``keccak(0x1901 || domainSeparator || keccak(typeHash || fields))``) and
signs the digest with eth-keys. Tests pin it to :func:`scatter.chain.eip712.digest`
and to the Market's ``attestationDigest`` view.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak
from web3 import Web3

from scatter.chain.eip712 import DOMAIN_NAME, DOMAIN_VERSION, Attestation, SignedAttestation

_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_ATTESTATION_TYPEHASH = keccak(
    b"Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)"
)


def domain_separator(chain_id: int, market: str) -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(Web3.to_checksum_address(market)[2:])
    )


class AttestationSigner:
    """Signs :class:`Attestation` for one account, one chain and one Market. Never prints the key."""

    def __init__(self, account: LocalAccount, chain_id: int, market: str) -> None:
        self._key = PrivateKey(bytes(account.key))
        self.address = str(account.address)
        self.chain_id = chain_id
        self.market = Web3.to_checksum_address(market)
        self._prefix = b"\x19\x01" + domain_separator(chain_id, self.market)

    def __repr__(self) -> str:
        return f"AttestationSigner({self.address}, chain {self.chain_id}, market {self.market})"

    def digest(self, att: Attestation) -> bytes:
        struct = keccak(
            _ATTESTATION_TYPEHASH
            + att.deal_id.to_bytes(32, "big")
            + att.from_epoch.to_bytes(32, "big")
            + att.to_epoch.to_bytes(32, "big")
            + (b"\x00" * 31 + (b"\x01" if att.ok else b"\x00"))
            + att.evidence
        )
        return bytes(keccak(self._prefix + struct))

    def sign(self, att: Attestation) -> SignedAttestation:
        sig = self._key.sign_msg_hash(self.digest(att))
        return SignedAttestation(
            attestation=att,
            signer=self.address,
            v=sig.v + 27,
            r=sig.r.to_bytes(32, "big"),
            s=sig.s.to_bytes(32, "big"),
        )
