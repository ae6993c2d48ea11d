"""The one-pass local pipeline: shards, CARs and manifest; decode from any k; heal with no key."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from pathlib import Path

import pytest

from scatter.errors import ScatterIntegrityError
from scatter.formats import aead, pipeline
from scatter.formats.errors import MismatchedShardsError, NotEnoughShardsError
from scatter.formats.params import ErasureParams
from scatter.formats.shard_schema import StripeLayout
from scatter.ipfs.car import read_car
from scatter.ipfs.exporter import iter_file
from scatter.ipfs.memory import MemoryBlockStore

PARAMS = ErasureParams(k=3, n=5, block_size=96 * 1024)
SIZE = 1_300_000  # several stripes, multi-chunk UnixFS DAGs, a short last stripe


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    base = tmp_path_factory.mktemp("enc")
    data = random.Random(7).randbytes(SIZE)
    src = base / "photo.jpg"
    src.write_bytes(data)
    pipeline.encode_file(src, base / "out", erasure=PARAMS, segment_size=64 * 1024, shard_files=True)
    return src, base / "out", data


def test_manifest_describes_the_file(encoded: tuple[Path, Path, bytes]) -> None:
    _, out, data = encoded
    m = pipeline.load_manifest(out)
    assert (m.name, m.media_type, m.size) == ("photo.jpg", "image/jpeg", SIZE)
    assert m.sha256 == hashlib.sha256(data).digest()
    assert m.ciphertext_length == aead.SegmentLayout.for_plaintext(64 * 1024, SIZE).ciphertext_length
    assert (out / "manifest.json").stat().st_mode & 0o077 == 0  # holds the key


def test_cids_match_the_cars_and_the_shard_bytes(encoded: tuple[Path, Path, bytes]) -> None:
    _, out, _ = encoded
    m = pipeline.load_manifest(out)
    for entry in m.shards:
        assert entry.file is not None and entry.car is not None
        raw = (out / entry.file).read_bytes()
        assert str(pipeline.shard_cid(io.BytesIO(raw))) == entry.cid
        store = MemoryBlockStore()
        with (out / entry.car).open("rb") as f:
            roots, blocks = read_car(f)
            for block in blocks:
                store.put(block)
        assert [str(r) for r in roots] == [entry.cid]
        assert b"".join(iter_file(roots[0], store)) == raw


@pytest.mark.parametrize("use", [(0, 1, 2), (2, 3, 4), (1, 3, 4), (0, 1, 2, 3, 4)])
def test_decode_from_any_k_shards(
    encoded: tuple[Path, Path, bytes], tmp_path: Path, use: tuple[int, ...]
) -> None:
    _, out, data = encoded
    pipeline.decode_dir(out, tmp_path / "back.jpg", use=use)
    assert (tmp_path / "back.jpg").read_bytes() == data


def test_decode_with_too_few_shards_names_the_shortfall(
    encoded: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    _, out, _ = encoded
    with pytest.raises(NotEnoughShardsError, match="have 2 usable, need 3"):
        pipeline.decode_dir(out, tmp_path / "x", use=(0, 4))
    assert not (tmp_path / "x").exists()


def test_tampered_shard_leaves_no_output(encoded: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    _, out, _ = encoded
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in out.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "manifest.json").chmod(0o600)
    shard = bytearray((bad / "shard-004.scs").read_bytes())
    shard[len(shard) // 2] ^= 0x40
    (bad / "shard-004.scs").write_bytes(bytes(shard))
    with pytest.raises(ScatterIntegrityError):
        pipeline.decode_dir(bad, tmp_path / "y", use=(0, 2, 4))
    assert not (tmp_path / "y").exists()
    assert not list(tmp_path.glob(".y*"))


def _copy(out: Path, dest: Path, suffixes: tuple[str, ...]) -> Path:
    dest.mkdir()
    for f in out.iterdir():
        if f.suffix in suffixes:
            (dest / f.name).write_bytes(f.read_bytes())
    return dest


def test_decode_from_cars_only(encoded: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    _, out, data = encoded
    cars = _copy(out, tmp_path / "cars", (".car", ".json"))
    pipeline.decode_dir(cars, tmp_path / "back", use=(2, 3, 4))
    assert (tmp_path / "back").read_bytes() == data


def test_tampered_car_block_is_rejected_and_another_shard_used(
    encoded: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    _, out, data = encoded
    cars = _copy(out, tmp_path / "cars", (".car", ".json"))
    car = bytearray((cars / "shard-003.car").read_bytes())
    car[len(car) // 3] ^= 1
    (cars / "shard-003.car").write_bytes(bytes(car))
    bad_shard = r"have 2 usable, need 3 \(shard 3 is unreadable: .*does not hash"
    with pytest.raises(NotEnoughShardsError, match=bad_shard):
        pipeline.decode_dir(cars, tmp_path / "back", use=(2, 3, 4))
    assert not (tmp_path / "back").exists()
    pipeline.decode_dir(cars, tmp_path / "back", use=(1, 2, 3, 4))  # shard 3 dropped, shard 4 used
    assert (tmp_path / "back").read_bytes() == data


def test_truncated_shard_file_is_dropped_for_another(
    encoded: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    _, out, data = encoded
    raw = _copy(out, tmp_path / "raw", (".scs", ".json"))
    (raw / "shard-000.scs").write_bytes((raw / "shard-000.scs").read_bytes()[:-10])
    pipeline.decode_dir(raw, tmp_path / "back", use=(0, 1, 2, 3))
    assert (tmp_path / "back").read_bytes() == data


def test_heal_rebuilds_a_lost_shard_with_its_cid_and_car(
    encoded: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    _, out, _ = encoded
    m = pipeline.load_manifest(out)
    lost = m.shards[1]
    sources = [(out / m.shards[i].file).open("rb") for i in (0, 3, 4)]  # type: ignore[operator]
    rebuilt, car = io.BytesIO(), io.BytesIO()
    try:
        cid = pipeline.heal_shard(sources, 1, expected_cid=lost.cid, out=rebuilt, car_out=car)
    finally:
        for s in sources:
            s.close()
    assert str(cid) == lost.cid
    assert rebuilt.getvalue() == (out / lost.file).read_bytes()  # type: ignore[operator]
    assert car.getvalue() == (out / lost.car).read_bytes()  # type: ignore[operator]


def test_heal_refuses_when_the_slot_names_another_cid(encoded: tuple[Path, Path, bytes]) -> None:
    _, out, _ = encoded
    m = pipeline.load_manifest(out)
    sources = [io.BytesIO((out / m.shards[i].file).read_bytes()) for i in (0, 1, 2)]  # type: ignore[operator]
    with pytest.raises(MismatchedShardsError, match="slot names"):
        pipeline.heal_shard(sources, 3, expected_cid=m.shards[4].cid)


def test_single_thread_and_threaded_pipelines_agree() -> None:
    data = random.Random(3).randbytes(700_000)
    results = []
    for workers in (0, 2):
        sinks = [pipeline.ShardSink() for _ in range(PARAMS.n)]
        results.append(
            pipeline.encode_stream(
                io.BytesIO(data),
                len(data),
                sinks,
                key=bytes(32),
                erasure=PARAMS,
                workers=workers,
                salt=bytes(16),
            )
        )
    assert results[0] == results[1]
    assert results[0].sha256 == hashlib.sha256(data).digest()


def test_changed_input_size_is_refused(tmp_path: Path) -> None:
    sinks = [pipeline.ShardSink() for _ in range(PARAMS.n)]
    with pytest.raises(Exception, match="file change"):
        pipeline.encode_stream(io.BytesIO(b"x" * 1000), 999, sinks, key=bytes(32), erasure=PARAMS)


def test_empty_file_round_trips(tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    m = pipeline.encode_file(src, tmp_path / "o", erasure=ErasureParams(k=2, n=3))
    assert all(
        s.size == StripeLayout(2, m.erasure.block_size, m.ciphertext_length).shard_length for s in m.shards
    )
    pipeline.decode_dir(tmp_path / "o", tmp_path / "back", use=(1, 2))
    assert (tmp_path / "back").read_bytes() == b""


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced on demand (the input itself takes no memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _peak_traced_bytes(size: int) -> int:
    params = ErasureParams(k=3, n=6, block_size=256 * 1024)
    sinks = [pipeline.ShardSink() for _ in range(params.n)]
    tracemalloc.start()
    try:
        pipeline.encode_stream(
            io.BufferedReader(_Zeros(size)),
            size,
            sinks,
            key=bytes(32),
            erasure=params,
            segment_size=256 * 1024,
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_encoding_memory_does_not_grow_with_the_file() -> None:
    small, large = _peak_traced_bytes(8 << 20), _peak_traced_bytes(48 << 20)
    assert large < 24 << 20  # half the input: the pipeline streams
    assert large < small * 1.5
