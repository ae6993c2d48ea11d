"""The file metadata record, schema version 1, and its CBOR encoding.

Encoding: CBOR (RFC 8949) in its core deterministic form (sorted map keys,
shortest integers), with short text keys. Why CBOR: it is compact and binary
(keys, hashes and CIDs are raw bytes, not base64 or hex: about half the size of
JSON, which matters under the 16 KiB on-chain limit), it is a standard with
small decoders in every language (``cbor-x`` / ``cborg`` in the dapp), it is
what IPLD uses (DAG-CBOR), and the deterministic form makes the same record
produce the same bytes in every implementation.

::

    metadata = {"v": 1, "name": tstr, "type": tstr, "cur": version, "hist": [version, ...]}
    version  = {"size": uint, "sha256": bstr .size 32, "key": bstr .size 32,
                "aead": uint (format version), "seg": uint (segment size),
                "codec": uint, "k": uint, "n": uint, "block": uint, "len": uint (ciphertext length),
                "shards": [bstr (binary CID), ...] (n of them), "bid": uint / null, "t": uint (unix seconds)}

``hist`` holds earlier versions, newest first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import cbor2
from multiformats import CID

from scatter.formats.errors import FormatError, UnsupportedVersionError
from scatter.formats.params import Codec, ErasureParams

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = (1,)

_TOP_KEYS = {"v", "name", "type", "cur", "hist"}
_VERSION_KEYS = {
    "size",
    "sha256",
    "key",
    "aead",
    "seg",
    "codec",
    "k",
    "n",
    "block",
    "len",
    "shards",
    "bid",
    "t",
}


def _cid_str(value: str | CID) -> str:
    try:
        cid = value if isinstance(value, CID) else CID.decode(value)
    except Exception as exc:
        raise FormatError(f"invalid shard CID {value!r}: {exc}") from None
    if cid.version != 1:
        raise FormatError(f"shard CID {value!r} is CIDv0; shards are addressed by CIDv1 (raw leaves)")
    return str(cid.set(base="base32"))


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One stored version of a file: what is needed to fetch, check and decrypt it."""

    size: int
    sha256: bytes
    content_key: bytes
    erasure: ErasureParams
    ciphertext_length: int
    shards: tuple[str, ...]
    segment_size: int
    aead_version: int = 1
    bid_id: int | None = None
    created: int = 0

    def __post_init__(self) -> None:
        if len(self.sha256) != 32 or len(self.content_key) != 32:
            raise FormatError("file version: sha256 and content key must be 32 bytes each")
        if len(self.shards) != self.erasure.n:
            raise FormatError(f"file version: {len(self.shards)} shard CIDs for n={self.erasure.n}")
        object.__setattr__(self, "shards", tuple(_cid_str(c) for c in self.shards))
        for name in ("size", "ciphertext_length", "segment_size", "created"):
            if getattr(self, name) < 0:
                raise FormatError(f"file version: {name} must be >= 0")

    def to_cbor_obj(self) -> dict[str, Any]:
        e = self.erasure
        return {
            "size": self.size,
            "sha256": self.sha256,
            "key": self.content_key,
            "aead": self.aead_version,
            "seg": self.segment_size,
            "codec": int(e.codec),
            "k": e.k,
            "n": e.n,
            "block": e.block_size,
            "len": self.ciphertext_length,
            "shards": [bytes(CID.decode(c)) for c in self.shards],
            "bid": self.bid_id,
            "t": self.created,
        }

    @classmethod
    def from_cbor_obj(cls, obj: object) -> FileVersion:
        if not isinstance(obj, dict) or set(obj) != _VERSION_KEYS:
            raise FormatError("metadata: a version record has missing or unknown fields")
        ints = ("size", "aead", "seg", "codec", "k", "n", "block", "len", "t")
        if not all(type(obj[name]) is int for name in ints):
            raise FormatError("metadata: a version record has a non-integer number")
        if not (obj["bid"] is None or type(obj["bid"]) is int):
            raise FormatError("metadata: bid id must be an integer or null")
        if not all(isinstance(obj[name], bytes) for name in ("sha256", "key")):
            raise FormatError("metadata: sha256 and key must be byte strings")
        shards = obj["shards"]
        if not isinstance(shards, list) or not all(isinstance(c, bytes) for c in shards):
            raise FormatError("metadata: shards must be a list of binary CIDs")
        try:
            codec = Codec(obj["codec"])
        except ValueError:
            raise UnsupportedVersionError(
                "erasure codec", obj["codec"], tuple(int(c) for c in Codec)
            ) from None
        try:
            cids = tuple(str(CID.decode(c)) for c in shards)
        except Exception as exc:
            raise FormatError(f"metadata: invalid shard CID: {exc}") from None
        return cls(
            size=obj["size"],
            sha256=obj["sha256"],
            content_key=obj["key"],
            erasure=ErasureParams(k=obj["k"], n=obj["n"], block_size=obj["block"], codec=codec),
            ciphertext_length=obj["len"],
            shards=cids,
            segment_size=obj["seg"],
            aead_version=obj["aead"],
            bid_id=obj["bid"],
            created=obj["t"],
        )


@dataclass(frozen=True, slots=True)
class FileMetadata:
    """What the owner keeps (encrypted, on chain) about one file: its name and its versions."""

    name: str
    media_type: str
    current: FileVersion
    history: tuple[FileVersion, ...] = field(default=())

    def with_new_version(self, version: FileVersion, *, keep: int | None = None) -> FileMetadata:
        """A record whose current version is ``version``; the old one moves to the history."""
        history = (self.current, *self.history)
        if keep is not None:
            history = history[:keep]
        return dataclasses.replace(self, current=version, history=history)

    def to_cbor(self) -> bytes:
        obj = {
            "v": SCHEMA_VERSION,
            "name": self.name,
            "type": self.media_type,
            "cur": self.current.to_cbor_obj(),
            "hist": [v.to_cbor_obj() for v in self.history],
        }
        return bytes(cbor2.dumps(obj, canonical=True))

    @classmethod
    def from_cbor(cls, data: bytes) -> FileMetadata:
        try:
            obj = cbor2.loads(data)
        except Exception as exc:
            raise FormatError(f"metadata is not valid CBOR: {exc}") from None
        if not isinstance(obj, dict):
            raise FormatError("metadata: the record is not a CBOR map")
        version = obj.get("v")
        if version not in SUPPORTED_VERSIONS:
            raise UnsupportedVersionError(
                "metadata schema", version if type(version) is int else -1, SUPPORTED_VERSIONS
            )
        if set(obj) != _TOP_KEYS:
            raise FormatError("metadata: the record has missing or unknown fields")
        if not isinstance(obj["name"], str) or not isinstance(obj["type"], str):
            raise FormatError("metadata: name and media type must be text")
        if not isinstance(obj["hist"], list):
            raise FormatError("metadata: history must be a list")
        record = cls(
            name=obj["name"],
            media_type=obj["type"],
            current=FileVersion.from_cbor_obj(obj["cur"]),
            history=tuple(FileVersion.from_cbor_obj(v) for v in obj["hist"]),
        )
        if record.to_cbor() != bytes(data):
            raise FormatError("metadata: not in deterministic CBOR form (re-encoding differs)")
        return record
