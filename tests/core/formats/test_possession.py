"""Possession tree v2: the fast paths (native, wasm) against the plain-Python reference, vectors,
proofs, cache. The native extension's own checks (lanes, GIL) are in test_possession_native.py."""

from __future__ import annotations

import io
import json
import random
import subprocess
from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.formats import pipeline, possession, vectors
from scatter.formats._merkle import NativeHasher, WasmHasher, _native, wasm_bytes
from scatter.formats.errors import FormatError, TruncatedError, UnsupportedVersionError
from scatter.formats.manifest_schema import Manifest
from scatter.formats.params import ErasureParams
from scatter.formats.possession import (
    PossessionCache,
    PossessionRoot,
    ReferenceHasher,
    build_proof,
    cap_levels,
    challenge_indices,
    depth,
    possession_root,
    reference_root,
    segment_count,
    verify_proof,
)
from tests.wasm_build import needs_clang_14

VECTORS = Path(__file__).parents[2] / "testdata/possession_vectors.json"
REF = ReferenceHasher()
NATIVE_BUILT = pytest.mark.skipif(_native is None, reason="the native extension was not built (no compiler)")
FAST = [pytest.param("native", marks=NATIVE_BUILT), "wasm"]


def _fast(name: str) -> possession.Hasher:
    return NativeHasher() if name == "native" else WasmHasher()


def _reader(data: bytes) -> possession.ReadRange:
    return lambda offset, length: data[offset : offset + length]


def _cases() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = json.loads(VECTORS.read_text())["cases"]
    return cases


# ----------------------------------------------------------------------------- shape


@pytest.mark.parametrize(
    ("size", "n", "d", "c"),
    [
        (1, 1, 1, 1),
        (128, 1, 1, 1),
        (129, 2, 1, 1),
        (256, 2, 1, 1),
        (257, 3, 2, 2),
        (512, 4, 2, 2),
        (513, 5, 3, 3),
        (1025, 9, 4, 3),
        (128 << 20, 1 << 20, 20, 3),
    ],
)
def test_segment_count_depth_and_cap(size: int, n: int, d: int, c: int) -> None:
    assert (segment_count(size), depth(size), cap_levels(size)) == (n, d, c)
    assert possession.proof_size(size) == 20 * 2**c + 5 * (128 + 20 * (d - c))


def test_proof_sizes_quoted_in_the_docs() -> None:
    assert possession.proof_size(1 << 30) == 2800  # 1 GiB, D = 23
    assert possession.proof_size(64 << 10) == 1400


def test_an_empty_shard_has_no_tree() -> None:
    with pytest.raises(FormatError, match="at least one byte"):
        segment_count(0)
    with pytest.raises(FormatError):
        PossessionRoot().finish()


def test_reference_root_by_hand_for_two_segments() -> None:
    data = b"\x01" * 129
    left = keccak(data[:128])[:20]
    right = keccak(data[128:] + bytes(127))[:20]
    assert reference_root(data) == keccak(left + right)[:20] + bytes(12)
    one = keccak(b"\x07" + bytes(127))[:20]
    assert reference_root(b"\x07") == keccak(one + keccak(bytes(128))[:20])[:20] + bytes(12)


# ----------------------------------------------------------------------------- vectors


def test_committed_vectors_are_current() -> None:
    assert VECTORS.read_text(encoding="utf-8") == vectors.render_possession(), (
        "possession_vectors.json differs from a fresh generation: the format changed; bump its version, "
        "then run python -m scatter.formats.vectors --possession tests/testdata/possession_vectors.json"
    )


def test_vectors_cover_the_required_sizes() -> None:
    sizes = [c["size"] for c in _cases()]
    assert sizes == [1, 127, 128, 129, 256, 384, 647, 4099, 65613]
    head = json.loads(VECTORS.read_text())
    assert (head["version"], head["segment"], head["node"], head["cap_levels"]) == (2, 128, 20, 3)


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize("case", _cases(), ids=lambda c: str(c["size"]))
def test_fast_paths_match_each_vector(case: dict[str, object], fast: str) -> None:
    hasher = _fast(fast)
    data = bytes.fromhex(str(case["data_hex"]))
    root = bytes.fromhex(str(case["root"])[2:])
    seed = bytes.fromhex(str(case["seed"])[2:])
    proof = bytes.fromhex(str(case["proof"])[2:])
    assert possession_root(data, hasher=hasher) == root
    assert challenge_indices(seed, len(data)) == case["indices"]
    indices = challenge_indices(seed, len(data))
    assert build_proof(_reader(data), len(data), indices, hasher=hasher) == proof
    assert verify_proof(root, len(data), seed, proof)


def test_the_default_path_matches_the_vectors() -> None:
    for case in _cases():
        assert "0x" + possession_root(bytes.fromhex(str(case["data_hex"]))).hex() == case["root"]


# ----------------------------------------------------------------------------- fast == reference


@pytest.mark.parametrize("fast", FAST)
@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=5000), cuts=st.lists(st.integers(1, 700), max_size=8))
def test_fast_paths_match_reference_on_any_bytes_and_any_pieces(
    fast: str, data: bytes, cuts: list[int]
) -> None:
    builder = PossessionRoot(hasher=_fast(fast), keep_level=2)
    pos = 0
    for cut in cuts:
        builder.update(data[pos : pos + cut])
        pos += cut
    builder.update(data[pos:])
    assert builder.finish() == reference_root(data) == possession_root(data, hasher=REF)


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize(
    "size", [128 << 11, (128 << 11) + 1, (128 << 12) - 5, 3 * (128 << 11) + 128, (128 << 13) + 77, 2_500_000]
)
def test_fast_paths_match_reference_across_chunk_boundaries(size: int, fast: str) -> None:
    data = random.Random(size).randbytes(size)
    want = possession_root(data, hasher=REF)
    assert possession_root(data, hasher=_fast(fast)) == want
    builder = PossessionRoot(hasher=_fast(fast))
    rng = random.Random(1)
    pos = 0
    while pos < size:
        step = rng.choice([1, 127, 4096, 300_000, 1 << 20])
        builder.update(memoryview(data)[pos : pos + step])
        pos += step
    assert builder.finish() == want


def test_wasm_bulk_functions_match_reference() -> None:
    wasm = WasmHasher()
    data = random.Random(3).randbytes(128 * 9000)  # beyond one call's 8192 segments
    assert wasm.leaves(data) == REF.leaves(data)
    nodes = REF.leaves(data)
    assert wasm.parents(nodes) == REF.parents(nodes)
    assert wasm.subtree(data[: 128 * 16384] + bytes(128 * 16384 - len(data))) == REF.subtree(
        data + bytes(128 * 16384 - len(data))
    )
    for n in (0, 1, 135, 136, 137, 1000):
        assert wasm.keccak256(data[:n]) == keccak(data[:n])


def test_committed_wasm_is_small_and_exports_the_routines() -> None:
    blob = wasm_bytes()
    assert blob[:4] == b"\0asm"
    assert len(blob) < 16 * 1024
    for name in (b"hash_leaves", b"hash_parents", b"subtree_root", b"keccak256"):
        assert name in blob


def test_wasm_calls_release_the_gil() -> None:
    # wasmtime calls its C API through ctypes.CDLL, which drops the GIL for the call (PyDLL would
    # not): that is what lets the sink threads hash alongside erasure coding.
    import ctypes

    from wasmtime import _ffi

    assert not _ffi.dll._func_flags_ & ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


@needs_clang_14
def test_committed_wasm_is_what_make_wasm_builds(tmp_path: Path) -> None:
    # The flags of the Makefile's wasm target; the build is reproducible byte for byte.
    root = Path(__file__).parents[3]
    built = tmp_path / "merkle.wasm"
    source = root / "scatter/formats/_merkle/merkle.c"
    subprocess.run(
        [
            "clang",
            "--target=wasm32",
            "-nostdlib",
            "-fno-builtin",
            "-O3",
            "-Wl,--no-entry",
            "-Wl,--export-dynamic",
            "-Wl,--strip-all",
            "-o",
            str(built),
            str(source),
        ],
        check=True,
    )
    assert built.read_bytes() == wasm_bytes(), "merkle.wasm is stale: run make wasm"


def test_update_after_finish_is_refused() -> None:
    builder = PossessionRoot()
    builder.update(b"x")
    root = builder.finish()
    assert builder.finish() == root
    with pytest.raises(FormatError, match="after finish"):
        builder.update(b"y")


# ----------------------------------------------------------------------------- proofs


def _proof_case(size: int) -> tuple[bytes, bytes, bytes, bytes]:
    data = random.Random(size).randbytes(size)
    seed = keccak(b"seed" + size.to_bytes(8, "big"))
    root = possession_root(data)
    return data, root, seed, build_proof(_reader(data), size, challenge_indices(seed, size))


def test_challenge_indices_follow_abi_encode() -> None:
    seed = bytes(range(32))
    n = segment_count(10**6)
    want = [int.from_bytes(keccak(seed + j.to_bytes(32, "big")), "big") % n for j in range(5)]
    assert challenge_indices(seed, 10**6) == want
    with pytest.raises(FormatError, match="32 bytes"):
        challenge_indices(b"short", 100)


def test_a_proof_verifies_and_any_altered_byte_breaks_it() -> None:
    size = 300_001
    _, root, seed, proof = _proof_case(size)
    assert len(proof) == possession.proof_size(size)
    assert verify_proof(root, size, seed, proof)
    cap = 20 * 2 ** cap_levels(size)
    step = (len(proof) - cap) // 5
    for pos in (0, cap - 1, cap, cap + 127, cap + 128, cap + step - 1, cap + 4 * step + 5, len(proof) - 1):
        bad = bytearray(proof)
        bad[pos] ^= 1
        assert not verify_proof(root, size, seed, bytes(bad)), pos


def test_verify_refuses_malformed_inputs() -> None:
    size = 50_000
    _, root, seed, proof = _proof_case(size)
    other_seed = bytes(32)
    assert not verify_proof(root, size, other_seed, proof)
    assert not verify_proof(root, size, seed, proof[:-1])
    assert not verify_proof(root, size, seed, proof + b"\0")
    assert not verify_proof(root[:20] + b"\x01" + root[21:], size, seed, proof)  # tail not zero
    assert not verify_proof(root[:31] + b"\x01", size, seed, proof)
    assert not verify_proof(root[:20], size, seed, proof)
    assert not verify_proof(root, 0, seed, proof)
    assert not verify_proof(root, size * 4, seed, proof)  # another depth
    assert not verify_proof(root, size, seed[:31], proof)


def test_build_proof_needs_five_indices_and_whole_reads() -> None:
    data = bytes(1000)
    with pytest.raises(FormatError, match="5 indices"):
        build_proof(_reader(data), 1000, [0, 1])
    with pytest.raises(TruncatedError):
        build_proof(lambda o, n: data[o : o + n // 2], 1000, [0] * 5)
    cache = PossessionCache.build(_reader(data), 1000)
    with pytest.raises(FormatError, match="segment 8 outside"):
        build_proof(_reader(data), 1000, [8, 0, 0, 0, 0], cache=cache)
    with pytest.raises(FormatError, match="1000-byte shard"):
        build_proof(_reader(data), 999, [0] * 5, cache=cache)


# ----------------------------------------------------------------------------- cache


def test_cache_is_small_and_proofs_read_only_one_subtree_each() -> None:
    size = 5 * (128 << 10) + 1000  # 5 subtrees of 1024 segments and a bit
    data = random.Random(9).randbytes(size)
    cache = PossessionCache.build(_reader(data), size)
    assert cache.level == possession.CACHE_LEVEL
    assert len(cache.to_bytes()) == 14 + 20 * 6
    assert cache.root == possession_root(data)
    reads: list[tuple[int, int]] = []

    def counting(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return data[offset : offset + length]

    seed = bytes(range(1, 33))
    indices = challenge_indices(seed, size)
    proof = build_proof(counting, size, indices, cache=cache)
    assert verify_proof(cache.root, size, seed, proof)
    assert len(reads) == 5 and all(length <= 128 << 10 for _, length in reads)


@pytest.mark.parametrize(
    ("size", "level"), [(1, 10), (300, 0), (300, 1), (5000, 3), (200_000, 10), (200_000, 20)]
)
def test_cache_at_any_level_gives_the_reference_proof(size: int, level: int) -> None:
    data = random.Random(size + level).randbytes(size)
    cache = PossessionCache.from_bytes(PossessionCache.build(_reader(data), size, level=level).to_bytes())
    assert cache.level == min(level, depth(size))
    assert cache.root == reference_root(data)
    seed = keccak(bytes([level]))
    indices = challenge_indices(seed, size)
    fast = build_proof(_reader(data), size, indices, cache=cache)
    assert fast == build_proof(_reader(data), size, indices, hasher=REF)
    assert verify_proof(cache.root, size, seed, fast)


def test_cache_bytes_are_versioned_and_checked() -> None:
    data = bytes(range(256)) * 40
    blob = PossessionCache.build(_reader(data), len(data), level=2).to_bytes()
    assert blob[:4] == b"SCPC" and blob[4] == 2
    for other in (b"\x01", b"\x03"):  # version 1 held 24-byte nodes: never read as 20-byte ones
        with pytest.raises(UnsupportedVersionError):
            PossessionCache.from_bytes(blob[:4] + other + blob[5:])
    with pytest.raises(FormatError, match="magic"):
        PossessionCache.from_bytes(b"XXXX" + blob[4:])
    with pytest.raises(FormatError, match="nodes at level"):
        PossessionCache.from_bytes(blob[:-1])
    with pytest.raises(FormatError, match="header"):
        PossessionCache.from_bytes(blob[:5])


# ----------------------------------------------------------------------------- pipeline


def test_encode_records_each_shard_root_in_the_manifest(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(random.Random(5).randbytes(700_000))
    params = ErasureParams(k=2, n=3, block_size=64 * 1024)
    manifest = pipeline.encode_file(src, tmp_path / "out", erasure=params, shard_files=True)
    loaded = pipeline.load_manifest(tmp_path / "out")
    assert loaded.roots == manifest.roots and len(loaded.roots) == 3
    obj = json.loads((tmp_path / "out/manifest.json").read_text())
    assert obj["version"] == 3
    for entry in manifest.shards:
        shard = (tmp_path / "out" / str(entry.file)).read_bytes()
        assert len(shard) == entry.size
        assert entry.root == reference_root(shard)
        assert obj["shards"][entry.index]["root"] == "0x" + reference_root(shard).hex()


def test_roots_can_be_skipped_and_shard_cid_skips_them(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc" * 1000)
    manifest = pipeline.encode_file(src, tmp_path / "out", erasure=ErasureParams(k=1, n=2), roots=False)
    assert all(s.root is None for s in manifest.shards)
    with pytest.raises(FormatError, match="no possession root"):
        _ = manifest.roots
    assert pipeline.shard_cid(io.BytesIO(b"abc"))


def _format_1_like(root: bytes) -> bytes:
    """A root as a version-2 manifest held it: a 24-byte node, then 8 zero bytes."""
    return root[:20] + b"\x5a\x01\x02\x03" + bytes(8)


def test_older_manifests_load_without_roots_and_refuse_to_bid(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc" * 1000)
    manifest = pipeline.encode_file(src, tmp_path / "out", erasure=ErasureParams(k=1, n=2))
    obj = json.loads(manifest.to_json())
    v1 = {**obj, "version": 1, "shards": [{k: v for k, v in e.items() if k != "root"} for e in obj["shards"]]}
    assert all(s.root is None for s in Manifest.from_json(json.dumps(v1)).shards)
    # Version 2 roots are of possession format 1: never read, so never sent to the market.
    v2 = {**obj, "version": 2}
    for entry in v2["shards"]:
        entry["root"] = "0x" + _format_1_like(bytes.fromhex(entry["root"][2:])).hex()
    old = Manifest.from_json(json.dumps(v2))
    assert all(s.root is None for s in old.shards)
    with pytest.raises(FormatError, match=r"no possession root of format 2 .*older release"):
        _ = old.roots
    # Version 3 must carry format-2 roots.
    with pytest.raises(FormatError, match="malformed manifest"):
        Manifest.from_json(json.dumps(v1 | {"version": 3}))
    with pytest.raises(FormatError, match="not of possession format 2"):
        Manifest.from_json(json.dumps(v2 | {"version": 3}))


def test_ensure_roots_recomputes_an_older_manifest_from_its_cars(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(random.Random(8).randbytes(300_000))
    out = tmp_path / "out"
    manifest = pipeline.encode_file(src, out, erasure=ErasureParams(k=2, n=3, block_size=64 * 1024))
    assert pipeline.ensure_roots(out) == manifest  # current: nothing to do
    obj = json.loads((out / "manifest.json").read_text())
    obj["version"] = 2
    for entry in obj["shards"]:
        entry["root"] = "0x" + _format_1_like(bytes.fromhex(entry["root"][2:])).hex()
    (out / "manifest.json").write_text(json.dumps(obj))
    assert pipeline.ensure_roots(out).roots == manifest.roots
    assert json.loads((out / "manifest.json").read_text())["version"] == 3
    assert pipeline.load_manifest(out).roots == manifest.roots
    # A shard whose CAR is gone cannot be recomputed: one line says what to do.
    (out / "manifest.json").write_text(json.dumps(obj))
    (out / str(manifest.shards[1].car)).unlink()
    with pytest.raises(FormatError, match=r"shard 1 .* missing .*re-run scatter encode"):
        pipeline.ensure_roots(out)


# ----------------------------------------------------------------------------- cap (format 2)


def _h20(data: bytes) -> bytes:
    return keccak(data)[:20]


def _oracle_levels(data: bytes) -> list[list[bytes]]:
    """Every level of the tree, leaves first, straight from the specification (docs/trust.md)."""
    d = max(1, (-(-len(data) // 128) - 1).bit_length())
    padded = data + bytes(128 * 2**d - len(data))
    levels = [[_h20(padded[i : i + 128]) for i in range(0, len(padded), 128)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([_h20(below[i] + below[i + 1]) for i in range(0, len(below), 2)])
    return levels


def _oracle_proof(data: bytes, indices: list[int]) -> bytes:
    levels = _oracle_levels(data)
    d = len(levels) - 1
    c = min(3, d)
    out = b"".join(levels[d - c])
    padded = data + bytes(128 * 2**d - len(data))
    for index in indices:
        out += padded[index * 128 : (index + 1) * 128]
        out += b"".join(levels[h][(index >> h) ^ 1] for h in range(d - c))
    return out


@pytest.mark.parametrize("segments", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 1023, 1025])
@pytest.mark.parametrize("level", [0, 2, 10])
def test_proofs_match_the_specification_at_the_cap_edges(segments: int, level: int) -> None:
    # C = D for up to 8 segments (the cap is the leaves, no siblings), C = 3 from 9 on; a cache
    # level below, at or above the cap's height D - C.
    for size in {128 * segments, 128 * (segments - 1) + 1}:
        data = random.Random(size * 31 + level).randbytes(size)
        seed = keccak(b"edge" + size.to_bytes(8, "big"))
        indices = challenge_indices(seed, size)
        cache = PossessionCache.build(_reader(data), size, level=level)
        proof = build_proof(_reader(data), size, indices, cache=cache)
        assert proof == _oracle_proof(data, indices), (size, level)
        assert len(proof) == possession.proof_size(size)
        assert cache.root == _oracle_levels(data)[-1][0] + bytes(12)
        assert verify_proof(cache.root, size, seed, proof)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 40_000), salt=st.binary(min_size=32, max_size=32), level=st.integers(0, 12))
def test_random_sizes_prove_and_any_flipped_bit_is_refused(size: int, salt: bytes, level: int) -> None:
    data = random.Random(salt).randbytes(size)
    indices = challenge_indices(salt, size)
    cache = PossessionCache.build(_reader(data), size, level=level)
    proof = build_proof(_reader(data), size, indices, cache=cache)
    assert proof == _oracle_proof(data, indices)
    assert verify_proof(cache.root, size, salt, proof)
    pos = int.from_bytes(salt[:4], "big") % len(proof)
    bad = bytearray(proof)
    bad[pos] ^= 1 << (salt[4] % 8)
    assert not verify_proof(cache.root, size, salt, bytes(bad))


def test_a_deep_tree_proves_through_the_kept_levels() -> None:
    # 2^21 segments (256 MiB of zeros but five), D = 21: the cap is read from the cache's upper
    # levels and each path climbs 18 levels, 8 of them from the cache.
    size = (128 << 21) - 77
    marks = {5: b"\x01", 1 << 20: b"\x02", (1 << 21) - 1: b"\x03"}

    def read(offset: int, length: int) -> bytes:
        out = bytearray(length)
        for seg, mark in marks.items():
            if offset <= seg * 128 < offset + length:
                out[seg * 128 - offset] = mark[0]
        return bytes(out[: max(0, min(length, size - offset))])

    cache = PossessionCache.build(read, size, read_size=32 << 20)
    assert (depth(size), cap_levels(size), cache.level) == (21, 3, 10)
    for seed in (bytes(32), keccak(b"deep")):
        proof = build_proof(read, size, challenge_indices(seed, size), cache=cache)
        assert len(proof) == possession.proof_size(size) == 20 * 8 + 5 * (128 + 20 * 18)
        assert verify_proof(cache.root, size, seed, proof)
        assert not verify_proof(cache.root, size, keccak(seed), proof)
    # The shard changed by one byte under a challenged segment since the cache was built: refused.
    indices = challenge_indices(seed, size)
    marks[indices[2]] = b"\x09"
    assert not verify_proof(cache.root, size, seed, build_proof(read, size, indices, cache=cache))


def _parts(proof: bytes, size: int) -> tuple[bytes, list[bytes]]:
    cap = 20 * 2 ** cap_levels(size)
    step = 128 + 20 * (depth(size) - cap_levels(size))
    return proof[:cap], [proof[cap + j * step : cap + (j + 1) * step] for j in range(5)]


def test_verify_checks_the_length_exactly() -> None:
    size = 50_000
    data, root, seed, proof = _proof_case(size)
    # Trailing bytes would leave every hash intact: only the length rule refuses them.
    assert not verify_proof(root, size, seed, proof + bytes(20))
    # A format-1-shaped answer (no cap, D siblings per segment) is refused too.
    levels = _oracle_levels(data)
    padded = data + bytes(128 * 2 ** depth(size) - size)
    old = b"".join(
        padded[i * 128 : (i + 1) * 128] + b"".join(levels[h][(i >> h) ^ 1] for h in range(depth(size)))
        for i in challenge_indices(seed, size)
    )
    assert not verify_proof(root, size, seed, old)


def test_verify_checks_the_cap_against_the_root() -> None:
    # An honest proof of other bytes: every path leads to its cap, which is not this root's.
    size = 50_000
    _, root, seed, _ = _proof_case(size)
    other = random.Random(1).randbytes(size)
    forged = build_proof(_reader(other), size, challenge_indices(seed, size))
    assert verify_proof(possession_root(other), size, seed, forged)
    assert not verify_proof(root, size, seed, forged)


@pytest.mark.parametrize("segments", [3, 8, 9, 400])
def test_verify_checks_each_path_against_its_own_cap_node(segments: int) -> None:
    size = 128 * segments
    data = random.Random(segments).randbytes(size)
    root = possession_root(data)
    seed = keccak(b"turns")
    indices = challenge_indices(seed, size)
    cap, items = _parts(_oracle_proof(data, indices), size)
    # The honest path of the segment that takes the same turns but sits under the next cap node
    # (index ^ 2**(D - C)): it climbs to a node of the cap, only not to cap[index >> (D - C)].
    j = 0
    wrong = indices[j] ^ (1 << (depth(size) - cap_levels(size)))
    _, (swap, *_) = _parts(_oracle_proof(data, [wrong] * 5), size)
    assert not verify_proof(
        root, size, seed, cap + b"".join(swap if k == j else it for k, it in enumerate(items))
    )
    # A wrong segment byte, a wrong sibling (none when C = D), a wrong cap node: each refused.
    step = len(items[0])
    positions = [len(cap) + 3, 0, len(cap) - 1] + ([len(cap) + step - 1] if step > 128 else [])
    for pos in positions:
        bad = bytearray(cap + b"".join(items))
        bad[pos] ^= 0x80
        assert not verify_proof(root, size, seed, bytes(bad)), pos
