"""Encrypted metadata envelope, version 1 (``SCMD`` v1): what the FileRegistry stores.

::

    blob = magic "SCMD" | version u8 = 1 | nonce[12]
           | AES-256-GCM(key, nonce, cbor(metadata), aad=magic|version)

``key`` is the owner's metadata key (:mod:`scatter.formats.keyderiv`); the nonce is
random (96 bits; one key encrypts far fewer than 2^32 records). WebCrypto opens
it with ``AES-GCM`` / ``additionalData = blob[0:5]`` / ``tagLength 128``.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scatter.formats.errors import (
    FormatError,
    InvalidParametersError,
    MetadataTooLargeError,
    UnsupportedVersionError,
    WrongKeyError,
)
from scatter.formats.metadata_schema import FileMetadata

MAGIC = b"SCMD"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
NONCE_SIZE = 12
PREFIX_SIZE = 5
#: FileRegistry's limit for one entry.
MAX_BLOB_SIZE = 16 * 1024

_PREFIX = struct.Struct(">4sB")


def encrypt_metadata(
    key: bytes, metadata: FileMetadata, *, nonce: bytes | None = None, max_size: int = MAX_BLOB_SIZE
) -> bytes:
    """Seal a metadata record; ``nonce`` is random unless given (test vectors only)."""
    if len(key) != 32:
        raise InvalidParametersError(f"metadata key must be 32 bytes, got {len(key)}")
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise InvalidParametersError("metadata nonce must be 12 bytes")
    prefix = _PREFIX.pack(MAGIC, VERSION)
    blob = prefix + nonce + AESGCM(key).encrypt(nonce, metadata.to_cbor(), prefix)
    if len(blob) > max_size:
        raise MetadataTooLargeError(
            f"encrypted metadata is {len(blob)} bytes, over the {max_size}-byte entry limit; "
            f"keep fewer old versions (it has {len(metadata.history)})"
        )
    return blob


def decrypt_metadata(key: bytes, blob: bytes) -> FileMetadata:
    """Open a metadata blob; a wrong key or an altered blob raises :class:`WrongKeyError`."""
    if len(blob) < PREFIX_SIZE or blob[:4] != MAGIC:
        raise FormatError("not a Scatter metadata blob (magic is not 'SCMD')")
    if blob[4] not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError("metadata envelope", blob[4], SUPPORTED_VERSIONS)
    if len(blob) < PREFIX_SIZE + NONCE_SIZE + 16:
        raise FormatError(f"metadata blob truncated: {len(blob)} bytes")
    nonce = blob[PREFIX_SIZE : PREFIX_SIZE + NONCE_SIZE]
    try:
        plain = AESGCM(key).decrypt(nonce, blob[PREFIX_SIZE + NONCE_SIZE :], blob[:PREFIX_SIZE])
    except InvalidTag:
        raise WrongKeyError(
            "cannot open this metadata: it belongs to another wallet, or it was altered; "
            "check the connected account"
        ) from None
    return FileMetadata.from_cbor(plain)
