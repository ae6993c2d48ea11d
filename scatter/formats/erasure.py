"""k-of-n erasure coding of a ciphertext into shards (layout in :mod:`shard_schema`).

* :class:`ShardEncoder` — push-style, one stripe of memory; emits, per stripe, the n
  pieces that go to the end of the n shards (the first emission is the n headers).
* :func:`decode_shards` — the ciphertext back from any k shards (streams).
* :func:`rebuild_shard` — shard ``i`` byte for byte from any k other shards, with no
  key: what a hoster taking over a reopened slot runs before pinning.

The codec is zfec (Tahoe-LAFS's systematic Reed-Solomon over GF(2^8)): shards
0..k-1 hold the ciphertext itself, k..n-1 the parity. Both the layout and the
codec are deterministic, so re-encoding reproduces every shard exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import zfec

from scatter.formats.errors import (
    FormatError,
    InvalidParametersError,
    MismatchedShardsError,
    NotEnoughShardsError,
    TruncatedError,
    TruncatedShardError,
)
from scatter.formats.params import Codec, ErasureParams
from scatter.formats.shard_schema import FILE_ID_SIZE, HEADER_SIZE, ShardHeader, StripeLayout

Buffer = bytes | bytearray | memoryview


class Readable(Protocol):
    """Where shard bytes come from: an open file, a CAR being exported, a network stream."""

    def read(self, size: int = -1, /) -> bytes: ...


def file_id_of(first_stripe: Buffer) -> bytes:
    """The shard header's file id: SHA-256 of the first stripe, first 16 bytes."""
    return hashlib.sha256(first_stripe).digest()[:FILE_ID_SIZE]


class _Codec:
    """One stripe in, n blocks out (and back), for one set of parameters."""

    def __init__(self, params: ErasureParams) -> None:
        self.params = params
        self._zfec = params.codec is Codec.ZFEC
        self._encoder = zfec.Encoder(params.k, params.n) if self._zfec else None
        self._decoder = zfec.Decoder(params.k, params.n) if self._zfec else None

    def encode(self, stripe: Buffer, block: int, wanted: Sequence[int] | None = None) -> list[Buffer]:
        """Blocks of one stripe; ``stripe`` is exactly ``k * block`` bytes."""
        view = memoryview(stripe)
        k, n = self.params.k, self.params.n
        if self._encoder is None:
            return [view] * (n if wanted is None else len(wanted))
        data = [view[j * block : (j + 1) * block] for j in range(k)]
        if wanted is None:
            return list(self._encoder.encode(data))
        return list(self._encoder.encode(data, list(wanted)))

    def decode(self, blocks: Sequence[Buffer], indexes: Sequence[int]) -> list[Buffer]:
        """The k data blocks of one stripe from k blocks with the given shard indexes."""
        if self._decoder is None:
            return [blocks[0]]
        if list(indexes) == list(range(self.params.k)):
            return list(blocks)
        return list(self._decoder.decode(list(blocks), list(indexes)))


class ShardEncoder:
    """Turns a ciphertext of known length into n shards, one stripe at a time.

    Call :meth:`update` with the ciphertext in order, then :meth:`finalize`. Each
    returned item is a list of n pieces: piece ``i`` is appended to shard ``i``.
    """

    def __init__(self, params: ErasureParams, ciphertext_length: int) -> None:
        if ciphertext_length < 0:
            raise InvalidParametersError("ciphertext length must be >= 0")
        self.params = params
        self.layout = StripeLayout(params.k, params.block_size, ciphertext_length)
        self._codec = _Codec(params)
        self._pending = bytearray()
        self._stripe = 0
        self._received = 0
        self._headers_sent = False
        self._done = False

    def headers(self, file_id: bytes) -> list[bytes]:
        p = self.params
        return [
            ShardHeader(
                codec=p.codec,
                k=p.k,
                n=p.n,
                index=i,
                block_size=p.block_size,
                ciphertext_length=self.layout.ciphertext_length,
                file_id=file_id,
            ).pack()
            for i in range(p.n)
        ]

    def _emit(self, out: list[list[Buffer]]) -> None:
        layout = self.layout
        while self._stripe < layout.stripe_count:
            block, length = layout.stripe(self._stripe)
            if len(self._pending) < length:
                return
            with memoryview(self._pending) as view:
                stripe = bytes(view[:length])
            del self._pending[:length]
            if not self._headers_sent:
                out.append(list(self.headers(file_id_of(stripe))))
                self._headers_sent = True
            if length < block * self.params.k:
                stripe += bytes(block * self.params.k - length)
            out.append(self._codec.encode(stripe, block))
            self._stripe += 1

    def update(self, data: Buffer) -> list[list[Buffer]]:
        if self._done:
            raise InvalidParametersError("shard encoder already finalized")
        self._received += len(data)
        if self._received > self.layout.ciphertext_length:
            raise InvalidParametersError(
                f"more ciphertext than announced ({self._received} > {self.layout.ciphertext_length} bytes); "
                "did the input change while encoding?"
            )
        self._pending += data
        out: list[list[Buffer]] = []
        self._emit(out)
        return out

    def finalize(self) -> list[list[Buffer]]:
        if self._done:
            raise InvalidParametersError("shard encoder already finalized")
        self._done = True
        if self._received != self.layout.ciphertext_length:
            raise TruncatedError(
                f"ciphertext ended at {self._received} of {self.layout.ciphertext_length} announced bytes; "
                "did the input change while encoding?"
            )
        out: list[list[Buffer]] = []
        if not self._headers_sent:  # empty ciphertext: header-only shards
            out.append(list(self.headers(file_id_of(b""))))
            self._headers_sent = True
        return out


def encode_bytes(params: ErasureParams, ciphertext: Buffer) -> list[bytes]:
    """All n shards of a whole buffer (tests and small files)."""
    enc = ShardEncoder(params, len(ciphertext))
    shards = [bytearray() for _ in range(params.n)]
    for pieces in [*enc.update(ciphertext), *enc.finalize()]:
        for shard, piece in zip(shards, pieces, strict=True):
            shard += piece
    return [bytes(s) for s in shards]


def read_header(stream: Readable) -> ShardHeader:
    """Read and parse the header at the stream's position."""
    return ShardHeader.unpack(stream.read(HEADER_SIZE))


class ShardSet:
    """At least k shards of one encoding of one file, checked to belong together."""

    def __init__(self, streams: Iterable[Readable], *, names: Sequence[str] | None = None) -> None:
        chosen: dict[int, tuple[ShardHeader, Readable]] = {}
        reference: ShardHeader | None = None
        ref_name = ""
        for pos, stream in enumerate(streams):
            name = names[pos] if names is not None else f"shard #{pos}"
            header = read_header(stream)
            if reference is None:
                reference, ref_name = header, name
            elif header.family() != reference.family():
                raise MismatchedShardsError(
                    f"{name} does not belong with {ref_name}: {_difference(header, reference)}; "
                    "give shards of one file and one encoding"
                )
            chosen.setdefault(header.index, (header, stream))
        if reference is None:
            raise NotEnoughShardsError(0, 1)
        if len(chosen) < reference.k:
            raise NotEnoughShardsError(len(chosen), reference.k)
        self.header = reference
        self.params = reference.params()
        self.layout = StripeLayout(reference.k, reference.block_size, reference.ciphertext_length)
        # Data shards first: with all of them present, decoding is a copy.
        self._use = sorted(chosen)[: reference.k]
        self._streams = [chosen[i][1] for i in self._use]
        self._codec = _Codec(self.params)

    @property
    def indexes(self) -> list[int]:
        return list(self._use)

    def stripes(self) -> Iterator[list[Buffer]]:
        """The k data blocks of each stripe, padding stripped from the last; checks file id and lengths."""
        layout = self.layout
        for s in range(layout.stripe_count):
            block, length = layout.stripe(s)
            blocks: list[Buffer] = []
            for i, stream in zip(self._use, self._streams, strict=True):
                data = stream.read(block)
                if len(data) != block:
                    raise TruncatedShardError(
                        f"shard {i} is truncated: stripe {s} has {len(data)} of {block} bytes; "
                        "fetch it again",
                        index=i,
                    )
                blocks.append(data)
            data_blocks = self._codec.decode(blocks, self._use)
            if length < block * self.params.k:
                data_blocks = _trim(data_blocks, length)
            if s == 0 and file_id_of(b"".join(data_blocks)) != self.header.file_id:
                raise MismatchedShardsError(
                    f"shards {self._use} decode to data whose file id does not match their headers: "
                    "they are from different files or corrupted"
                )
            yield data_blocks
        for i, stream in zip(self._use, self._streams, strict=True):
            if stream.read(1):
                raise FormatError(f"shard {i} has bytes after its last stripe; it is not a valid shard")
        if layout.stripe_count == 0 and self.header.file_id != file_id_of(b""):
            raise MismatchedShardsError("empty shards with a non-empty file id: the headers were altered")


def _trim(blocks: list[Buffer], length: int) -> list[Buffer]:
    out: list[Buffer] = []
    left = length
    for b in blocks:
        if left <= 0:
            break
        out.append(memoryview(b)[:left] if len(b) > left else b)
        left -= len(b)
    return out


def _difference(a: ShardHeader, b: ShardHeader) -> str:
    if (a.version, a.codec, a.k, a.n, a.block_size) != (b.version, b.codec, b.k, b.n, b.block_size):
        return (
            f"parameters differ ({a.k}/{a.n} codec {int(a.codec)} block {a.block_size} v{a.version} vs "
            f"{b.k}/{b.n} codec {int(b.codec)} block {b.block_size} v{b.version})"
        )
    return "it is a shard of a different file"


def ciphertext_reader(
    header: ShardHeader, read_shard_at: Callable[[int, int, int], bytes]
) -> Callable[[int, int], bytes]:
    """A ``read_at(offset, size)`` over the ciphertext that reads ranges of the data shards.

    ``read_shard_at(shard index, offset, size)`` fetches bytes of one data shard
    (e.g. an HTTP range request to a hoster's gateway). With
    :func:`scatter.formats.aead.decrypt_range` this gives ranged downloads that
    fetch only the segments needed and decode nothing.
    """
    layout = StripeLayout(header.k, header.block_size, header.ciphertext_length)

    def read_at(offset: int, size: int) -> bytes:
        parts = []
        for index, pos, length in layout.data_spans(offset, size):
            piece = read_shard_at(index, pos, length)
            if len(piece) != length:
                raise TruncatedShardError(
                    f"shard {index}: read {len(piece)} of {length} bytes at {pos}", index=index
                )
            parts.append(piece)
        return b"".join(parts)

    return read_at


def decode_shards(streams: Iterable[Readable]) -> Iterator[Buffer]:
    """The ciphertext, in order, from any k shards (extra shards are ignored)."""
    for blocks in ShardSet(streams).stripes():
        yield from blocks


def rebuild_shard(streams: Iterable[Readable], index: int) -> Iterator[Buffer]:
    """Shard ``index`` (header included), byte for byte, from any k shards of the same file."""
    shards = ShardSet(streams)
    header = shards.header
    if not 0 <= index < header.n:
        raise InvalidParametersError(f"shard index {index} out of range 0..{header.n - 1}")
    yield ShardHeader(
        codec=header.codec,
        k=header.k,
        n=header.n,
        index=index,
        block_size=header.block_size,
        ciphertext_length=header.ciphertext_length,
        file_id=header.file_id,
        version=header.version,
    ).pack()
    codec = _Codec(shards.params)
    layout = shards.layout
    for s, blocks in enumerate(shards.stripes()):
        block, length = layout.stripe(s)
        stripe = b"".join(blocks)
        if length < block * header.k:
            stripe += bytes(block * header.k - length)
        yield codec.encode(stripe, block, [index])[0]
