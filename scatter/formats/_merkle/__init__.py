"""The fast paths of the possession tree: keccak-f1600 and whole Merkle levels in C.

Two builds of the same tree, chosen by :func:`fast_hasher`:

* :class:`NativeHasher` — ``_native.c``, a CPython extension that ``pip install``
  builds when a C compiler is there (``setup.py``, optional). It hashes the nodes of
  a level side by side, one keccak-f1600 per SIMD lane (8 with AVX-512, 4 with AVX2,
  picked at run time), straight from the caller's buffers, and releases the GIL, so
  the pipeline's sink threads hash alongside erasure coding. Stateless: one for all threads.
* :class:`WasmHasher` — ``merkle.wasm``, built from ``merkle.c`` by ``make wasm``
  (clang --target=wasm32, no libc, a few KB) and committed, so every machine has it
  without a compiler; the dapp can load the same binary. It runs under wasmtime (calls
  through ctypes, GIL released), ~7x slower than 8 native lanes. One per thread.

``SCATTER_MERKLE=wasm`` forces the wasm build (the benchmark compares the two).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Final

from scatter.formats.possession_schema import NODE, SEGMENT

try:
    from scatter.formats._merkle import _native
except ImportError:  # installed without a C compiler: the wasm build does the hashing
    _native = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import wasmtime

Buffer = bytes | bytearray | memoryview

#: Segments hashed per call (1 MiB of input); larger inputs are cut into such pieces.
MAX_HEIGHT: Final = 13
_MAX_SEGMENTS: Final = 1 << MAX_HEIGHT
_PAGE: Final = 65536
#: Our buffers start above the module's own data and stack (its initial memory).
_IN: Final = 4 * _PAGE
_OUT: Final = _IN + SEGMENT * _MAX_SEGMENTS
_END: Final = _OUT + NODE * _MAX_SEGMENTS

_engine_lock = threading.Lock()
_module: tuple[wasmtime.Engine, wasmtime.Module] | None = None


def wasm_bytes() -> bytes:
    """The committed module (``merkle.wasm``)."""
    return resources.files(__package__).joinpath("merkle.wasm").read_bytes()


def _shared_module() -> tuple[wasmtime.Engine, wasmtime.Module]:
    import wasmtime  # only when the wasm build runs: the native one needs no runtime

    global _module
    with _engine_lock:
        if _module is None:
            engine = wasmtime.Engine()
            _module = (engine, wasmtime.Module(engine, wasm_bytes()))
            atexit.register(_release)
        return _module


def _release() -> None:
    """Free the wasm objects while wasmtime is still loaded: imported lazily, it is torn down
    before this module at exit, and its finalizers would then fail."""
    global _module
    _local.__dict__.pop("hasher", None)
    _module = None


class WasmHasher:
    """Possession-tree hashing in one wasmtime instance (one thread at a time)."""

    def __init__(self) -> None:
        import wasmtime

        engine, module = _shared_module()
        self._store = wasmtime.Store(engine)
        instance = wasmtime.Instance(self._store, module, [])
        exports = instance.exports(self._store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        have = memory.data_len(self._store)
        if have < _END:
            memory.grow(self._store, (_END - have + _PAGE - 1) // _PAGE)
        # The memory never grows again, so its address and this view stay valid.
        length = memory.data_len(self._store)
        address = ctypes.addressof(memory.data_ptr(self._store).contents)
        self._keep = (ctypes.c_ubyte * length).from_address(address)
        self._mem = memoryview(self._keep).cast("B")
        named = {name: exports[name] for name in ("hash_leaves", "hash_parents", "subtree_root", "keccak256")}
        self._leaves = self._func(named, "hash_leaves")
        self._parents = self._func(named, "hash_parents")
        self._subtree = self._func(named, "subtree_root")
        self._keccak = self._func(named, "keccak256")

    @staticmethod
    def _func(exports: Mapping[str, object], name: str) -> wasmtime.Func:
        import wasmtime

        func = exports[name]
        assert isinstance(func, wasmtime.Func)
        return func

    def leaves(self, segments: Buffer) -> bytes:
        """``H(segment)`` for each 128-byte segment (``len(segments)`` a multiple of 128)."""
        src = memoryview(segments).cast("B")
        n = len(src) // SEGMENT
        out = bytearray(NODE * n)
        for first in range(0, n, _MAX_SEGMENTS):
            count = min(_MAX_SEGMENTS, n - first)
            self._mem[_IN : _IN + SEGMENT * count] = src[SEGMENT * first : SEGMENT * (first + count)]
            self._leaves(self._store, _IN, count, _OUT)
            out[NODE * first : NODE * (first + count)] = self._mem[_OUT : _OUT + NODE * count]
        return bytes(out)

    def parents(self, nodes: Buffer) -> bytes:
        """``H(left || right)`` for each pair of 20-byte nodes (an even count)."""
        src = memoryview(nodes).cast("B")
        n = len(src) // (2 * NODE)
        out = bytearray(NODE * n)
        step = _MAX_SEGMENTS * SEGMENT // (2 * NODE)
        for first in range(0, n, step):
            count = min(step, n - first)
            self._mem[_IN : _IN + 2 * NODE * count] = src[2 * NODE * first : 2 * NODE * (first + count)]
            self._parents(self._store, _IN, count, _OUT)
            out[NODE * first : NODE * (first + count)] = self._mem[_OUT : _OUT + NODE * count]
        return bytes(out)

    def subtree(self, segments: Buffer) -> bytes:
        """The node over ``2**h`` segments (``len(segments) == 128 * 2**h``)."""
        src = memoryview(segments).cast("B")
        n = len(src) // SEGMENT
        if n <= _MAX_SEGMENTS:
            self._mem[_IN : _IN + len(src)] = src
            self._subtree(self._store, _IN, n.bit_length() - 1, _OUT)
            return bytes(self._mem[_OUT : _OUT + NODE])
        piece = SEGMENT * _MAX_SEGMENTS
        level = b"".join(self.subtree(src[i : i + piece]) for i in range(0, len(src), piece))
        while len(level) > NODE:
            level = self.parents(level)
        return level

    def keccak256(self, data: Buffer) -> bytes:
        """Full keccak256 of up to 1 MiB (the dapp's challenge derivation uses it)."""
        src = memoryview(data).cast("B")
        if len(src) > _OUT - _IN:
            raise ValueError("keccak256 here takes at most 1 MiB")
        self._mem[_IN : _IN + len(src)] = src
        self._keccak(self._store, _IN, len(src), _OUT)
        return bytes(self._mem[_OUT : _OUT + 32])


class NativeHasher:
    """Possession-tree hashing in the native extension (thread-safe, holds no state)."""

    def __init__(self) -> None:
        if _native is None:
            raise ImportError("scatter.formats._merkle._native was not built (no C compiler at install)")
        self._ext = _native

    @property
    def lanes(self) -> int:
        """Permutations computed side by side: 8 (AVX-512), 4 (AVX2) or 1."""
        return self._ext.lanes()

    def leaves(self, segments: Buffer) -> bytes:
        """``H(segment)`` for each 128-byte segment (``len(segments)`` a multiple of 128)."""
        return self._ext.leaves(segments)

    def parents(self, nodes: Buffer) -> bytes:
        """``H(left || right)`` for each pair of 20-byte nodes (an even count)."""
        return self._ext.parents(nodes)

    def subtree(self, segments: Buffer) -> bytes:
        """The node over ``2**h`` segments (``len(segments) == 128 * 2**h``)."""
        n = memoryview(segments).nbytes // SEGMENT
        if n == 0 or n & (n - 1):
            raise ValueError(f"a subtree has 2**h segments, not {n}")
        return self._ext.subtrees(segments, n.bit_length() - 1)


_local = threading.local()
_native_hasher: NativeHasher | None = None if _native is None else NativeHasher()


def thread_hasher() -> WasmHasher:
    """This thread's wasm hasher (created on first use)."""
    hasher: WasmHasher | None = getattr(_local, "hasher", None)
    if hasher is None:
        hasher = WasmHasher()
        _local.hasher = hasher
    return hasher


def fast_hasher() -> NativeHasher | WasmHasher:
    """The native hasher if built (and ``SCATTER_MERKLE`` is not ``wasm``), else this thread's wasm one."""
    if _native_hasher is not None and os.environ.get("SCATTER_MERKLE") != "wasm":
        return _native_hasher
    return thread_hasher()


def backend() -> str:
    """What :func:`fast_hasher` runs: ``native, 8 lanes`` … or ``wasm``."""
    hasher = fast_hasher()
    return f"native, {hasher.lanes} lanes" if isinstance(hasher, NativeHasher) else "wasm"
