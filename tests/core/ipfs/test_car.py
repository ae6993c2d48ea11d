"""CAR v1 writing in one pass and reading with verification of every block."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.ipfs import Block, CarWriter, import_bytes, read_car, write_car
from scatter.ipfs.car import encode_header
from scatter.ipfs.errors import BlockIntegrityError, BlockTooLargeError, CarFormatError

DATA = random.Random(1).randbytes(700_000)  # deterministic: test ids and xdist workers agree


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable stream (like a socket or stdout pipe)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.buf += b
        return len(b)


def _car(version: int = 1) -> tuple[bytes, list[Block]]:
    root, blocks = import_bytes(DATA, cid_version=version)
    out = io.BytesIO()
    write_car(out, [root], blocks)
    return out.getvalue(), blocks


@pytest.mark.parametrize("version", [0, 1])
def test_root_known_only_at_finish_gives_the_same_car_as_root_known_first(version: int) -> None:
    expected, blocks = _car(version)
    out = io.BytesIO()
    writer = CarWriter(out)
    writer.write_blocks(blocks)
    size = writer.finish([blocks[-1].cid])
    assert out.getvalue() == expected
    assert size == len(expected)


def test_root_known_only_at_finish_on_a_non_seekable_stream_is_spooled() -> None:
    expected, blocks = _car(1)
    pipe = _Pipe()
    writer = CarWriter(pipe)  # type: ignore[arg-type]
    writer.write_blocks(blocks)
    writer.finish([blocks[-1].cid])
    assert bytes(pipe.buf) == expected


def test_read_car_returns_roots_and_every_block_verified() -> None:
    raw, blocks = _car()
    roots, it = read_car(io.BytesIO(raw))
    assert roots == [blocks[-1].cid]
    assert [b.cid for b in it] == [b.cid for b in blocks]


def test_duplicate_blocks_are_written_once() -> None:
    root, blocks = import_bytes(bytes(4 * 262144))  # four identical zero chunks
    out = io.BytesIO()
    writer = CarWriter(out, [root])
    writer.write_blocks(blocks)
    writer.finish()
    assert len(blocks) == 5
    assert writer.block_count == 2


def test_truncated_car_is_rejected() -> None:
    raw, _ = _car()
    _roots, it = read_car(io.BytesIO(raw[:-10]))
    with pytest.raises(CarFormatError, match="truncated"):
        list(it)


def test_corrupt_block_is_rejected() -> None:
    raw = bytearray(_car()[0])
    raw[len(raw) // 2] ^= 0x01
    _, it = read_car(io.BytesIO(bytes(raw)))
    with pytest.raises(BlockIntegrityError):
        list(it)


def test_oversized_section_is_rejected_before_it_is_read() -> None:
    header = encode_header([import_bytes(b"x")[0]])
    section_len = bytes([0x80, 0x80, 0x80, 0x10])  # 32 MiB
    _, it = read_car(io.BytesIO(header + section_len))
    with pytest.raises(BlockTooLargeError):
        list(it)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\x05\xa1\x61x\x01\x00", b"\x02\xf6\x00", b"\x0b" + b"\xa1gversion\x03"],
    ids=["empty", "zero-length-header", "no-version", "not-a-map", "version-3"],
)
def test_malformed_headers_are_rejected(raw: bytes) -> None:
    with pytest.raises(CarFormatError):
        read_car(io.BytesIO(raw))


def test_car_v2_payload_is_read() -> None:
    inner, blocks = _car()
    pragma = bytes.fromhex("0aa16776657273696f6e02")
    offset = len(pragma) + 40
    fixed = bytes(16) + offset.to_bytes(8, "little") + len(inner).to_bytes(8, "little") + bytes(8)
    roots, it = read_car(io.BytesIO(pragma + fixed + inner))
    assert roots == [blocks[-1].cid]
    assert len(list(it)) == len(blocks)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 300), links=st.integers(2, 6))
def test_any_import_survives_a_car_round_trip(data: bytes, chunk: int, links: int) -> None:
    from scatter.ipfs import UnixFSImporter

    imp = UnixFSImporter(1, chunk, links)
    blocks = imp.write(data) + imp.finish()
    out = io.BytesIO()
    writer = CarWriter(out)
    writer.write_blocks(blocks)
    writer.finish([imp.root])
    out.seek(0)
    roots, it = read_car(out)
    assert roots == [imp.root]
    assert {b.cid for b in it} == {b.cid for b in blocks}
