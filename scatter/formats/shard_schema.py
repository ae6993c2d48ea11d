"""On-disk layout of an erasure-coded shard, version 1 (``SCSH`` v1).

::

    shard  = header | block_0 | block_1 | ... | block_{s-1}
    header = magic "SCSH" | version u8 = 1 | codec u8 | k u16be | n u16be | index u16be
             | block_size u32be | ciphertext_length u64be | file_id[16]          (40 bytes)

The ciphertext (length L) is cut into stripes of ``k * block_size`` bytes; the
last, shorter stripe (if ``L`` is not a multiple) uses blocks of
``ceil(tail / k)`` bytes, zero-padded, so padding is under ``k`` bytes. Stripe
``s`` is split into k data blocks, the codec turns them into n blocks, and shard
``i`` stores block i of every stripe. ``file_id`` is the first 16 bytes of the
SHA-256 of the first stripe's ciphertext (the first ``min(L, k*block_size)``
bytes): it tells shards of different files apart, and decoders check it.

Everything in the layout follows from the header, and the codecs are
deterministic, so anyone holding k shards rebuilds any other shard byte for
byte (hence with the same CID) without the key.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scatter.formats.errors import (
    FormatError,
    InvalidParametersError,
    TruncatedError,
    UnsupportedVersionError,
)
from scatter.formats.params import Codec, ErasureParams

MAGIC = b"SCSH"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
FILE_ID_SIZE = 16

_HEADER = struct.Struct(">4sBBHHHIQ16s")
HEADER_SIZE = _HEADER.size  # 40


@dataclass(frozen=True, slots=True)
class ShardHeader:
    """The public parameters at the start of every shard."""

    codec: Codec
    k: int
    n: int
    index: int
    block_size: int
    ciphertext_length: int
    file_id: bytes
    version: int = VERSION

    def __post_init__(self) -> None:
        # Validates k, n, block size and codec the same way as the encoder's parameters.
        self.params()
        if not 0 <= self.index < self.n:
            raise FormatError(f"shard header: index {self.index} out of range for n={self.n}")
        if len(self.file_id) != FILE_ID_SIZE:
            raise FormatError("shard header: file id must be 16 bytes")

    def params(self) -> ErasureParams:
        return ErasureParams(k=self.k, n=self.n, block_size=self.block_size, codec=self.codec)

    def family(self) -> tuple[int, int, int, int, int, int, bytes]:
        """Everything but the index: equal for all shards of one encoding of one file."""
        return (
            self.version,
            self.codec,
            self.k,
            self.n,
            self.block_size,
            self.ciphertext_length,
            self.file_id,
        )

    def pack(self) -> bytes:
        return _HEADER.pack(
            MAGIC,
            self.version,
            self.codec,
            self.k,
            self.n,
            self.index,
            self.block_size,
            self.ciphertext_length,
            self.file_id,
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> ShardHeader:
        if len(data) < 5 or bytes(data[:4]) != MAGIC:
            raise FormatError("not a Scatter shard (magic is not 'SCSH'); check the file or CID")
        if data[4] not in SUPPORTED_VERSIONS:
            raise UnsupportedVersionError("shard format", data[4], SUPPORTED_VERSIONS)
        if len(data) < HEADER_SIZE:
            raise TruncatedError(
                f"shard header truncated: {len(data)} of {HEADER_SIZE} bytes; fetch the shard again"
            )
        _, version, codec, k, n, index, block_size, length, file_id = _HEADER.unpack_from(data)
        try:
            codec_id = Codec(codec)
        except ValueError:
            raise UnsupportedVersionError("erasure codec", codec, tuple(int(c) for c in Codec)) from None
        try:
            return cls(
                codec=codec_id,
                k=k,
                n=n,
                index=index,
                block_size=block_size,
                ciphertext_length=length,
                file_id=file_id,
                version=version,
            )
        except InvalidParametersError as exc:
            raise FormatError(f"shard header: {exc}; the shard is damaged") from None


@dataclass(frozen=True, slots=True)
class StripeLayout:
    """The stripes of a ciphertext: fully determined by (k, block_size, ciphertext_length)."""

    k: int
    block_size: int
    ciphertext_length: int

    @property
    def stripe_size(self) -> int:
        return self.k * self.block_size

    @property
    def full_stripes(self) -> int:
        return self.ciphertext_length // self.stripe_size

    @property
    def tail_length(self) -> int:
        """Ciphertext bytes in the final short stripe (0 if none)."""
        return self.ciphertext_length % self.stripe_size

    @property
    def tail_block_size(self) -> int:
        return -(-self.tail_length // self.k)

    @property
    def stripe_count(self) -> int:
        return self.full_stripes + (1 if self.tail_length else 0)

    @property
    def shard_length(self) -> int:
        """Total bytes of each shard, header included."""
        return HEADER_SIZE + self.full_stripes * self.block_size + self.tail_block_size

    def data_spans(self, offset: int, length: int) -> list[tuple[int, int, int]]:
        """Where ciphertext bytes ``[offset, offset+length)`` lie in the data shards.

        Returns ``(shard index, offset in the shard including its header, length)``
        pieces in order; data shards (0..k-1) of a systematic code hold the
        ciphertext itself, so a ranged download needs no decoding when they are up.
        """
        if offset < 0 or length < 0 or offset + length > self.ciphertext_length:
            raise FormatError(
                f"range {offset}+{length} outside the ciphertext of {self.ciphertext_length} bytes"
            )
        spans: list[tuple[int, int, int]] = []
        pos, end = offset, offset + length
        full_bytes = self.full_stripes * self.stripe_size
        while pos < end:
            if pos < full_bytes:
                s, within = divmod(pos, self.stripe_size)
                block, stripe_base = self.block_size, HEADER_SIZE + s * self.block_size
            else:
                s, within = self.full_stripes, pos - full_bytes
                block, stripe_base = self.tail_block_size, HEADER_SIZE + self.full_stripes * self.block_size
            j, in_block = divmod(within, block)
            take = min(block - in_block, end - pos)
            spans.append((j, stripe_base + in_block, take))
            pos += take
        return spans

    def stripe(self, s: int) -> tuple[int, int]:
        """(block size, ciphertext bytes) of stripe ``s``."""
        if s < self.full_stripes:
            return self.block_size, self.stripe_size
        return self.tail_block_size, self.tail_length
