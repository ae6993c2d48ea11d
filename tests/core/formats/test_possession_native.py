"""The native possession-tree hasher (_merkle/_native.c): every lane width against the reference,
its input checks, the GIL, and which hasher the library picks."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator

import pytest

from scatter.formats import _merkle, possession
from scatter.formats._merkle import NativeHasher, WasmHasher, _native
from scatter.formats.possession import ReferenceHasher

if _native is None:
    pytest.skip("the native extension was not built (no C compiler)", allow_module_level=True)
EXT = _native
REF = ReferenceHasher()


def _supported_lanes() -> list[int]:
    usable = []
    for lanes in (1, 4, 8):
        try:
            EXT.set_lanes(lanes)
        except ValueError:
            continue
        usable.append(lanes)
    return usable


@pytest.fixture
def restore_lanes() -> Iterator[None]:
    before = EXT.lanes()
    yield
    EXT.set_lanes(before)


@pytest.mark.usefixtures("restore_lanes")
def test_every_lane_width_matches_the_reference() -> None:
    # Counts around each batch width, so the 8-, 4- and 1-lane paths and their tails all run.
    data = random.Random(11).randbytes(128 * 2100)
    hasher = NativeHasher()
    lanes = _supported_lanes()
    assert 1 in lanes
    for width in lanes:
        EXT.set_lanes(width)
        assert hasher.lanes == width
        for n in (1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 17, 2049):
            segments = data[: 128 * n]
            assert hasher.leaves(segments) == REF.leaves(segments), (width, n)
            nodes = REF.leaves(data[: 128 * 2 * n])
            assert hasher.parents(nodes) == REF.parents(nodes), (width, n)
        for height in (0, 1, 2, 3, 4, 11):
            chunk = 128 << height
            assert hasher.subtree(data[:chunk]) == REF.subtree(data[:chunk]), (width, height)
        two = data[: 2 * (128 << 10)]
        assert EXT.subtrees(two, 10) == REF.subtree(two[: 128 << 10]) + REF.subtree(two[128 << 10 :])


def test_partial_inputs_are_refused() -> None:
    hasher = NativeHasher()
    with pytest.raises(ValueError, match="128-byte segments"):
        hasher.leaves(bytes(129))
    with pytest.raises(ValueError, match="pairs of 20-byte nodes"):
        hasher.parents(bytes(20))
    with pytest.raises(ValueError, match="2\\*\\*h segments, not 3"):
        hasher.subtree(bytes(3 * 128))
    with pytest.raises(ValueError, match="2\\*\\*h segments, not 0"):
        hasher.subtree(b"")
    with pytest.raises(ValueError, match="whole subtrees"):
        EXT.subtrees(bytes(3 * 128), 1)
    with pytest.raises(ValueError, match=r"height 0\.\.30"):
        EXT.subtrees(b"", -1)
    with pytest.raises(ValueError, match="lanes are 1, 4 or 8"):
        EXT.set_lanes(2)


def test_a_call_releases_the_gil() -> None:
    # With a switch interval no test outlives, the worker keeps the GIL until it releases it
    # itself. If the hashing call releases it, this thread runs while the call is in progress
    # and sees it unfinished: the worker cannot mark it done without taking the GIL back.
    # 128 MiB of zeros (untouched pages) keep the call long enough that this thread is
    # scheduled before it ends, however loaded the machine.
    data = bytes(128 << 20)
    started, done = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        EXT.subtrees(data, 11)
        done.set()

    before = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        worker = threading.Thread(target=work)
        worker.start()
        started.wait()
        finished_first = done.is_set()
        worker.join()
    finally:
        sys.setswitchinterval(before)
    assert not finished_first, "the native call held the GIL: sink threads could not hash alongside zfec"


def test_the_default_hasher_is_native_unless_wasm_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCATTER_MERKLE", raising=False)
    assert isinstance(possession.default_hasher(), NativeHasher)
    assert _merkle.backend().startswith("native, ")
    monkeypatch.setenv("SCATTER_MERKLE", "wasm")
    assert isinstance(possession.default_hasher(), WasmHasher)
    assert _merkle.backend() == "wasm"
