"""UnixFS HAMT-sharded directories: the hash and the lookup of a name (boxo's ``hamt``).

A sharded directory is a tree of dag-pb ``HAMTShard`` nodes. A name's position is
read from ``murmur3-x64-64`` of the name (the first 64-bit half of MurmurHash3
x64-128, seed 0, big-endian): ``log2(fanout)`` bits per level, most significant
first. In a node, a link named by the index alone (two upper-case hex digits for
fanout 256) is a sub-shard; one named index + entry name is the entry.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_FANOUT", "hamt_index", "murmur3_x64_64"]

DEFAULT_FANOUT: Final = 256
_M: Final = (1 << 64) - 1
_C1: Final = 0x87C37B91114253D5
_C2: Final = 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M
    return k ^ (k >> 33)


def _mix_k1(k1: int) -> int:
    return (_rotl((k1 * _C1) & _M, 31) * _C2) & _M


def _mix_k2(k2: int) -> int:
    return (_rotl((k2 * _C2) & _M, 33) * _C1) & _M


def murmur3_x64_64(data: bytes) -> bytes:
    """The 8-byte hash a HAMT places names by (h1 of MurmurHash3 x64-128, big-endian)."""
    h1 = h2 = 0
    n = len(data)
    end = n - n % 16
    for i in range(0, end, 16):
        h1 ^= _mix_k1(int.from_bytes(data[i : i + 8], "little"))
        h1 = (_rotl(h1, 27) + h2) & _M
        h1 = (h1 * 5 + 0x52DCE729) & _M
        h2 ^= _mix_k2(int.from_bytes(data[i + 8 : i + 16], "little"))
        h2 = (_rotl(h2, 31) + h1) & _M
        h2 = (h2 * 5 + 0x38495AB5) & _M
    tail = data[end:]
    if len(tail) > 8:
        h2 ^= _mix_k2(int.from_bytes(tail[8:], "little"))
    if tail:
        h1 ^= _mix_k1(int.from_bytes(tail[:8], "little"))
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _M
    h2 = (h2 + h1) & _M
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _M
    return h1.to_bytes(8, "big")


def hamt_index(name: str, level: int, fanout: int = DEFAULT_FANOUT) -> int:
    """The slot of ``name`` in a node ``level`` levels below the root."""
    bits = fanout.bit_length() - 1
    if fanout < 2 or 1 << bits != fanout:
        raise ValueError(f"HAMT fanout must be a power of two, not {fanout}")
    value = int.from_bytes(murmur3_x64_64(name.encode()), "big")
    start = level * bits
    if start + bits > 64:
        raise ValueError(f"HAMT too deep for a 64-bit hash at level {level}")
    return (value >> (64 - start - bits)) & (fanout - 1)


def slot_name(index: int, fanout: int = DEFAULT_FANOUT) -> str:
    """The link-name prefix of slot ``index`` (upper-case hex, fixed width)."""
    width = len(f"{fanout - 1:X}")
    return f"{index:0{width}X}"
