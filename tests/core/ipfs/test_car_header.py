"""The CAR v1 header (dag-cbor, written and read with cbor2): golden bytes and what a reader refuses."""

from __future__ import annotations

import io

import pytest
from multiformats import CID

from scatter.ipfs import read_car
from scatter.ipfs.car import encode_header
from scatter.ipfs.errors import CarFormatError
from scatter.ipfs.varint import uvarint

V0 = CID.decode("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX")
V1 = CID.decode("bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq")
#: ``{"roots": [V0, V1], "version": 1}`` as go-car and the previous hand-written encoder wrote it.
GOLDEN = bytes.fromhex(
    "61a265726f6f747382d82a58230012207bb129136cd5c391f6a2401e5cb7317575dcf79352249536bea3a937aef9bd9c"
    "d82a582500015512202cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98246776657273696f6e01"
)


def test_header_bytes_are_canonical_dag_cbor() -> None:
    assert encode_header([V0, V1]) == GOLDEN
    roots, blocks = read_car(io.BytesIO(GOLDEN))
    assert roots == [V0, V1] and list(blocks) == []


def _header(body: bytes) -> io.BytesIO:
    return io.BytesIO(uvarint(len(body)) + body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (GOLDEN[1:] + b"\x00", "trailing bytes"),
        (GOLDEN[1:].replace(b"\xd8\x2a", b"\xd8\x2b", 1), "unexpected CBOR tag 43"),
        (b"\x9f" * 1000, "not valid CBOR"),  # nesting without end
        (b"\xa1\x65roots\x80", "not a map with a version"),
    ],
    ids=["trailing", "tag-43", "deep", "no-version"],
)
def test_malformed_header_is_one_car_format_error(body: bytes, reason: str) -> None:
    with pytest.raises(CarFormatError, match=reason):
        read_car(_header(body))
