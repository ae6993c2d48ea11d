"""The HAMT hash: murmur3-x64-64 as boxo and ipfs-unixfs-importer compute it."""

from __future__ import annotations

import pytest

from scatter.ipfs.hamt import hamt_index, murmur3_x64_64, slot_name


@pytest.mark.parametrize(
    ("data", "h1"),
    [
        (b"", 0x0000000000000000),
        (b"hello", 0xCBD8A7B341BD9B02),  # MurmurHash3_x64_128("hello", seed 0), first half
    ],
)
def test_murmur3_matches_the_reference(data: bytes, h1: int) -> None:
    assert murmur3_x64_64(data) == h1.to_bytes(8, "big")


def test_each_level_takes_the_next_byte_of_the_hash() -> None:
    digest = murmur3_x64_64(b"hello")
    assert [hamt_index("hello", level) for level in range(8)] == list(digest)
    assert slot_name(hamt_index("hello", 0)) == "CB"
