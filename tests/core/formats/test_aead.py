"""Streaming AEAD (SCEA v1): round trips, random access, and every kind of tampering."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.errors import ScatterIntegrityError
from scatter.formats import aead
from scatter.formats import aead_schema as schema
from scatter.formats.errors import (
    FormatError,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
)

SEG = 4096
FULL = SEG + schema.TAG_SIZE
VECTOR = json.loads((Path(__file__).parents[2] / "testdata/formats/aead_v1.json").read_text())
KEY = bytes(range(32))


def _hkdf_by_hand(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with the hmac module: a second route to the same key schedule."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _segments(ct: bytes) -> list[bytes]:
    body = ct[schema.HEADER_SIZE :]
    return [body[i : i + FULL] for i in range(0, len(body), FULL)]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3 * SEG + 100), cuts=st.lists(st.integers(0, 3 * SEG + 100), max_size=6))
def test_round_trip_whatever_the_update_sizes(data: bytes, cuts: list[int]) -> None:
    enc = aead.Encryptor(KEY, SEG)
    parts = [enc.header]
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for a, b in itertools.pairwise(bounds):
        parts += enc.update(data[a:b])
    parts.append(enc.finalize())
    ct = b"".join(parts)
    assert len(ct) == aead.SegmentLayout.for_plaintext(SEG, len(data)).ciphertext_length
    dec = aead.Decryptor(KEY)
    out = []
    for i in range(0, len(ct), 1000):
        out += dec.update(ct[i : i + 1000])
    out.append(dec.finalize())
    assert b"".join(out) == data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=4 * SEG), pick=st.data())
def test_decrypt_range_equals_slice(data: bytes, pick: st.DataObject) -> None:
    ct = aead.encrypt_bytes(KEY, data, SEG)
    offset = pick.draw(st.integers(0, len(data)))
    length = pick.draw(st.integers(0, len(data) - offset))
    reads: list[tuple[int, int]] = []

    def read_at(pos: int, size: int) -> bytes:
        reads.append((pos, size))
        return ct[pos : pos + size]

    assert aead.decrypt_range(KEY, read_at, len(ct), offset, length) == data[offset : offset + length]
    # Only the header and the segments holding the range are read.
    assert len(reads) == 1 + len(aead.SegmentLayout(SEG, len(ct)).segments_for(offset, length))


def test_layout_rejects_lengths_no_plaintext_produces() -> None:
    good = aead.SegmentLayout.for_plaintext(SEG, 2 * SEG + 5).ciphertext_length
    for bad in (good - 5 - 1, schema.HEADER_SIZE + FULL + 3):
        with pytest.raises(FormatError):
            aead.SegmentLayout(SEG, bad)


def test_committed_vector_is_what_the_code_produces() -> None:
    ct = aead.encrypt_bytes(KEY, bytes.fromhex(VECTOR["plaintext"]), SEG, salt=bytes.fromhex(VECTOR["salt"]))
    assert ct.hex() == VECTOR["ciphertext"]
    assert aead.decrypt_bytes(KEY, ct).hex() == VECTOR["plaintext"]


def test_committed_vector_opens_by_an_independent_route() -> None:
    ct = bytes.fromhex(VECTOR["ciphertext"])
    header = ct[:42]
    assert header[:4] == b"SCEA" and header[4] == 1 and header[5] == 1
    assert int.from_bytes(header[6:10], "big") == SEG
    salt = header[10:26]
    assert header[26:42] == _hkdf_by_hand(KEY, salt, b"scatter/aead/v1/key-check", 16)
    segment_key = _hkdf_by_hand(KEY, salt, b"scatter/aead/v1/segment-key", 32)
    segments = _segments(ct)
    plain = b""
    for i, seg in enumerate(segments):
        nonce = i.to_bytes(11, "big") + (b"\x01" if i == len(segments) - 1 else b"\x00")
        plain += AESGCM(segment_key).decrypt(nonce, seg, header)
    assert plain.hex() == VECTOR["plaintext"]
    empty = bytes.fromhex(VECTOR["empty_ciphertext"])
    assert AESGCM(segment_key).decrypt(bytes(11) + b"\x01", empty[42:], empty[:42]) == b""


def _ct(n: int = 3 * SEG + 10, key: bytes = KEY) -> bytes:
    return aead.encrypt_bytes(key, bytes(i % 256 for i in range(n)), SEG)


def test_wrong_key_is_named() -> None:
    with pytest.raises(WrongKeyError, match="wrong key"):
        aead.decrypt_bytes(bytes(32), _ct())


def test_truncation_at_a_segment_boundary_is_named() -> None:
    ct = _ct()
    with pytest.raises(TruncatedError, match="truncated"):
        aead.decrypt_bytes(KEY, ct[: schema.HEADER_SIZE + 2 * FULL])


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, 3 * FULL + 25))
def test_any_truncation_is_detected(cut: int) -> None:
    ct = _ct()
    if cut >= len(ct):
        return
    with pytest.raises(ScatterIntegrityError):
        aead.decrypt_bytes(KEY, ct[:cut])


@settings(max_examples=60, deadline=None)
@given(pos=st.integers(0, 3 * FULL + 25), bit=st.integers(0, 7))
def test_any_flipped_bit_is_detected(pos: int, bit: int) -> None:
    ct = bytearray(_ct())
    ct[pos] ^= 1 << bit
    with pytest.raises((ScatterIntegrityError, FormatError)):
        aead.decrypt_bytes(KEY, bytes(ct))


def test_reordered_segments_are_detected_with_their_index() -> None:
    ct = _ct()
    segs = _segments(ct)
    swapped = ct[: schema.HEADER_SIZE] + segs[1] + segs[0] + b"".join(segs[2:])
    with pytest.raises(TamperedError) as info:
        aead.decrypt_bytes(KEY, swapped)
    assert info.value.segment == 0


def test_segment_from_another_file_under_the_same_key_is_rejected() -> None:
    a, b = _ct(), _ct()  # same key and plaintext, different salts
    mixed = a[: schema.HEADER_SIZE + FULL] + b[schema.HEADER_SIZE + FULL : schema.HEADER_SIZE + 2 * FULL]
    mixed += a[schema.HEADER_SIZE + 2 * FULL :]
    with pytest.raises(TamperedError) as info:
        aead.decrypt_bytes(KEY, mixed)
    assert info.value.segment == 1


def test_appended_segment_is_detected() -> None:
    ct = _ct(2 * SEG)  # last segment full
    segs = _segments(ct)
    with pytest.raises(TamperedError, match="extended"):
        aead.decrypt_bytes(KEY, ct + segs[0])


def test_header_fields_are_authenticated() -> None:
    ct = bytearray(_ct())
    size_changed = bytearray(ct)
    size_changed[6:10] = (2 * SEG).to_bytes(4, "big")
    with pytest.raises(ScatterIntegrityError):
        aead.decrypt_bytes(KEY, bytes(size_changed))
    salt_changed = bytearray(ct)
    salt_changed[12] ^= 1
    with pytest.raises(WrongKeyError):
        aead.decrypt_bytes(KEY, bytes(salt_changed))


def test_unknown_version_and_algorithm_are_named() -> None:
    ct = bytearray(_ct())
    ct[4] = 9
    with pytest.raises(UnsupportedVersionError, match="encryption format version 9"):
        aead.decrypt_bytes(KEY, bytes(ct))
    ct[4], ct[5] = 1, 7
    with pytest.raises(UnsupportedVersionError, match="algorithm"):
        aead.decrypt_bytes(KEY, bytes(ct))
    with pytest.raises(FormatError, match="magic"):
        aead.decrypt_bytes(KEY, b"XXXX" + bytes(ct[4:]))


def test_nonces_never_repeat_within_a_file() -> None:
    nonces = {schema.nonce(i, last) for i in range(1000) for last in (False, True)}
    assert len(nonces) == 2000


def test_salts_differ_between_files() -> None:
    assert len({aead.make_header(KEY)[10:26] for _ in range(50)}) == 50
