"""Streaming AEAD: AES-256-GCM in fixed-size segments (format in :mod:`aead_schema`).

Three ways in, all producing and reading the same bytes:

* :class:`Encryptor` / :class:`Decryptor` — push-style, bounded memory (one segment);
* :func:`encrypt_bytes` / :func:`decrypt_bytes` — whole buffers;
* :func:`decrypt_range` with :class:`SegmentLayout` — random access for ranged reads.

Decryption never returns a byte that has not been authenticated, and says why it
stopped: :class:`WrongKeyError`, :class:`TamperedError` (with the segment index),
:class:`TruncatedError`, :class:`UnsupportedVersionError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import constant_time, hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from scatter.formats import aead_schema as schema
from scatter.formats.errors import (
    FormatError,
    InvalidParametersError,
    TamperedError,
    TruncatedError,
    WrongKeyError,
)
from scatter.formats.params import DEFAULT_SEGMENT_SIZE

Buffer = bytes | bytearray | memoryview


def new_content_key() -> bytes:
    """A fresh random 256-bit content key (one per file, never reused)."""
    return os.urandom(schema.KEY_SIZE)


def _hkdf(key: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def _check_key(key: bytes) -> bytes:
    if len(key) != schema.KEY_SIZE:
        raise InvalidParametersError(f"content key must be {schema.KEY_SIZE} bytes, got {len(key)}")
    return bytes(key)


def key_check_value(key: bytes, salt: bytes) -> bytes:
    """The 16-byte key check stored in the header (tells a wrong key from tampering)."""
    return _hkdf(_check_key(key), salt, schema.INFO_KEY_CHECK, schema.KEY_CHECK_SIZE)


def make_header(key: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE, *, salt: bytes | None = None) -> bytes:
    """Build a v1 header for ``key``; ``salt`` is random unless given (test vectors only)."""
    salt = os.urandom(schema.SALT_SIZE) if salt is None else salt
    return schema.AeadHeader(
        segment_size=segment_size, salt=salt, key_check=key_check_value(key, salt)
    ).pack()


class SegmentCipher:
    """Seals and opens single segments of one file (its key and header fixed)."""

    def __init__(self, key: bytes, header: bytes | schema.AeadHeader) -> None:
        parsed = header if isinstance(header, schema.AeadHeader) else schema.AeadHeader.unpack(header)
        key = _check_key(key)
        if not constant_time.bytes_eq(key_check_value(key, parsed.salt), parsed.key_check):
            raise WrongKeyError(
                "wrong key: this content key does not open the file (or its header was altered); "
                "check the share link or metadata the key came from"
            )
        self.header = parsed
        self.header_bytes = parsed.pack()
        self._aead = AESGCM(_hkdf(key, parsed.salt, schema.INFO_SEGMENT_KEY, schema.KEY_SIZE))

    @property
    def segment_size(self) -> int:
        return self.header.segment_size

    def seal(self, index: int, plaintext: Buffer, last: bool) -> bytes:
        if not 0 <= index < schema.MAX_SEGMENTS:
            raise InvalidParametersError(f"segment index {index} out of range")
        return self._aead.encrypt(schema.nonce(index, last), plaintext, self.header_bytes)

    def open(self, index: int, ciphertext: Buffer, last: bool) -> bytes:
        """Authenticate and decrypt one segment, or raise an error that says what went wrong."""
        try:
            return self._aead.decrypt(schema.nonce(index, last), ciphertext, self.header_bytes)
        except InvalidTag:
            pass
        try:
            self._aead.decrypt(schema.nonce(index, not last), ciphertext, self.header_bytes)
        except InvalidTag:
            raise TamperedError(
                f"segment {index} failed authentication: it was altered, reordered or taken from "
                "another file; fetch the data again from another source",
                segment=index,
            ) from None
        if last:
            raise TruncatedError(
                f"ciphertext truncated: it ends after segment {index}, which is not the final segment; "
                "the download is incomplete"
            )
        raise TamperedError(
            f"segment {index} is the final segment but more data follows it: the ciphertext was extended",
            segment=index,
        )


class Encryptor:
    """Push-style encryptor; holds at most one segment of plaintext.

    ``header`` goes first; then the bytes returned by :meth:`update` and :meth:`finalize`, in order.
    """

    def __init__(
        self, key: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE, *, salt: bytes | None = None
    ) -> None:
        self.header = make_header(key, segment_size, salt=salt)
        self._cipher = SegmentCipher(key, self.header)
        self._size = segment_size
        self._buf = bytearray()
        self._index = 0
        self._done = False
        self.plaintext_length = 0

    def update(self, data: Buffer) -> list[bytes]:
        """Take plaintext; return the ciphertext segments completed so far (maybe none)."""
        if self._done:
            raise InvalidParametersError("encryptor already finalized")
        self.plaintext_length += len(data)
        out: list[bytes] = []
        size = self._size
        # A segment is sealed only when a byte after it is known to exist (it is then not last).
        if not self._buf:
            view = memoryview(data)
            start = 0
            while len(view) - start > size:
                out.append(self._cipher.seal(self._index, view[start : start + size], False))
                self._index += 1
                start += size
            self._buf += view[start:]
            return out
        self._buf += data
        if len(self._buf) > size:
            view = memoryview(self._buf)
            start = 0
            while len(view) - start > size:
                out.append(self._cipher.seal(self._index, view[start : start + size], False))
                self._index += 1
                start += size
            view.release()
            del self._buf[:start]
        return out

    def finalize(self) -> bytes:
        """Seal and return the final segment."""
        if self._done:
            raise InvalidParametersError("encryptor already finalized")
        self._done = True
        last = self._cipher.seal(self._index, self._buf, True)
        self._buf = bytearray()
        return last


class Decryptor:
    """Push-style decryptor; returns only authenticated plaintext, holds at most one segment."""

    def __init__(self, key: bytes) -> None:
        self._key = _check_key(key)
        self._cipher: SegmentCipher | None = None
        self._buf = bytearray()
        self._index = 0
        self._done = False

    @property
    def header(self) -> schema.AeadHeader | None:
        return None if self._cipher is None else self._cipher.header

    def update(self, data: Buffer) -> list[bytes]:
        """Take ciphertext; return the plaintext of the segments completed so far."""
        if self._done:
            raise InvalidParametersError("decryptor already finalized")
        self._buf += data
        out: list[bytes] = []
        if self._cipher is None:
            if len(self._buf) >= 5:
                schema.check_prefix(bytes(self._buf[:5]))
            if len(self._buf) < schema.HEADER_SIZE:
                return out
            self._cipher = SegmentCipher(self._key, bytes(self._buf[: schema.HEADER_SIZE]))
            del self._buf[: schema.HEADER_SIZE]
        full = self._cipher.segment_size + schema.TAG_SIZE
        if len(self._buf) > full:
            view = memoryview(self._buf)
            start = 0
            while len(view) - start > full:
                out.append(self._cipher.open(self._index, view[start : start + full], False))
                self._index += 1
                start += full
            view.release()
            del self._buf[:start]
        return out

    def finalize(self) -> bytes:
        """Check and return the final segment; raises if the ciphertext ended early."""
        if self._done:
            raise InvalidParametersError("decryptor already finalized")
        self._done = True
        if self._cipher is None:
            raise TruncatedError(
                f"ciphertext truncated: {len(self._buf)} bytes, "
                f"shorter than the {schema.HEADER_SIZE}-byte header"
            )
        if len(self._buf) < schema.TAG_SIZE:
            raise TruncatedError(
                f"ciphertext truncated: segment {self._index} has {len(self._buf)} bytes, "
                f"less than its {schema.TAG_SIZE}-byte tag"
            )
        if self._index > 0 and len(self._buf) == schema.TAG_SIZE:
            # Only an empty file has an empty final segment.
            raise TruncatedError(f"ciphertext malformed: empty final segment {self._index} after data")
        return self._cipher.open(self._index, bytes(self._buf), True)


def encrypt_bytes(
    key: bytes, plaintext: Buffer, segment_size: int = DEFAULT_SEGMENT_SIZE, *, salt: bytes | None = None
) -> bytes:
    """Encrypt a whole buffer."""
    enc = Encryptor(key, segment_size, salt=salt)
    parts = [enc.header, *enc.update(plaintext), enc.finalize()]
    return b"".join(parts)


def decrypt_bytes(key: bytes, ciphertext: Buffer) -> bytes:
    """Decrypt and authenticate a whole buffer."""
    dec = Decryptor(key)
    parts = dec.update(ciphertext)
    parts.append(dec.finalize())
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class SegmentLayout:
    """Where each segment lies, from the segment size and the total ciphertext length."""

    segment_size: int
    ciphertext_length: int

    def __post_init__(self) -> None:
        body = self.ciphertext_length - schema.HEADER_SIZE
        full = self.segment_size + schema.TAG_SIZE
        if body < schema.TAG_SIZE:
            raise TruncatedError(
                f"ciphertext of {self.ciphertext_length} bytes is too short to hold one segment"
            )
        tail = body % full
        if body != schema.TAG_SIZE and 0 < tail <= schema.TAG_SIZE:
            raise FormatError(
                f"ciphertext length {self.ciphertext_length} does not fit segments "
                f"of {self.segment_size} bytes; "
                "it is truncated or not this file"
            )

    @classmethod
    def for_plaintext(cls, segment_size: int, plaintext_length: int) -> SegmentLayout:
        count = max(1, -(-plaintext_length // segment_size))
        return cls(segment_size, schema.HEADER_SIZE + plaintext_length + count * schema.TAG_SIZE)

    @property
    def segment_count(self) -> int:
        full = self.segment_size + schema.TAG_SIZE
        return -(-(self.ciphertext_length - schema.HEADER_SIZE) // full)

    @property
    def plaintext_length(self) -> int:
        return self.ciphertext_length - schema.HEADER_SIZE - self.segment_count * schema.TAG_SIZE

    def ciphertext_span(self, index: int) -> tuple[int, int]:
        """(offset, length) of segment ``index`` in the ciphertext."""
        if not 0 <= index < self.segment_count:
            raise InvalidParametersError(f"segment {index} out of range 0..{self.segment_count - 1}")
        offset = schema.HEADER_SIZE + index * (self.segment_size + schema.TAG_SIZE)
        return offset, min(self.segment_size + schema.TAG_SIZE, self.ciphertext_length - offset)

    def segments_for(self, offset: int, length: int) -> range:
        """The segments holding plaintext bytes ``[offset, offset + length)``."""
        if offset < 0 or length < 0 or offset + length > self.plaintext_length:
            raise InvalidParametersError(
                f"range {offset}+{length} outside the plaintext of {self.plaintext_length} bytes"
            )
        if length == 0:
            return range(0)
        return range(offset // self.segment_size, (offset + length - 1) // self.segment_size + 1)


def decrypt_range(
    key: bytes,
    read_at: Callable[[int, int], bytes],
    ciphertext_length: int,
    offset: int,
    length: int,
) -> bytes:
    """Decrypt plaintext bytes ``[offset, offset+length)`` reading only the segments that hold them.

    ``read_at(pos, size)`` returns ``size`` ciphertext bytes from ``pos`` (a ranged fetch).
    """
    cipher = SegmentCipher(key, read_at(0, schema.HEADER_SIZE))
    layout = SegmentLayout(cipher.segment_size, ciphertext_length)
    last_index = layout.segment_count - 1
    parts: list[bytes] = []
    for index in layout.segments_for(offset, length):
        pos, size = layout.ciphertext_span(index)
        chunk = read_at(pos, size)
        if len(chunk) != size:
            raise TruncatedError(f"segment {index}: read {len(chunk)} of {size} bytes")
        parts.append(cipher.open(index, chunk, index == last_index))
    joined = b"".join(parts)
    start = offset - (offset // layout.segment_size) * layout.segment_size if parts else 0
    return joined[start : start + length]
