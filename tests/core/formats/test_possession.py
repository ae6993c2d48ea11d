"""Possession tree v1: the fast paths (native, wasm) against the plain-Python reference, vectors,
proofs, cache. The native extension's own checks (lanes, GIL) are in test_possession_native.py."""

from __future__ import annotations

import io
import json
import random
import shutil
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
    challenge_indices,
    depth,
    possession_root,
    reference_root,
    segment_count,
    verify_proof,
)

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
    ("size", "n", "d"),
    [
        (1, 1, 1),
        (128, 1, 1),
        (129, 2, 1),
        (256, 2, 1),
        (257, 3, 2),
        (512, 4, 2),
        (513, 5, 3),
        (128 << 20, 1 << 20, 20),
    ],
)
def test_segment_count_and_depth(size: int, n: int, d: int) -> None:
    assert (segment_count(size), depth(size)) == (n, d)
    assert possession.proof_size(size) == 5 * (128 + 24 * d)


def test_an_empty_shard_has_no_tree() -> None:
    with pytest.raises(FormatError, match="at least one byte"):
        segment_count(0)
    with pytest.raises(FormatError):
        PossessionRoot().finish()


def test_reference_root_by_hand_for_two_segments() -> None:
    data = b"\x01" * 129
    left = keccak(data[:128])[:24]
    right = keccak(data[128:] + bytes(127))[:24]
    assert reference_root(data) == keccak(left + right)[:24] + bytes(8)
    one = keccak(b"\x07" + bytes(127))[:24]
    assert reference_root(b"\x07") == keccak(one + keccak(bytes(128))[:24])[:24] + bytes(8)


# ----------------------------------------------------------------------------- vectors


def test_committed_vectors_are_current() -> None:
    assert VECTORS.read_text(encoding="utf-8") == vectors.render_possession(), (
        "possession_vectors.json differs from a fresh generation: the format changed; bump its version, "
        "then run python -m scatter.formats.vectors --possession tests/testdata/possession_vectors.json"
    )


def test_vectors_cover_the_required_sizes() -> None:
    sizes = [c["size"] for c in _cases()]
    assert sizes == [1, 127, 128, 129, 256, 384, 647, 4099, 65613]
    assert json.loads(VECTORS.read_text())["segment"] == 128


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


def _clang_14() -> bool:
    if shutil.which("clang") is None or shutil.which("wasm-ld") is None:
        return False
    out = subprocess.run(["clang", "--version"], capture_output=True, text=True, check=False).stdout
    return "version 14." in out


@pytest.mark.skipif(not _clang_14(), reason="the committed build is Debian bookworm's clang 14 + lld")
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
    step = len(proof) // 5
    for pos in (0, 127, 128, 128 + 24 * depth(size) - 1, 4 * step + 5):
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
    assert not verify_proof(root[:24] + b"\x01" + root[25:], size, seed, proof)  # tail not zero
    assert not verify_proof(root[:24], size, seed, proof)
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
    assert len(cache.to_bytes()) == 14 + 24 * 6
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
    assert blob[:4] == b"SCPC" and blob[4] == 1
    with pytest.raises(UnsupportedVersionError):
        PossessionCache.from_bytes(blob[:4] + b"\x02" + blob[5:])
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
    assert obj["version"] == 2
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


def test_a_version_1_manifest_still_loads_without_roots(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc" * 1000)
    manifest = pipeline.encode_file(src, tmp_path / "out", erasure=ErasureParams(k=1, n=2))
    obj = json.loads(manifest.to_json())
    obj["version"] = 1
    for s in obj["shards"]:
        del s["root"]
    old = Manifest.from_json(json.dumps(obj))
    assert all(s.root is None for s in old.shards)
    obj["version"] = 2
    with pytest.raises(FormatError, match="malformed manifest"):
        Manifest.from_json(json.dumps(obj))
