"""Which leaves a validator asks a hoster for: derived from chain randomness, reproducible by anyone.

Challenge format version 1 (:data:`CHALLENGE_VERSION`):

- *Randomness of epoch e*: the hash of the first block whose timestamp is at or
  after the start of epoch e (``genesis + e * epochSeconds``), used only once
  that block is ``confirmations`` deep (see :mod:`~scatter.validator.beacon`).
  Nobody knows it before the epoch starts; a block hash, unlike anvil's
  constant ``prevrandao``, changes every block.
- *Seed* = ``keccak256("scatter-challenge-v1" || randomness || uint256 dealId
  || uint256 epoch || validator address)``. Mixing in the validator's address
  gives each validator its own leaves: a hoster cannot pass a quorum by keeping
  (or fetching just in time) the c leaves one challenge names, coverage grows
  with the number of validators, and the evidence stays reproducible by anyone
  who knows the validator.
- *Leaves*: ``min(c, n)`` distinct indexes in ``[0, n)`` (n = leaves of the
  shard's DAG, in DAG order): index j is ``keccak256(seed || uint32 k) mod n``
  for k = 0, 1, ... skipping repeats (sampling without replacement, so a hoster
  missing a fraction f of leaves passes with probability at most (1 - f)^c;
  a shard with n <= c leaves has all of them checked).
- *When* in the epoch: ``offset(seed)`` in [0, 1), the first 8 bytes of the seed,
  spreads the checks of many deals evenly over the check window.
"""

from __future__ import annotations

from typing import Final

from eth_utils.crypto import keccak
from web3 import Web3

CHALLENGE_VERSION: Final = 1
_SEED_TAG: Final = b"scatter-challenge-v1"


def challenge_seed(randomness: bytes, deal_id: int, epoch: int, validator: str) -> bytes:
    if len(randomness) != 32:
        raise ValueError("randomness must be a 32-byte block hash")
    return bytes(
        keccak(
            _SEED_TAG
            + randomness
            + deal_id.to_bytes(32, "big")
            + epoch.to_bytes(32, "big")
            + bytes.fromhex(Web3.to_checksum_address(validator)[2:])
        )
    )


def sample_indexes(seed: bytes, leaf_count: int, c: int) -> list[int]:
    """``min(c, leaf_count)`` distinct leaf indexes, in the order drawn."""
    if leaf_count <= 0:
        return []
    if leaf_count <= c:
        return list(range(leaf_count))
    picked: list[int] = []
    seen: set[int] = set()
    k = 0
    while len(picked) < c:
        index = int.from_bytes(keccak(seed + k.to_bytes(4, "big")), "big") % leaf_count
        k += 1
        if index not in seen:
            seen.add(index)
            picked.append(index)
    return picked


def offset(seed: bytes) -> float:
    """Where in the check window this challenge runs, in [0, 1)."""
    return int.from_bytes(seed[:8], "big") / 2**64


def pass_probability(missing_fraction: float, c: int, epochs: int = 1) -> float:
    """Upper bound of the chance that a hoster missing that fraction of leaves passes ``epochs`` checks."""
    return float((1.0 - missing_fraction) ** (c * epochs))
