"""CAR v1 (Content Addressable aRchive) writer and verifying reader.

Format (https://ipld.io/specs/transport/car/carv1/): ``varint(len) header``
then sections ``varint(len) CID data``. The header is the dag-cbor map
``{"roots": [CID, ...], "version": 1}`` (CIDs as tag-42 links), written and
read with ``cbor2``.

:class:`CarWriter` writes in one pass even when the root is known only at the
end (the importer's root comes last): on a seekable output it writes a
placeholder header of the expected length and rewrites it in place at
:meth:`CarWriter.finish` (shifting the body if the real root's length differs);
on a non-seekable output it spools to a temporary file. Blocks are never held
in memory. :func:`read_car` verifies every block against its CID; CAR v2 input
is accepted (its inner v1 payload is read).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, Final

import cbor2
from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.cid import (
    CODEC_DAG_PB,
    MAX_BLOCK_SIZE,
    cid_bytes,
    cid_from_bytes,
    make_cid,
)
from scatter.ipfs.errors import BlockTooLargeError, CarFormatError, InvalidCIDError, UnsupportedCIDError
from scatter.ipfs.varint import uvarint

__all__ = ["CarWriter", "decode_dag_cbor", "encode_header", "read_car", "write_car"]

#: Longest accepted header (roots list); real headers are tens of bytes.
MAX_HEADER_SIZE: Final = 1024 * 1024
CARV2_PRAGMA: Final = bytes.fromhex("0aa16776657273696f6e02")
_PLACEHOLDER_ROOT: Final = make_cid(1, CODEC_DAG_PB, b"\x12\x20" + bytes(32))
_COPY_SIZE: Final = 1024 * 1024
#: The CBOR tag of an IPLD link (a CID) in dag-cbor.
_TAG_CID: Final = 42


def encode_header(roots: Sequence[CID]) -> bytes:
    """The length-prefixed CAR v1 header for ``roots`` (dag-cbor: keys in canonical order)."""
    links = [cbor2.CBORTag(_TAG_CID, b"\x00" + cid_bytes(root)) for root in roots]
    body: bytes = cbor2.dumps({"roots": links, "version": 1}, canonical=True)
    return uvarint(len(body)) + body


class CarWriter:
    """Write a CAR v1 block by block; roots may be given now or at :meth:`finish`.

    ``dedupe`` skips a block already written (identical chunks of a file).
    """

    def __init__(self, out: BinaryIO, roots: Sequence[CID] | None = None, *, dedupe: bool = True) -> None:
        self._final = out
        self._roots = list(roots) if roots is not None else None
        self._dedupe = dedupe
        self._seen: set[bytes] = set()
        self._spool: BinaryIO | None = None
        self._placeholder = b""
        self._start = 0
        self.block_count = 0
        self.bytes_written = 0
        self._closed = False
        if self._roots is not None:
            self._out = out
            self._emit(encode_header(self._roots))
        elif _seekable(out):
            self._out = out
            self._start = out.tell()
            self._placeholder = encode_header([_PLACEHOLDER_ROOT])
            self._emit(self._placeholder)
        else:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
            self._out = self._spool

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self.bytes_written += len(data)

    def write(self, block: Block) -> None:
        """Append one block (its CID and bytes)."""
        if self._closed:
            raise ScatterValueError("CAR writer already finished")
        key = cid_bytes(block.cid)
        if self._dedupe:
            if key in self._seen:
                return
            self._seen.add(key)
        self._emit(uvarint(len(key) + len(block.data)) + key)
        self._emit(block.data)
        self.block_count += 1

    def write_blocks(self, blocks: Iterable[Block]) -> None:
        for block in blocks:
            self.write(block)

    def finish(self, roots: Sequence[CID] | None = None) -> int:
        """Complete the CAR (writing the header if roots were not known); return its size."""
        if self._closed:
            raise ScatterValueError("CAR writer already finished")
        self._closed = True
        if self._roots is not None:
            if roots is not None and list(roots) != self._roots:
                raise ScatterValueError("roots given at finish() differ from those given at creation")
            return self.bytes_written
        if not roots:
            raise ScatterValueError("give the CAR's roots to finish(); they were not known at creation")
        header = encode_header(list(roots))
        if self._spool is not None:
            self._final.write(header)
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, self._final, _COPY_SIZE)
            self._spool.close()
            self.bytes_written += len(header)
            return self.bytes_written
        out = self._out
        end = out.tell()
        body_start = self._start + len(self._placeholder)
        delta = len(header) - len(self._placeholder)
        if delta:
            _shift(out, body_start, end, delta)
        out.seek(self._start)
        out.write(header)
        out.seek(end + delta)
        if delta < 0:
            out.truncate()
        self.bytes_written += delta
        return self.bytes_written

    def __enter__(self) -> CarWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._spool is not None and not self._closed:
            self._spool.close()


def _seekable(f: BinaryIO) -> bool:
    """Whether the header can be rewritten in place (which reads the body back to shift it)."""
    try:
        return f.seekable() and f.readable()
    except (AttributeError, ValueError):
        return False


def _shift(f: BinaryIO, start: int, end: int, delta: int) -> None:
    """Move bytes [start, end) of ``f`` by ``delta`` (in bounded pieces)."""
    if delta < 0:
        pos = start
        while pos < end:
            n = min(_COPY_SIZE, end - pos)
            f.seek(pos)
            piece = f.read(n)
            f.seek(pos + delta)
            f.write(piece)
            pos += n
    else:
        pos = end
        while pos > start:
            n = min(_COPY_SIZE, pos - start)
            f.seek(pos - n)
            piece = f.read(n)
            f.seek(pos - n + delta)
            f.write(piece)
            pos -= n


def write_car(out: BinaryIO, roots: Sequence[CID], blocks: Iterable[Block]) -> int:
    """Write a whole CAR v1; return the number of bytes written."""
    writer = CarWriter(out, roots)
    writer.write_blocks(blocks)
    return writer.finish()


# ------------------------------------------------------------------ reading


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = stream.read(n - got)
        if not more:
            raise CarFormatError(f"CAR truncated in {what}: expected {n} bytes, got {got}")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_varint(stream: BinaryIO, *, eof_ok: bool) -> int | None:
    result = 0
    shift = 0
    first = True
    while True:
        b = stream.read(1)
        if not b:
            if first and eof_ok:
                return None
            raise CarFormatError("CAR truncated inside a length prefix")
        first = False
        result |= (b[0] & 0x7F) << shift
        if b[0] < 0x80:
            return result
        shift += 7
        if shift > 56:
            raise CarFormatError("CAR length prefix is not a valid varint")


def _cid_link(tag: cbor2.CBORTag, _immutable: bool) -> CID:
    """A dag-cbor link (tag 42: byte 0x00 then the binary CID); any other tag is refused.

    (cbor2's ``tag_hook``, called for every tag it has no decoder of.)"""
    inner = tag.value
    if tag.tag != _TAG_CID or not isinstance(inner, bytes) or not inner.startswith(b"\x00"):
        raise CarFormatError(f"CAR header has an unexpected CBOR tag {tag.tag}")
    try:
        cid, used = cid_from_bytes(inner[1:])
    except UnsupportedCIDError:  # a root is only a name (never trusted): any well-formed CID will do
        try:
            return CID.decode(inner[1:])
        except (ValueError, KeyError) as exc:
            raise CarFormatError(f"CAR header root is not a usable CID: {exc}") from None
    except InvalidCIDError as exc:
        raise CarFormatError(f"CAR header root is not a usable CID: {exc}") from None
    if used != len(inner) - 1:
        raise CarFormatError("CAR header root CID has trailing bytes")
    return cid


def decode_dag_cbor(raw: bytes) -> object:
    """A dag-cbor value (a block, or a CAR header), links as :class:`CID`; any other tag is refused."""
    decoder = cbor2.CBORDecoder(io.BytesIO(raw), tag_hook=_cid_link)
    try:
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, RecursionError) as exc:
        if isinstance(exc.__cause__, CarFormatError):
            raise exc.__cause__ from None
        raise CarFormatError(f"not valid dag-cbor: {exc}") from None
    return value


def _decode_header(raw: bytes) -> tuple[int, list[CID]]:
    decoder = cbor2.CBORDecoder(io.BytesIO(raw), tag_hook=_cid_link)
    try:
        header = decoder.decode()
        try:
            decoder.decode()
            trailing = True
        except cbor2.CBORDecodeEOF:
            trailing = False
    except (cbor2.CBORError, ValueError, TypeError, RecursionError) as exc:
        if isinstance(exc.__cause__, CarFormatError):
            raise exc.__cause__ from None
        raise CarFormatError(f"CAR header is not valid CBOR: {exc}") from None
    if trailing:
        raise CarFormatError("CAR header has trailing bytes")
    if not isinstance(header, dict) or not isinstance(header.get("version"), int):
        raise CarFormatError("CAR header is not a map with a version")
    version = header["version"]
    if version == 2:
        return 2, []
    if version != 1:
        raise CarFormatError(f"unsupported CAR version {version}; this reader handles CAR v1 and v2")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
        raise CarFormatError("CAR v1 header has no list of root CIDs")
    return 1, roots


class _Limited(io.RawIOBase):
    """A read-only view of the next ``size`` bytes of a stream (CAR v2's inner v1)."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._left)
        data = self._stream.read(n) if n else b""
        buf[: len(data)] = data
        self._left -= len(data)
        return len(data)


def read_car(
    stream: BinaryIO,
    *,
    max_block_size: int = MAX_BLOCK_SIZE,
    verify: bool = True,
) -> tuple[list[CID], Iterator[Block]]:
    """Read a CAR's roots now and return an iterator over its verified blocks.

    Raises :class:`CarFormatError` for a truncated or malformed CAR,
    :class:`BlockIntegrityError` for a block that does not match its CID,
    :class:`BlockTooLargeError` for a section over ``max_block_size``.
    """
    length = _read_varint(stream, eof_ok=True)
    if length is None:
        raise CarFormatError("empty stream: not a CAR")
    if length == 0 or length > MAX_HEADER_SIZE:
        raise CarFormatError(f"CAR header length {length} is out of range")
    raw = _read_exact(stream, length, "the header")
    version, roots = _decode_header(raw)
    if version == 2:
        if uvarint(length) + raw != CARV2_PRAGMA:
            raise CarFormatError("malformed CAR v2 pragma")
        fixed = _read_exact(stream, 40, "the CAR v2 header")
        data_offset = int.from_bytes(fixed[16:24], "little")
        data_size = int.from_bytes(fixed[24:32], "little")
        skip = data_offset - len(CARV2_PRAGMA) - 40
        if skip < 0:
            raise CarFormatError("CAR v2 data offset points inside its header")
        _read_exact(stream, skip, "the CAR v2 padding")
        inner: BinaryIO = io.BufferedReader(_Limited(stream, data_size))
        return read_car(inner, max_block_size=max_block_size, verify=verify)
    return roots, _iter_blocks(stream, max_block_size, verify)


def _iter_blocks(stream: BinaryIO, max_block_size: int, verify: bool) -> Iterator[Block]:
    limit = max_block_size + 128  # room for the CID
    while True:
        length = _read_varint(stream, eof_ok=True)
        if length is None:
            return
        if length == 0:
            raise CarFormatError("CAR section of length 0")
        if length > limit:
            raise BlockTooLargeError(
                f"CAR section of {length} bytes exceeds the {max_block_size}-byte block limit"
            )
        section = _read_exact(stream, length, "a block")
        try:
            cid, used = cid_from_bytes(section)
        except (InvalidCIDError, UnsupportedCIDError) as exc:
            raise CarFormatError(f"CAR section has a bad CID: {exc}") from None
        data = section[used:]
        if verify:
            verify_block(cid, data, max_size=max_block_size)
        yield Block(cid, data)
