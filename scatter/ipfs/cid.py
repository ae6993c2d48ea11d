"""CID helpers: parsing with clear errors, fast construction, and the hash table.

CIDs are :class:`multiformats.CID` objects everywhere. This module adds what the
rest of the layer needs on top: the set of codecs and hash functions we accept,
fast paths for the hot loops (building one CID per 256 KiB chunk, printing one
per gateway response), and one-line errors that say what was wrong.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from typing import Any, Final

from multiformats import CID, multibase, multicodec, multihash

from scatter.ipfs.errors import InvalidCIDError, UnsupportedCIDError
from scatter.ipfs.varint import VarintError, read_uvarint, uvarint

__all__ = [
    "CID",
    "CODEC_DAG_CBOR",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "MAX_BLOCK_SIZE",
    "SUPPORTED_CODECS",
    "SUPPORTED_HASHES",
    "cid_bytes",
    "cid_str",
    "hash_multihash",
    "make_cid",
    "parse_cid",
]

CODEC_RAW: Final = 0x55
CODEC_DAG_PB: Final = 0x70
CODEC_DAG_CBOR: Final = 0x71
SUPPORTED_CODECS: Final[dict[int, str]] = {
    CODEC_RAW: "raw",
    CODEC_DAG_PB: "dag-pb",
    CODEC_DAG_CBOR: "dag-cbor",
}

#: Largest block accepted anywhere: Kubo's limit (``block put``, bitswap, ``dag import``),
#: so every block Scatter makes or takes can be held by a Kubo node.
MAX_BLOCK_SIZE: Final = 1024 * 1024

# multihash code -> (name, digest length, hashlib constructor)
_HASHERS: Final[dict[int, tuple[str, int, Callable[[], Any]]]] = {
    0x12: ("sha2-256", 32, hashlib.sha256),
    0x13: ("sha2-512", 64, hashlib.sha512),
    0x16: ("sha3-256", 32, hashlib.sha3_256),
    0x14: ("sha3-512", 64, hashlib.sha3_512),
    0xB220: ("blake2b-256", 32, lambda: hashlib.blake2b(digest_size=32)),
}
SUPPORTED_HASHES: Final[dict[int, str]] = {code: spec[0] for code, spec in _HASHERS.items()}

_BASE32: Final = multibase.get("base32")
_BASE58: Final = multibase.get("base58btc")
_CODECS: Final = {code: multicodec.get(code=code) for code in SUPPORTED_CODECS}
_MULTIHASHES: Final = {code: multihash.get(code=code) for code in _HASHERS}


_MH_PREFIX: Final = {code: uvarint(code) + uvarint(spec[1]) for code, spec in _HASHERS.items()}


def hash_multihash(data: bytes | memoryview, hash_code: int = 0x12) -> bytes:
    """The multihash (prefix + digest) of ``data`` under the given hash function."""
    spec = _HASHERS.get(hash_code)
    if spec is None:
        raise UnsupportedCIDError(f"unsupported hash function 0x{hash_code:x}; use sha2-256")
    h = spec[2]()
    h.update(data)
    digest: bytes = h.digest()
    return _MH_PREFIX[hash_code] + digest


def make_cid(version: int, codec: int, mh: bytes) -> CID:
    """Build a CID from a codec code and a multihash (the importer's hot path).

    Uses the multiformats constructor that skips re-validation: the inputs come
    from :func:`hash_multihash` and the constant tables above.
    """
    hash_code = mh[0] if mh[0] < 0x80 else _read_uvarint(mh, 0)[0]
    base = _BASE58 if version == 0 else _BASE32
    cid: CID = CID._new_instance(CID, base, version, _CODECS[codec], _MULTIHASHES[hash_code], mh)
    return cid


def _read_uvarint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    try:
        return read_uvarint(buf, pos, len(buf))
    except VarintError as exc:
        raise InvalidCIDError(f"{exc} in CID") from None


def check_supported(cid: CID) -> CID:
    """Return ``cid`` if its codec and hash function are handled here, else raise."""
    if cid.codec.code not in SUPPORTED_CODECS:
        raise UnsupportedCIDError(
            f"unsupported codec {cid.codec.name} in {cid}; this layer handles raw, dag-pb and dag-cbor"
        )
    if cid.hashfun.code not in _HASHERS:
        names = ", ".join(SUPPORTED_HASHES.values())
        raise UnsupportedCIDError(
            f"unsupported hash function {cid.hashfun.name} in {cid}; use one of {names}"
        )
    # the multihash must be exactly prefix + digest (``cid.raw_digest`` would re-validate: 60 µs)
    mh = cid.digest
    prefix = _MH_PREFIX[cid.hashfun.code]
    if len(mh) != len(prefix) + _HASHERS[cid.hashfun.code][1] or mh[: len(prefix)] != prefix:
        raise InvalidCIDError(f"digest of {cid} has the wrong length for {cid.hashfun.name}")
    return cid


def parse_cid(value: str | bytes | CID) -> CID:
    """Parse a CID (string or binary) and check that its codec and hash are supported."""
    if isinstance(value, CID):
        return check_supported(value)
    return _parse_cached(value if isinstance(value, str) else bytes(value))


@functools.lru_cache(maxsize=8192)
def _parse_cached(value: str | bytes) -> CID:
    """Parsing is ~1 ms (multiformats validates types at run time); daemons parse the same
    few thousand CIDs every tick, and CIDs are immutable, so the parsed ones are kept."""
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 200:
            raise InvalidCIDError(f"not a CID: {value[:80]!r}")
    try:
        cid = CID.decode(value)
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # IndexError: '\x00', 'm'
        shown = value[:80] if isinstance(value, str) else bytes(value[:40]).hex()
        raise InvalidCIDError(f"not a CID: {shown!r} ({exc})") from None
    check_supported(cid)
    if cid.version == 1 and cid.base is not _BASE32:
        # one canonical form, so that str(cid) prints what Kubo prints
        cid = CID._new_instance(CID, _BASE32, 1, cid.codec, cid.hashfun, bytes(cid.digest))
    return cid


def cid_from_bytes(buf: bytes | memoryview) -> tuple[CID, int]:
    """Decode a binary CID at the start of ``buf``; return it and its length in bytes.

    CIDs of the codecs and hashes handled here are built directly (no
    re-validation: this runs once per link and per CAR section); others go
    through :func:`parse_cid`, which rejects them with a clear message.
    """
    if len(buf) >= 2 and buf[0] == 0x12 and buf[1] == 0x20:
        if len(buf) < 34:
            raise InvalidCIDError("truncated CIDv0")
        v0: CID = CID._new_instance(
            CID, _BASE58, 0, _CODECS[CODEC_DAG_PB], _MULTIHASHES[0x12], bytes(buf[:34])
        )
        return v0, 34
    version, pos = _read_uvarint(buf, 0)
    if version != 1:
        raise InvalidCIDError(f"unsupported CID version {version}")
    codec, pos = _read_uvarint(buf, pos)
    mh_start = pos
    hash_code, pos = _read_uvarint(buf, pos)
    length, pos = _read_uvarint(buf, pos)
    end = pos + length
    if end > len(buf):
        raise InvalidCIDError("truncated CID")
    codec_obj = _CODECS.get(codec)
    spec = _HASHERS.get(hash_code)
    if codec_obj is not None and spec is not None and length == spec[1]:
        v1: CID = CID._new_instance(
            CID, _BASE32, 1, codec_obj, _MULTIHASHES[hash_code], bytes(buf[mh_start:end])
        )
        return v1, end
    return parse_cid(bytes(buf[:end])), end


def cid_bytes(cid: CID) -> bytes:
    """The binary form of ``cid`` (CIDv0: the bare multihash)."""
    if cid.version == 0:
        return bytes(cid.digest)
    return uvarint(1) + uvarint(cid.codec.code) + bytes(cid.digest)


def cid_str(cid: CID) -> str:
    """The canonical string form: base32 for CIDv1, base58btc for CIDv0 (fast path for base32)."""
    if cid.version == 0:
        return str(cid)
    return "b" + base64.b32encode(cid_bytes(cid)).decode("ascii").lower().rstrip("=")


def verify_digest(cid: CID, data: bytes | memoryview) -> bool:
    """Whether ``data`` hashes to the multihash inside ``cid``."""
    return hash_multihash(data, cid.hashfun.code) == bytes(cid.digest)
