"""Collecting validators' signed attestations for a settlement range.

The happy path is one ``POST .../range`` per validator for the whole range of
unpaid epochs. When that does not give a quorum (an epoch before the content
was pinned, a validator that missed a check), the published per-epoch verdicts
(``GET ...?from=E``) tell which range a quorum can sign: :func:`plan_range`.
Every signature is verified against the Market's EIP-712 domain and must come
from the validator it was asked of.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from eth_keys.datatypes import Signature
from eth_utils.crypto import keccak
from web3 import Web3

from scatter.chain.eip712 import DOMAIN_NAME, DOMAIN_VERSION, Attestation, SignedAttestation
from scatter.errors import ScatterError, ScatterIntegrityError, ScatterValueError
from scatter.protocol.attestations import (
    MAX_BATCH_RANGES,
    RANGES_PATH,
    attestations_path,
    range_path,
    range_request,
)
from scatter.protocol.upload import parse_hex

_DOMAIN_TYPE = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_ATTESTATION_TYPEHASH = bytes(
    keccak(b"Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)")
)
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@dataclass(frozen=True)
class BatchAnswer:
    """One validator's answer to a batch of ranges: deal id -> its signature of the range asked,
    and, for a range it refused, deal id -> the last epoch of the range's ok prefix it reported
    (a claim, not a signature: only a signature of the prefix counts)."""

    signed: dict[int, SignedAttestation]
    ok_through: dict[int, int]


def domain_separator(chain_id: int, market: str) -> bytes:
    """The Market's EIP-712 domain separator (as ``scatter.chain.eip712`` defines the domain)."""
    return bytes(
        keccak(
            keccak(_DOMAIN_TYPE)
            + keccak(DOMAIN_NAME.encode())
            + keccak(DOMAIN_VERSION.encode())
            + chain_id.to_bytes(32, "big")
            + bytes(12)
            + bytes.fromhex(Web3.to_checksum_address(market)[2:])
        )
    )


def attestation_digest(domain: bytes, att: Attestation) -> bytes:
    struct = keccak(
        _ATTESTATION_TYPEHASH
        + att.deal_id.to_bytes(32, "big")
        + att.from_epoch.to_bytes(32, "big")
        + att.to_epoch.to_bytes(32, "big")
        + int(att.ok).to_bytes(32, "big")
        + att.evidence
    )
    return bytes(keccak(b"\x19\x01" + domain + struct))


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScatterValueError(f"expected an integer, got {value!r}")
    return value


def parse_verified(data: object, domain: bytes) -> SignedAttestation:
    """Parse one ``<attestation>`` (``scatter.protocol.attestations``) and verify its signature.

    The fast path of ``attestations.from_json``: the digest from a precomputed domain
    separator, the signer recovered with eth-keys (libsecp256k1); a high ``s`` or a
    bad ``v`` (which the Market would refuse) is refused here.
    """
    if not isinstance(data, dict):
        raise ScatterValueError("attestation must be a JSON object")
    try:
        ok = data["ok"]
        if not isinstance(ok, bool):
            raise ScatterValueError("ok must be true or false")
        att = Attestation(_int(data["dealId"]), _int(data["fromEpoch"]), _int(data["toEpoch"]), ok,
                          parse_hex(data["evidence"], 32, "evidence"))  # fmt: skip
        sig = parse_hex(data["signature"], 65, "signature")
        claimed_raw = parse_hex(data["signer"], 20, "signer")
    except KeyError as exc:
        raise ScatterValueError(f"attestation lacks {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise ScatterValueError(f"malformed attestation: {exc}") from None
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    if v not in (27, 28) or not 0 < s <= _HALF_N or r == 0:
        raise ScatterIntegrityError("attestation signature is malformed or malleable")
    try:
        public = Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(
            attestation_digest(domain, att)
        )
    except Exception as exc:  # eth-keys raises several types for bad signatures
        raise ScatterIntegrityError(f"attestation signature does not verify: {exc}") from None
    if public.to_canonical_address() != claimed_raw:
        raise ScatterIntegrityError(
            f"attestation claims signer 0x{claimed_raw.hex()} but was signed by another key"
        )
    signer = Web3.to_checksum_address(claimed_raw)
    return SignedAttestation(attestation=att, signer=signer, v=v, r=sig[:32], s=sig[32:64])


@dataclass(frozen=True)
class Validator:
    address: str
    endpoint: str


@dataclass(frozen=True)
class RangePlan:
    from_epoch: int
    to_epoch: int
    signers: list[str]


def plan_range(
    next_unpaid: int, last: int, verdicts: dict[str, dict[int, bool]], quorum: int
) -> RangePlan | None:
    """The earliest range starting at or after ``next_unpaid`` that ``quorum`` validators all found ok.

    Returns the longest such range from its first epoch, or None when no epoch up to ``last`` has a quorum.
    """
    for a in range(next_unpaid, last + 1):
        ok_at_a = [v for v, epochs in verdicts.items() if epochs.get(a)]
        if len(ok_at_a) < quorum:
            continue
        b = a
        while b < last:
            nxt = [v for v in ok_at_a if verdicts[v].get(b + 1)]
            if len(nxt) < quorum:
                break
            ok_at_a = nxt
            b += 1
        return RangePlan(a, b, sorted(ok_at_a))
    return None


def decided(epochs: range, verdicts: dict[str, dict[int, bool]], quorum: int) -> bool:
    """Whether at least ``quorum`` validators published a verdict for each epoch of ``epochs``."""
    return all(sum(1 for v in verdicts.values() if e in v) >= quorum for e in epochs)


def _ok_range_answer(
    signed: SignedAttestation, v: Validator, deal_id: int, a: int, b: int
) -> SignedAttestation:
    """``signed`` if it is ``v``'s ok attestation of exactly [a, b] of the deal, else ScatterError."""
    att = signed.attestation
    if signed.signer.lower() != v.address.lower():
        raise ScatterError(f"signed by {signed.signer}, not by the validator asked")
    if (att.deal_id, att.from_epoch, att.to_epoch, att.ok) != (deal_id, a, b, True):
        raise ScatterError("attestation is not for the range asked")
    return signed


class AttestationCollector:
    def __init__(self, chain_id: int, market: str, client: httpx.AsyncClient) -> None:
        self.chain_id = chain_id
        self.market = market
        self.client = client
        self.domain = domain_separator(chain_id, market)

    async def range_signatures(
        self, deal_id: int, from_epoch: int, to_epoch: int, validators: Sequence[Validator]
    ) -> tuple[list[SignedAttestation], list[str]]:
        """Ask each validator to sign ok for [from, to]; returns (valid signatures, one-line failures)."""
        results = await asyncio.gather(
            *(self._one_range(deal_id, from_epoch, to_epoch, v) for v in validators), return_exceptions=True
        )
        sigs: list[SignedAttestation] = []
        errors: list[str] = []
        for v, res in zip(validators, results, strict=True):
            if isinstance(res, SignedAttestation):
                sigs.append(res)
            else:
                errors.append(
                    f"{v.address[:10]}: {str(res).splitlines()[0] if str(res) else type(res).__name__}"
                )
        return sigs, errors

    async def batch_range_signatures(
        self, v: Validator, ranges: Sequence[tuple[int, int, int]]
    ) -> BatchAnswer | None:
        """Ask ``v`` to sign ok for every ``(dealId, from, to)`` in batched requests.

        Returns the verified signatures of the ranges it signed (a refused range is simply
        absent) and, for a refused range, the end of its ok prefix when the validator says
        (``okThrough``), or None when the validator has no batch route (404/405: an older
        version; ask it per deal). Any other failure raises ScatterError.
        """
        out: dict[int, SignedAttestation] = {}
        reach: dict[int, int] = {}
        for start in range(0, len(ranges), MAX_BATCH_RANGES):
            chunk = ranges[start : start + MAX_BATCH_RANGES]
            resp = await self.client.post(v.endpoint.rstrip("/") + RANGES_PATH, json=range_request(chunk))
            if resp.status_code in (404, 405):
                return None
            if resp.status_code != 200:
                raise ScatterError(f"{resp.status_code} {resp.text.strip()[:120]}")
            body = resp.json()
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list) or len(results) != len(chunk):
                raise ScatterError("malformed batch answer: results do not match the ranges asked")
            for (deal_id, a, b), item in zip(chunk, results, strict=True):
                if not isinstance(item, dict):
                    continue
                if "error" in item:
                    x = item.get("okThrough")
                    if isinstance(x, int) and not isinstance(x, bool) and a <= x < b:
                        reach[deal_id] = x
                    continue
                try:
                    out[deal_id] = _ok_range_answer(parse_verified(item, self.domain), v, deal_id, a, b)
                except ScatterError:
                    continue  # a bad answer for one range does not spoil the others
        return BatchAnswer(out, reach)

    async def _one_range(self, deal_id: int, a: int, b: int, v: Validator) -> SignedAttestation:
        resp = await self.client.post(v.endpoint.rstrip("/") + range_path(deal_id),
                                      json={"fromEpoch": a, "toEpoch": b})  # fmt: skip
        if resp.status_code != 200:
            raise ScatterError(f"{resp.status_code} {resp.text.strip()[:120]}")
        return _ok_range_answer(parse_verified(resp.json(), self.domain), v, deal_id, a, b)

    async def verdicts(
        self, deal_id: int, from_epoch: int, validators: Sequence[Validator]
    ) -> dict[str, dict[int, bool]]:
        """Per validator (that answered), epoch → ok from its published attestations."""
        results = await asyncio.gather(
            *(self._one_verdicts(deal_id, from_epoch, v) for v in validators), return_exceptions=True
        )
        return {v.address: r for v, r in zip(validators, results, strict=True) if isinstance(r, dict)}

    async def _one_verdicts(self, deal_id: int, from_epoch: int, v: Validator) -> dict[int, bool]:
        resp = await self.client.get(v.endpoint.rstrip("/") + attestations_path(deal_id),
                                     params={"from": from_epoch})  # fmt: skip
        if resp.status_code != 200:
            raise ScatterError(f"{resp.status_code}")
        body = resp.json()
        out: dict[int, bool] = {}
        for item in body.get("attestations", []) if isinstance(body, dict) else []:
            try:
                signed = parse_verified(item, self.domain)
            except ScatterError:
                continue
            att = signed.attestation
            if signed.signer.lower() != v.address.lower() or att.deal_id != deal_id:
                continue
            for e in range(max(att.from_epoch, from_epoch), att.to_epoch + 1):
                out[e] = att.ok and out.get(e, True)
        return out
