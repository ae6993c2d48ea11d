"""The fast path of the possession tree: keccak-f1600 and Merkle levels in WebAssembly.

``merkle.wasm`` is built from ``merkle.c`` by ``make wasm`` (clang --target=wasm32,
no libc, a few KB) and committed, so no machine needs a compiler; the dapp can load
the same binary. It runs here under wasmtime; its calls go through ctypes, which
releases the GIL, so a hashing thread overlaps with the rest of the pipeline.

A :class:`WasmHasher` owns one wasmtime store and is not thread-safe: use one per
thread (:func:`thread_hasher`).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Mapping
from importlib import resources
from typing import Final

import wasmtime

from scatter.formats.possession_schema import NODE, SEGMENT

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
    global _module
    with _engine_lock:
        if _module is None:
            engine = wasmtime.Engine()
            _module = (engine, wasmtime.Module(engine, wasm_bytes()))
        return _module


class WasmHasher:
    """Possession-tree hashing in one wasmtime instance (one thread at a time)."""

    def __init__(self) -> None:
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
        """``H(left || right)`` for each pair of 24-byte nodes (an even count)."""
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


_local = threading.local()


def thread_hasher() -> WasmHasher:
    """This thread's hasher (created on first use)."""
    hasher: WasmHasher | None = getattr(_local, "hasher", None)
    if hasher is None:
        hasher = WasmHasher()
        _local.hasher = hasher
    return hasher
