"""On-disk layout of the streaming AEAD, version 1 (``SCEA`` v1).

::

    header   = magic "SCEA" | version u8 = 1 | algorithm u8 = 1 | segment_size u32be
               | salt[16] | key_check[16]                                   (42 bytes)
    segment  = AES-256-GCM(segment_key, nonce(i, last), plaintext_i, aad=header)
               = ciphertext_i | tag[16]
    file     = header | segment_0 | ... | segment_{m-1}

Every segment but the last carries exactly ``segment_size`` plaintext bytes; the
last carries 1..segment_size bytes (0 only for an empty file, which still has
one segment), so the segment count is ``max(1, ceil(P / segment_size))``.

Key schedule (HKDF-SHA256, RFC 5869, from the 32-byte per-file content key)::

    segment_key = HKDF(ikm=content_key, salt=salt, info="scatter/aead/v1/segment-key", 32)
    key_check   = HKDF(ikm=content_key, salt=salt, info="scatter/aead/v1/key-check", 16)
    nonce(i, last) = i as 11 bytes big-endian | (0x01 if last else 0x00)

This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizar 2015) as
used by Tink's AES-GCM-HKDF streaming AEAD: the segment index in the nonce stops
reordering, the last flag stops truncation and extension, the per-file salt
(hence per-file subkey) stops swapping segments between files, and the header as
associated data of every segment stops header tampering.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scatter.formats.errors import FormatError, InvalidParametersError, UnsupportedVersionError
from scatter.formats.params import MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE

MAGIC = b"SCEA"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
ALG_AES256GCM_HKDF_SHA256 = 1

SALT_SIZE = 16
KEY_CHECK_SIZE = 16
TAG_SIZE = 16
NONCE_SIZE = 12
KEY_SIZE = 32
INDEX_BYTES = 11
MAX_SEGMENTS = 1 << 64

INFO_SEGMENT_KEY = b"scatter/aead/v1/segment-key"
INFO_KEY_CHECK = b"scatter/aead/v1/key-check"

_HEADER = struct.Struct(">4sBBI16s16s")
HEADER_SIZE = _HEADER.size  # 42


@dataclass(frozen=True, slots=True)
class AeadHeader:
    """The fixed header at the start of every encrypted file."""

    segment_size: int
    salt: bytes
    key_check: bytes
    version: int = VERSION
    algorithm: int = ALG_AES256GCM_HKDF_SHA256

    def __post_init__(self) -> None:
        if not MIN_SEGMENT_SIZE <= self.segment_size <= MAX_SEGMENT_SIZE:
            raise InvalidParametersError(
                f"invalid segment size {self.segment_size}: use {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE} bytes"
            )
        if len(self.salt) != SALT_SIZE or len(self.key_check) != KEY_CHECK_SIZE:
            raise FormatError("encryption header: salt and key check must be 16 bytes each")

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, self.version, self.algorithm, self.segment_size, self.salt, self.key_check)

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> AeadHeader:
        """Parse a header; checks magic, then version, then algorithm, then fields."""
        if len(data) < 5:
            raise FormatError(f"not a Scatter encrypted file: {len(data)} bytes is shorter than a header")
        check_prefix(data)
        if len(data) < HEADER_SIZE:
            raise FormatError(f"encryption header truncated: {len(data)} of {HEADER_SIZE} bytes")
        _, version, algorithm, segment_size, salt, key_check = _HEADER.unpack_from(data)
        if algorithm != ALG_AES256GCM_HKDF_SHA256:
            raise UnsupportedVersionError("encryption algorithm", algorithm, (ALG_AES256GCM_HKDF_SHA256,))
        try:
            return cls(
                segment_size=segment_size,
                salt=salt,
                key_check=key_check,
                version=version,
                algorithm=algorithm,
            )
        except InvalidParametersError as exc:
            raise FormatError(f"encryption header: {exc}; the header is damaged") from None


def check_prefix(data: bytes | memoryview) -> None:
    """Check the magic and version of (at least the first 5 bytes of) a header."""
    if bytes(data[:4]) != MAGIC:
        raise FormatError(
            "not a Scatter encrypted file (magic is not 'SCEA'); check you passed the ciphertext"
        )
    if data[4] not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError("encryption format", data[4], SUPPORTED_VERSIONS)


def nonce(index: int, last: bool) -> bytes:
    """The 12-byte GCM nonce of segment ``index``."""
    return index.to_bytes(INDEX_BYTES, "big") + (b"\x01" if last else b"\x00")
