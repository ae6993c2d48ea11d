"""Tunable parameters of the client-side formats (erasure code and encryption).

These are configuration, not constants: the CLI and SDK take them from options
(``--shards 3/6``) and the environment (``SCATTER_SHARDS``, ``SCATTER_SEGMENT_SIZE``,
``SCATTER_BLOCK_SIZE``). What a given file used is recorded in its headers, so
reading never depends on the defaults here.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass

from scatter.formats.errors import InvalidParametersError

KIB = 1024
MIB = 1024 * KIB

#: Defaults (Tahoe-LAFS style ``shares.needed`` / ``shares.total``).
DEFAULT_K = 3
DEFAULT_N = 6
DEFAULT_SEGMENT_SIZE = 1 * MIB
DEFAULT_BLOCK_SIZE = 1 * MIB
#: With ``block_size=AUTO`` a stripe's n blocks take at most this much memory.
AUTO_STRIPE_BUDGET = 32 * MIB
AUTO = 0

MIN_SEGMENT_SIZE = 4 * KIB
MAX_SEGMENT_SIZE = 64 * MIB
MIN_BLOCK_SIZE = 64
MAX_BLOCK_SIZE = 64 * MIB
MAX_SHARDS = 256  # zfec works over GF(2^8)


class Codec(enum.IntEnum):
    """Erasure codec id, as written in every shard header."""

    #: Systematic Reed-Solomon over GF(2^8) as implemented by zfec (Tahoe-LAFS's codec).
    ZFEC = 1
    #: n identical copies of the ciphertext (k must be 1).
    REPLICATION = 2


@dataclass(frozen=True, slots=True)
class ErasureParams:
    """k-of-n erasure parameters: any ``k`` of the ``n`` shards rebuild the file.

    ``block_size`` is the number of bytes each shard gets per stripe (a stripe is
    ``k * block_size`` bytes of ciphertext); it bounds memory, not the layout's
    correctness, and is recorded in each shard header. ``AUTO`` (the default)
    picks :func:`auto_block_size`: 1 MiB up to n = 32, smaller for wider codes.
    """

    k: int = DEFAULT_K
    n: int = DEFAULT_N
    block_size: int = AUTO
    codec: Codec = Codec.ZFEC

    def __post_init__(self) -> None:
        if self.block_size == AUTO:
            object.__setattr__(self, "block_size", auto_block_size(self.n))
        if not 1 <= self.k <= self.n <= MAX_SHARDS:
            raise InvalidParametersError(
                f"invalid shards {self.k}/{self.n}: need 1 <= k <= n <= {MAX_SHARDS}, e.g. --shards 3/6"
            )
        if not MIN_BLOCK_SIZE <= self.block_size <= MAX_BLOCK_SIZE:
            raise InvalidParametersError(
                f"invalid block size {self.block_size}: use {MIN_BLOCK_SIZE}..{MAX_BLOCK_SIZE} bytes"
            )
        if self.codec is Codec.REPLICATION and self.k != 1:
            raise InvalidParametersError(
                f"replication stores whole copies, so k must be 1 (got {self.k}/{self.n}); "
                f"use --shards 1/{self.n}"
            )

    @classmethod
    def replication(cls, copies: int, *, block_size: int = AUTO) -> ErasureParams:
        """Plain replication: ``copies`` identical copies of the ciphertext."""
        return cls(k=1, n=copies, block_size=block_size, codec=Codec.REPLICATION)

    @property
    def stripe_size(self) -> int:
        """Ciphertext bytes per full stripe."""
        return self.k * self.block_size

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


_SHARDS_RE = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")


def auto_block_size(n: int) -> int:
    """1 MiB, halved until n blocks fit in :data:`AUTO_STRIPE_BUDGET` (never under 64 KiB)."""
    size = DEFAULT_BLOCK_SIZE
    while size > 64 * KIB and n * size > AUTO_STRIPE_BUDGET:
        size //= 2
    return size


def parse_shards(text: str, *, block_size: int = AUTO) -> ErasureParams:
    """Parse ``"k/n"`` (``"3/6"``); ``"1/n"`` means n plain copies (replication)."""
    match = _SHARDS_RE.match(text)
    if match is None:
        raise InvalidParametersError(f"invalid shards {text!r}: write k/n, e.g. 3/6 (or 1/3 for 3 copies)")
    k, n = int(match.group(1)), int(match.group(2))
    if k == 1:
        return ErasureParams.replication(n, block_size=block_size)
    return ErasureParams(k=k, n=n, block_size=block_size)


def check_segment_size(segment_size: int) -> int:
    """Validate an encryption segment size and return it."""
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise InvalidParametersError(
            f"invalid segment size {segment_size}: use {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE} bytes"
        )
    return segment_size


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParametersError(f"{name}={raw!r} is not an integer number of bytes") from None


def erasure_from_env(shards: str | None = None) -> ErasureParams:
    """Erasure parameters from ``shards`` or ``SCATTER_SHARDS``, ``SCATTER_BLOCK_SIZE``, else defaults."""
    block = _env_int("SCATTER_BLOCK_SIZE", AUTO)
    text = shards or os.environ.get("SCATTER_SHARDS") or f"{DEFAULT_K}/{DEFAULT_N}"
    return parse_shards(text, block_size=block)


def segment_size_from_env() -> int:
    """Encryption segment size from ``SCATTER_SEGMENT_SIZE``, else the default."""
    return check_segment_size(_env_int("SCATTER_SEGMENT_SIZE", DEFAULT_SEGMENT_SIZE))
