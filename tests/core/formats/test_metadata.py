"""Encrypted metadata (SCMD v1 around a CBOR record v1)."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.formats import metadata, vectors
from scatter.formats.errors import FormatError, MetadataTooLargeError, UnsupportedVersionError, WrongKeyError
from scatter.formats.metadata_schema import FileMetadata, FileVersion

VECTOR = json.loads((Path(__file__).parents[2] / "testdata/formats/metadata_v1.json").read_text())
KEY = bytes.fromhex(VECTOR["metadata_key"])


def test_vector_blob_is_reproduced_and_opens() -> None:
    record = vectors.sample_metadata()
    assert (
        metadata.encrypt_metadata(KEY, record, nonce=bytes.fromhex(VECTOR["nonce"])).hex() == VECTOR["blob"]
    )
    assert metadata.decrypt_metadata(KEY, bytes.fromhex(VECTOR["blob"])) == record


def test_vector_blob_opens_with_plain_aes_gcm_and_cbor() -> None:
    blob = bytes.fromhex(VECTOR["blob"])
    plain = AESGCM(KEY).decrypt(blob[5:17], blob[17:], blob[:5])
    assert plain.hex() == VECTOR["cbor"]
    obj = cbor2.loads(plain)
    assert obj["v"] == 1 and obj["name"] == "report é.pdf" and obj["cur"]["bid"] == 42
    assert len(obj["cur"]["shards"]) == obj["cur"]["n"] == 6


versions = st.builds(
    lambda size, key, bid, t: FileVersion(
        size=size,
        sha256=bytes(32),
        content_key=key,
        erasure=vectors.sample_metadata().current.erasure,
        ciphertext_length=size + 58,
        shards=vectors.sample_metadata().current.shards,
        segment_size=4096,
        bid_id=bid,
        created=t,
    ),
    st.integers(0, 2**48),
    st.binary(min_size=32, max_size=32),
    st.none() | st.integers(0, 2**256 - 1),
    st.integers(0, 2**40),
)


@settings(max_examples=40, deadline=None)
@given(name=st.text(max_size=200), current=versions, history=st.lists(versions, max_size=3))
def test_round_trip(name: str, current: FileVersion, history: list[FileVersion]) -> None:
    record = FileMetadata(name=name, media_type="text/plain", current=current, history=tuple(history))
    assert metadata.decrypt_metadata(KEY, metadata.encrypt_metadata(KEY, record)) == record


def test_with_new_version_keeps_history_newest_first() -> None:
    record = vectors.sample_metadata()
    newer = record.with_new_version(record.history[0], keep=5)
    assert newer.current == record.history[0]
    assert newer.history == (record.current, record.history[0])


def test_wrong_key_and_tampering_are_named() -> None:
    blob = bytes.fromhex(VECTOR["blob"])
    with pytest.raises(WrongKeyError, match="another wallet"):
        metadata.decrypt_metadata(bytes(32), blob)
    tampered = bytearray(blob)
    tampered[40] ^= 1
    with pytest.raises(WrongKeyError):
        metadata.decrypt_metadata(KEY, bytes(tampered))
    with pytest.raises(UnsupportedVersionError, match="metadata envelope version 2"):
        metadata.decrypt_metadata(KEY, blob[:4] + b"\x02" + blob[5:])
    with pytest.raises(FormatError, match="magic"):
        metadata.decrypt_metadata(KEY, b"XXXX" + blob[4:])


def test_unknown_schema_version_and_fields_are_refused() -> None:
    obj = cbor2.loads(bytes.fromhex(VECTOR["cbor"]))
    obj["v"] = 2
    with pytest.raises(UnsupportedVersionError, match="metadata schema version 2"):
        FileMetadata.from_cbor(cbor2.dumps(obj, canonical=True))
    obj["v"] = 1
    obj["extra"] = 1
    with pytest.raises(FormatError, match="unknown fields"):
        FileMetadata.from_cbor(cbor2.dumps(obj, canonical=True))
    del obj["extra"]
    with pytest.raises(FormatError, match="deterministic"):
        FileMetadata.from_cbor(cbor2.dumps(dict(reversed(list(obj.items())))))


def test_cidv0_shards_are_refused() -> None:
    v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    current = vectors.sample_metadata().current
    with pytest.raises(FormatError, match="CIDv0"):
        FileVersion(
            size=1,
            sha256=bytes(32),
            content_key=bytes(32),
            erasure=current.erasure,
            ciphertext_length=59,
            shards=(v0, *current.shards[1:]),
            segment_size=4096,
        )


def test_oversized_metadata_is_refused_with_advice() -> None:
    record = vectors.sample_metadata()
    big = FileMetadata(record.name, record.media_type, record.current, (record.current,) * 80)
    with pytest.raises(MetadataTooLargeError, match="keep fewer old versions"):
        metadata.encrypt_metadata(KEY, big)
