"""Constants of the possession tree, format version 2 (docs/trust.md, "Possession tree").

A shard of ``size`` bytes is cut into ``ceil(size / SEGMENT)`` segments (the last
zero-padded); ``H(x) = keccak256(x)[:NODE]``; leaves are ``H(segment)``, nodes
``H(left || right)``; padding leaves up to ``2**depth`` are the zero segment. The
root travels as ``ROOT_SIZE`` bytes: the node followed by zero bytes. A proof
starts with the cap (the ``2**min(CAP_LEVELS, depth)`` nodes under the root),
then answers ``CHALLENGES`` segment indices, each as the segment and its siblings
up to the cap.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = 2
#: Bytes per segment (leaf input).
SEGMENT: Final = 128
#: Bytes kept of each keccak256 digest (leaf and inner node).
NODE: Final = 20
#: A root as stored on chain: ``bytes32(bytes20 node)``.
ROOT_SIZE: Final = 32
#: Segments challenged per proof.
CHALLENGES: Final = 5
#: Levels under the root sent once per proof (the cap), at most the depth.
CAP_LEVELS: Final = 3
#: ``abi.encode(bytes32 seed, uint256 j)`` is 64 bytes; the seed is 32.
SEED_SIZE: Final = 32
