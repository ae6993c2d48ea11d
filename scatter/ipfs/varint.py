"""Unsigned LEB128 varints (multiformats' unsigned-varint), encoding only.

Hand-written rather than ``multiformats.varint.encode`` because it runs for
every protobuf field and CAR section on the import hot path; decoding stays
with the readers that need stream-specific error handling.
"""

from __future__ import annotations


def uvarint(n: int) -> bytes:
    """Encode a non-negative integer as an unsigned varint."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class VarintError(ValueError):
    """A varint that runs past its buffer or beyond 64 bits."""


def read_uvarint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode the varint at ``buf[pos:end]``; returns (value, position after it)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise VarintError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise VarintError("varint longer than 64 bits")
