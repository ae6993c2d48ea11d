"""dag-pb and UnixFS ``Data`` protobuf encoding, hand-written.

Two tiny protobuf schemas (the dag-pb ``PBNode``/``PBLink`` and UnixFS ``Data``)
do not justify a protobuf runtime and generated code. Encoding follows the
byte layout Kubo (go-codec-dagpb) produces: links before data, every link with
Hash, Name (empty string included) and Tsize; UnixFS fields in field order with
unpacked ``blocksizes``. Decoding is strict on wire types and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from multiformats import CID

from scatter.ipfs.cid import cid_bytes, cid_from_bytes
from scatter.ipfs.errors import DagFormatError, InvalidCIDError
from scatter.ipfs.varint import VarintError, read_uvarint, uvarint

__all__ = ["PBLink", "PBNode", "UnixFSData", "UnixFSType", "decode_node", "encode_node"]


class UnixFSType(IntEnum):
    RAW = 0
    DIRECTORY = 1
    FILE = 2
    METADATA = 3
    SYMLINK = 4
    HAMT_SHARD = 5


@dataclass(frozen=True, slots=True)
class PBLink:
    cid: CID
    name: str | None = ""
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    links: tuple[PBLink, ...] = ()
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class UnixFSData:
    type: UnixFSType
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default=())
    fanout: int | None = None


def _read_uvarint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    try:
        return read_uvarint(buf, pos, end)
    except VarintError as exc:
        raise DagFormatError(f"{exc} in protobuf") from None


def _read_bytes(buf: bytes | memoryview, pos: int, end: int) -> tuple[memoryview, int]:
    length, pos = _read_uvarint(buf, pos, end)
    if pos + length > end:
        raise DagFormatError("length-delimited field runs past the end of the protobuf message")
    return memoryview(buf)[pos : pos + length], pos + length


# ---------------------------------------------------------------- dag-pb


def encode_link(link: PBLink) -> bytes:
    h = cid_bytes(link.cid)
    out = b"\x0a" + uvarint(len(h)) + h
    if link.name is not None:
        name = link.name.encode("utf-8")
        out += b"\x12" + uvarint(len(name)) + name
    if link.tsize is not None:
        out += b"\x18" + uvarint(link.tsize)
    return out


def encode_node(node: PBNode) -> bytes:
    """The canonical dag-pb bytes of ``node``."""
    parts: list[bytes] = []
    for link in node.links:
        enc = encode_link(link)
        parts.append(b"\x12" + uvarint(len(enc)) + enc)
    if node.data is not None:
        parts.append(b"\x0a" + uvarint(len(node.data)) + node.data)
    return b"".join(parts)


def _decode_link(buf: memoryview) -> PBLink:
    pos, end = 0, len(buf)
    cid: CID | None = None
    name: str | None = None
    tsize: int | None = None
    while pos < end:
        key, pos = _read_uvarint(buf, pos, end)
        fnum, wtype = key >> 3, key & 7
        if fnum == 1 and wtype == 2:
            raw, pos = _read_bytes(buf, pos, end)
            try:
                cid, used = cid_from_bytes(raw)
            except InvalidCIDError as exc:
                raise DagFormatError(f"dag-pb link has an invalid CID: {exc}") from None
            if used != len(raw):
                raise DagFormatError("dag-pb link Hash has trailing bytes")
        elif fnum == 2 and wtype == 2:
            raw, pos = _read_bytes(buf, pos, end)
            try:
                name = bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise DagFormatError("dag-pb link Name is not UTF-8") from None
        elif fnum == 3 and wtype == 0:
            tsize, pos = _read_uvarint(buf, pos, end)
        else:
            raise DagFormatError(f"unexpected field {fnum} (wire type {wtype}) in dag-pb PBLink")
    if cid is None:
        raise DagFormatError("dag-pb link without a Hash")
    return PBLink(cid, name, tsize)


def decode_node(data: bytes | memoryview) -> PBNode:
    """Decode dag-pb bytes; raises :class:`DagFormatError` on anything malformed."""
    buf = memoryview(data)
    pos, end = 0, len(buf)
    links: list[PBLink] = []
    node_data: bytes | None = None
    while pos < end:
        key, pos = _read_uvarint(buf, pos, end)
        fnum, wtype = key >> 3, key & 7
        if fnum == 2 and wtype == 2:
            if node_data is not None:
                raise DagFormatError("dag-pb Links after Data")
            raw, pos = _read_bytes(buf, pos, end)
            links.append(_decode_link(raw))
        elif fnum == 1 and wtype == 2:
            if node_data is not None:
                raise DagFormatError("dag-pb node with two Data fields")
            raw, pos = _read_bytes(buf, pos, end)
            node_data = bytes(raw)
        else:
            raise DagFormatError(f"unexpected field {fnum} (wire type {wtype}) in dag-pb PBNode")
    return PBNode(tuple(links), node_data)


# ---------------------------------------------------------------- UnixFS Data


def encode_unixfs(d: UnixFSData) -> bytes:
    """The UnixFS ``Data`` message, as Kubo writes it."""
    out = bytearray(b"\x08")
    out += uvarint(int(d.type))
    if d.data is not None:
        out += b"\x12" + uvarint(len(d.data))
        out += d.data
    if d.filesize is not None:
        out += b"\x18" + uvarint(d.filesize)
    for size in d.blocksizes:
        out += b"\x20" + uvarint(size)
    if d.fanout is not None:
        out += b"\x30" + uvarint(d.fanout)
    return bytes(out)


def decode_unixfs(data: bytes | memoryview) -> UnixFSData:
    """Decode a UnixFS ``Data`` message (unknown optional fields such as mode/mtime are skipped)."""
    buf = memoryview(data)
    pos, end = 0, len(buf)
    utype: int | None = None
    payload: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = []
    fanout: int | None = None
    while pos < end:
        key, pos = _read_uvarint(buf, pos, end)
        fnum, wtype = key >> 3, key & 7
        if wtype == 0:
            value, pos = _read_uvarint(buf, pos, end)
            if fnum == 1:
                utype = value
            elif fnum == 3:
                filesize = value
            elif fnum == 4:
                blocksizes.append(value)
            elif fnum == 6:
                fanout = value
        elif wtype == 2:
            raw, pos = _read_bytes(buf, pos, end)
            if fnum == 2:
                payload = bytes(raw)
            elif fnum == 4:  # packed blocksizes
                p = 0
                while p < len(raw):
                    value, p = _read_uvarint(raw, p, len(raw))
                    blocksizes.append(value)
        elif wtype == 5:
            pos += 4
        elif wtype == 1:
            pos += 8
        else:
            raise DagFormatError(f"unexpected wire type {wtype} in UnixFS Data")
        if pos > end:
            raise DagFormatError("UnixFS Data field runs past the end of the message")
    if utype is None:
        raise DagFormatError("UnixFS Data without a Type")
    try:
        kind = UnixFSType(utype)
    except ValueError:
        raise DagFormatError(f"unknown UnixFS type {utype}") from None
    return UnixFSData(kind, payload, filesize, tuple(blocksizes), fanout)
