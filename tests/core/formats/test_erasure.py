"""Erasure coding (SCSH v1): any k shards decode, any shard is rebuilt byte for byte, bad sets are named."""

from __future__ import annotations

import io
import itertools
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.formats import erasure
from scatter.formats.errors import (
    FormatError,
    InvalidParametersError,
    MismatchedShardsError,
    NotEnoughShardsError,
    TruncatedError,
    UnsupportedVersionError,
)
from scatter.formats.params import Codec, ErasureParams, parse_shards
from scatter.formats.pipeline import shard_cid
from scatter.formats.shard_schema import HEADER_SIZE, ShardHeader, StripeLayout

VECTOR = json.loads((Path(__file__).parents[2] / "testdata/formats/shards_v1.json").read_text())


def _decode(shards: list[bytes]) -> bytes:
    return b"".join(bytes(b) for b in erasure.decode_shards([io.BytesIO(s) for s in shards]))


def _rebuild(shards: list[bytes], index: int) -> bytes:
    return b"".join(bytes(b) for b in erasure.rebuild_shard([io.BytesIO(s) for s in shards], index))


params_strategy = st.builds(
    lambda kn, block: ErasureParams(k=kn[0], n=kn[1], block_size=block),
    st.tuples(st.integers(2, 6), st.integers(0, 5)).map(lambda t: (t[0], t[0] + t[1])),
    st.sampled_from([64, 100, 1024]),
)


@settings(max_examples=60, deadline=None)
@given(params=params_strategy, data=st.binary(max_size=5000), seed=st.integers(0, 2**32))
def test_any_k_shards_decode_and_rebuild_every_shard(params: ErasureParams, data: bytes, seed: int) -> None:
    shards = erasure.encode_bytes(params, data)
    layout = StripeLayout(params.k, params.block_size, len(data))
    assert all(len(s) == layout.shard_length for s in shards)
    rng = random.Random(seed)
    subset = rng.sample(range(params.n), params.k)
    assert _decode([shards[i] for i in subset]) == data
    missing = rng.randrange(params.n)
    others = [i for i in range(params.n) if i != missing] if params.k < params.n else list(range(params.n))
    sources = rng.sample(others, params.k)
    assert _rebuild([shards[i] for i in sources], missing) == shards[missing]


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_streaming_encoder_matches_whole_buffer_encoding(data: bytes, cuts: list[int]) -> None:
    params = ErasureParams(k=3, n=5, block_size=128)
    enc = erasure.ShardEncoder(params, len(data))
    shards = [bytearray() for _ in range(params.n)]
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    outs = []
    for a, b in itertools.pairwise(bounds):
        outs += enc.update(data[a:b])
    outs += enc.finalize()
    for pieces in outs:
        for shard, piece in zip(shards, pieces, strict=True):
            shard += piece
    assert [bytes(s) for s in shards] == erasure.encode_bytes(params, data)


def test_rebuilt_shard_has_the_same_cid_as_the_lost_one() -> None:
    """What a healing hoster does: k shards from others, no key, the slot's CID checked."""
    params = ErasureParams(k=3, n=6, block_size=256 * 1024)
    data = random.Random(1).randbytes(3 * 256 * 1024 * 2 + 12345)  # multi-block UnixFS DAGs
    shards = erasure.encode_bytes(params, data)
    cids = [shard_cid(io.BytesIO(s)) for s in shards]
    for lost in (0, 4):
        rebuilt = _rebuild([shards[i] for i in (1, 3, 5) if i != lost] + [shards[2]], lost)
        assert shard_cid(io.BytesIO(rebuilt)) == cids[lost]


def test_sixteen_of_thirtytwo_decodes_from_parity_only() -> None:
    params = parse_shards("16/32", block_size=64)
    data = random.Random(2).randbytes(16 * 64 * 3 + 77)
    shards = erasure.encode_bytes(params, data)
    assert _decode(shards[16:]) == data
    assert _rebuild(shards[16:], 7) == shards[7]


def test_replication_is_n_copies_behind_n_headers() -> None:
    params = parse_shards("1/3", block_size=100)
    assert params.codec is Codec.REPLICATION
    data = b"copy me" * 50
    shards = erasure.encode_bytes(params, data)
    assert all(s[HEADER_SIZE:] == data for s in shards)
    assert [ShardHeader.unpack(s).index for s in shards] == [0, 1, 2]
    assert _decode([shards[2]]) == data
    assert _rebuild([shards[1]], 0) == shards[0]


def test_committed_shard_vectors_are_reproduced() -> None:
    ct = bytes.fromhex(VECTOR["ciphertext"])
    for case in VECTOR["cases"]:
        params = ErasureParams(
            k=case["k"], n=case["n"], block_size=case["block_size"], codec=Codec(case["codec"])
        )
        shards = erasure.encode_bytes(params, ct)
        assert [s.hex() for s in shards] == case["shards"]
        assert [str(shard_cid(io.BytesIO(s))) for s in shards] == case["cids"]


def test_systematic_shards_hold_the_ciphertext_in_stripes() -> None:
    """Independent check of the layout: data shards are plain slices, as the docs say."""
    ct = bytes.fromhex(VECTOR["ciphertext"])
    case = VECTOR["cases"][0]
    k, block = case["k"], case["block_size"]
    layout = StripeLayout(k, block, len(ct))
    shards = [bytes.fromhex(h)[HEADER_SIZE:] for h in case["shards"]]
    rebuilt = b""
    offset = 0
    for s in range(layout.stripe_count):
        b, _ = layout.stripe(s)
        rebuilt += b"".join(shards[j][offset : offset + b] for j in range(k))
        offset += b
    assert rebuilt[: len(ct)] == ct
    assert rebuilt[len(ct) :] == bytes(len(rebuilt) - len(ct))


def test_fewer_than_k_shards_is_named() -> None:
    shards = erasure.encode_bytes(ErasureParams(k=3, n=6, block_size=64), b"x" * 1000)
    with pytest.raises(NotEnoughShardsError, match="have 2 usable, need 3"):
        _decode(shards[:2])
    with pytest.raises(NotEnoughShardsError):
        _decode([shards[0], shards[0], shards[0]])  # duplicates do not count


def test_shards_of_different_files_are_refused() -> None:
    p = ErasureParams(k=2, n=4, block_size=64)
    a = erasure.encode_bytes(p, b"a" * 500)
    b = erasure.encode_bytes(p, b"b" * 500)
    with pytest.raises(MismatchedShardsError, match="different file"):
        _decode([a[0], b[1]])


def test_shards_with_different_parameters_are_refused() -> None:
    data = b"z" * 500
    a = erasure.encode_bytes(ErasureParams(k=2, n=4, block_size=64), data)
    b = erasure.encode_bytes(ErasureParams(k=2, n=4, block_size=128), data)
    with pytest.raises(MismatchedShardsError, match="parameters differ"):
        _decode([a[0], b[1]])


def test_forged_header_is_caught_by_the_file_id_check() -> None:
    p = ErasureParams(k=2, n=4, block_size=64)
    a = erasure.encode_bytes(p, b"a" * 500)
    b = erasure.encode_bytes(p, b"b" * 500)
    forged = a[1][:HEADER_SIZE] + b[1][HEADER_SIZE:]
    with pytest.raises(MismatchedShardsError, match="file id"):
        _decode([a[0], forged])


def test_truncated_and_overlong_shards_are_named() -> None:
    shards = erasure.encode_bytes(ErasureParams(k=2, n=3, block_size=64), b"q" * 300)
    with pytest.raises(TruncatedError, match="shard 1 is truncated"):
        _decode([shards[0], shards[1][:-1]])
    with pytest.raises(FormatError, match="after its last stripe"):
        _decode([shards[0], shards[1] + b"\0"])
    with pytest.raises(TruncatedError):
        _decode([shards[0], shards[1][:20]])


def test_unknown_shard_version_and_codec_are_named() -> None:
    shard = bytearray(erasure.encode_bytes(ErasureParams(k=1, n=2, block_size=64), b"v")[0])
    shard[4] = 2
    with pytest.raises(UnsupportedVersionError, match="shard format version 2"):
        _decode([bytes(shard)])
    shard[4], shard[5] = 1, 9
    with pytest.raises(UnsupportedVersionError, match="codec"):
        _decode([bytes(shard)])


def test_parameters_are_validated_with_a_hint() -> None:
    with pytest.raises(InvalidParametersError, match=r"e\.g\. --shards 3/6"):
        ErasureParams(k=4, n=3)
    with pytest.raises(InvalidParametersError, match="k/n"):
        parse_shards("three of six")
    with pytest.raises(InvalidParametersError, match="k must be 1"):
        ErasureParams(k=2, n=3, codec=Codec.REPLICATION)
    with pytest.raises(InvalidParametersError):
        erasure.ShardEncoder(ErasureParams(), 10).update(b"x" * 11)


@settings(max_examples=60, deadline=None)
@given(
    params=params_strategy,
    data=st.binary(min_size=1, max_size=4000),
    pick=st.data(),
)
def test_data_spans_read_any_ciphertext_range_from_data_shards(
    params: ErasureParams, data: bytes, pick: st.DataObject
) -> None:
    shards = erasure.encode_bytes(params, data)
    offset = pick.draw(st.integers(0, len(data)))
    length = pick.draw(st.integers(0, len(data) - offset))
    read_at = erasure.ciphertext_reader(
        ShardHeader.unpack(shards[0]), lambda i, pos, size: shards[i][pos : pos + size]
    )
    assert read_at(offset, length) == data[offset : offset + length]


def test_ranged_download_decrypts_from_data_shards_only() -> None:
    from scatter.formats import aead

    key = bytes(range(32))
    plain = random.Random(9).randbytes(50_000)
    ct = aead.encrypt_bytes(key, plain, 4096)
    shards = erasure.encode_bytes(ErasureParams(k=3, n=6, block_size=1000), ct)
    touched: set[int] = set()

    def read_shard_at(i: int, pos: int, size: int) -> bytes:
        touched.add(i)
        return shards[i][pos : pos + size]

    read_at = erasure.ciphertext_reader(ShardHeader.unpack(shards[0]), read_shard_at)
    assert aead.decrypt_range(key, read_at, len(ct), 20_000, 9_000) == plain[20_000:29_000]
    assert touched <= {0, 1, 2}


def test_auto_block_size_keeps_a_stripe_within_its_memory_budget() -> None:
    from scatter.formats.params import AUTO_STRIPE_BUDGET, auto_block_size

    assert ErasureParams(k=3, n=6).block_size == 1 << 20
    assert parse_shards("16/32").block_size == 1 << 20
    assert [auto_block_size(n) for n in (64, 128, 256)] == [512 << 10, 256 << 10, 128 << 10]
    assert all(n * auto_block_size(n) <= AUTO_STRIPE_BUDGET for n in range(1, 257))
    assert ErasureParams(k=3, n=6, block_size=4096).block_size == 4096
