"""The local manifest written by ``scatter encode``, version 3 (JSON).

It sits beside the shards and CARs in the output directory and holds the
content key, so treat it as a secret (it is written with mode 0600)::

    {"format": "scatter-manifest", "version": 3,
     "name": str, "media_type": str, "size": int, "sha256": hex,
     "content_key": hex, "aead_version": 1, "segment_size": int,
     "erasure": {"codec": "zfec" | "replication", "k": int, "n": int, "block_size": int},
     "ciphertext_length": int,
     "shards": [{"index": int, "cid": str, "file": str | null, "car": str | null, "size": int,
                 "root": "0x" + 64 hex}, ...]}

Version 2 added each shard's possession root (:mod:`scatter.formats.possession`, the
``bytes32`` a bid carries beside the CID; ``size`` is the shard's exact byte count);
version 3 holds roots of possession format 2 (20-byte nodes, Market VERSION 3).
Version 1 and 2 manifests still load (to decode), with ``root`` None: a version 2
root is of possession format 1, which the market refuses, so it is never read.
:func:`scatter.formats.pipeline.ensure_roots` recomputes them from the shards.

JSON rather than CBOR here: it is a local file people open and scripts read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scatter.formats.errors import FormatError, UnsupportedVersionError
from scatter.formats.metadata_schema import FileVersion
from scatter.formats.params import Codec, ErasureParams
from scatter.formats.possession_schema import NODE, ROOT_SIZE
from scatter.formats.possession_schema import VERSION as POSSESSION_VERSION

FORMAT = "scatter-manifest"
VERSION = 3
SUPPORTED_VERSIONS = (1, 2, 3)
#: The first version whose roots are of the current possession format (2).
ROOTS_SINCE = 3
FILENAME = "manifest.json"
_CODEC_NAMES = {Codec.ZFEC: "zfec", Codec.REPLICATION: "replication"}


@dataclass(frozen=True, slots=True)
class ShardEntry:
    index: int
    cid: str
    file: str | None
    car: str | None
    size: int
    #: The possession root (32 bytes, possession format 2); None when read from a version 1 or 2
    #: manifest (no root, or a format-1 root).
    root: bytes | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    media_type: str
    size: int
    sha256: bytes
    content_key: bytes
    segment_size: int
    erasure: ErasureParams
    ciphertext_length: int
    shards: tuple[ShardEntry, ...]
    aead_version: int = 1

    @property
    def roots(self) -> tuple[bytes, ...]:
        """Each shard's possession root, in shard order (what a bid carries beside the CIDs)."""
        missing = [s.index for s in self.shards if s.root is None]
        if missing:
            raise FormatError(
                f"manifest has no possession root of format {POSSESSION_VERSION} for shard(s) {missing} "
                "(written by an older release); re-run scatter encode"
            )
        return tuple(s.root for s in self.shards if s.root is not None)

    def file_version(self, *, bid_id: int | None = None, created: int = 0) -> FileVersion:
        """The metadata record of this encoding (for the on-chain metadata)."""
        return FileVersion(
            size=self.size,
            sha256=self.sha256,
            content_key=self.content_key,
            erasure=self.erasure,
            ciphertext_length=self.ciphertext_length,
            shards=tuple(s.cid for s in self.shards),
            segment_size=self.segment_size,
            aead_version=self.aead_version,
            bid_id=bid_id,
            created=created,
        )

    def to_obj(self, *, include_key: bool = True) -> dict[str, Any]:
        e = self.erasure
        obj: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256.hex(),
            "aead_version": self.aead_version,
            "segment_size": self.segment_size,
            "erasure": {"codec": _CODEC_NAMES[e.codec], "k": e.k, "n": e.n, "block_size": e.block_size},
            "ciphertext_length": self.ciphertext_length,
            "shards": [
                {
                    "index": s.index,
                    "cid": s.cid,
                    "file": s.file,
                    "car": s.car,
                    "size": s.size,
                    "root": None if s.root is None else "0x" + s.root.hex(),
                }
                for s in self.shards
            ],
        }
        if include_key:
            obj["content_key"] = self.content_key.hex()
        return obj

    def to_json(self) -> str:
        return json.dumps(self.to_obj(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            obj = json.loads(text)
            if obj.get("format") != FORMAT:
                raise FormatError("not a Scatter manifest (format is not 'scatter-manifest')")
            if obj.get("version") not in SUPPORTED_VERSIONS:
                raise UnsupportedVersionError("manifest", int(obj.get("version", -1)), SUPPORTED_VERSIONS)
            version = int(obj["version"])
            e = obj["erasure"]
            codec = {v: k for k, v in _CODEC_NAMES.items()}[e["codec"]]
            return cls(
                name=str(obj["name"]),
                media_type=str(obj["media_type"]),
                size=int(obj["size"]),
                sha256=bytes.fromhex(obj["sha256"]),
                content_key=bytes.fromhex(obj["content_key"]),
                segment_size=int(obj["segment_size"]),
                erasure=ErasureParams(
                    k=int(e["k"]), n=int(e["n"]), block_size=int(e["block_size"]), codec=codec
                ),
                ciphertext_length=int(obj["ciphertext_length"]),
                shards=tuple(_shard_entry(s, version) for s in obj["shards"]),
                aead_version=int(obj["aead_version"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"malformed manifest: {exc!r}; re-run scatter encode") from None


def _shard_entry(obj: dict[str, Any], version: int) -> ShardEntry:
    root = None
    if version >= ROOTS_SINCE:
        text = str(obj["root"])
        if not text.startswith("0x") or len(text) != 2 + 2 * ROOT_SIZE:
            raise FormatError(f"manifest: shard root {text!r} is not 0x + 64 hex digits")
        root = bytes.fromhex(text[2:])
        if any(root[NODE:]):
            raise FormatError(f"manifest: shard root {text} is not of possession format {POSSESSION_VERSION}")
    return ShardEntry(int(obj["index"]), str(obj["cid"]), obj["file"], obj["car"], int(obj["size"]), root)
