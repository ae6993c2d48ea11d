"""A shard read back out of its CAR, in order, with bounded memory and every block verified.

One scan records where each block's bytes lie in the CAR (a few dozen bytes per
256 KiB block); then the UnixFS exporter walks the DAG from the root, reading
each block at its offset and checking it against its CID. The shard's bytes come
out as a file-like stream, so :class:`~scatter.formats.erasure.ShardSet` reads a
CAR exactly as it reads a raw shard file.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from scatter.chunkio import ChunkReader
from scatter.formats.errors import FormatError
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.car import read_car
from scatter.ipfs.cid import cid_bytes, cid_str
from scatter.ipfs.errors import BlockNotFoundError
from scatter.ipfs.exporter import iter_file


class CarBlockSource(BlockSource):
    """Blocks of one CAR file, found by offset (the file stays open until :meth:`close`)."""

    def __init__(self, path: str | Path) -> None:
        self._file = Path(path).open("rb")  # noqa: SIM115 - closed in close()
        self._index: dict[bytes, tuple[int, int]] = {}
        try:
            roots, blocks = read_car(self._file, verify=False)
            for block in blocks:
                end = self._file.tell()
                self._index.setdefault(cid_bytes(block.cid), (end - len(block.data), len(block.data)))
        except BaseException:
            self._file.close()
            raise
        if len(roots) != 1:
            self._file.close()
            raise FormatError(f"{path}: a shard CAR has exactly one root, this one has {len(roots)}")
        self.root: CID = roots[0]

    def get(self, cid: CID) -> bytes:
        where = self._index.get(cid_bytes(cid))
        if where is None:
            raise BlockNotFoundError(f"block {cid_str(cid)} is not in this CAR; the CAR is incomplete")
        self._file.seek(where[0])
        return self._file.read(where[1])

    def has(self, cid: CID) -> bool:
        return cid_bytes(cid) in self._index

    def close(self) -> None:
        self._file.close()


class _ChunksReader(ChunkReader):
    """A read-only stream over an iterator of byte chunks that closes its sources with it."""

    def __init__(
        self, chunks: Iterator[bytes], on_close: BlockSource | None = None, prefetch: _Prefetch | None = None
    ) -> None:
        super().__init__(chunks)
        self._source = on_close
        self._prefetch = prefetch

    def close(self) -> None:
        if self._prefetch is not None:
            self._prefetch.close()
        if isinstance(self._source, CarBlockSource):
            self._source.close()
        super().close()


class _Prefetch(Iterator[bytes]):
    """Runs a chunk iterator in a thread, ``depth`` chunks ahead: block hashing (GIL-free in
    hashlib) and reads overlap with the caller's decoding. Errors surface at the caller."""

    _END = object()

    def __init__(self, chunks: Iterator[bytes], depth: int = 16) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(chunks,), daemon=True, name="scatter-car-prefetch"
        )
        self._thread.start()

    def _run(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if self._stop.is_set():
                    return
                self._queue.put(chunk)
            self._queue.put(self._END)
        except BaseException as exc:
            self._queue.put(exc)

    def __next__(self) -> bytes:
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)
            raise StopIteration
        if isinstance(item, BaseException):
            self._queue.put(item)
            raise item
        assert isinstance(item, bytes)
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


def open_car_shard(
    path: str | Path, expected_root: str | CID | None = None, *, prefetch_depth: int = 16
) -> BinaryIO:
    """The shard bytes stored in the CAR at ``path``, as a buffered binary stream (close it)."""
    source = CarBlockSource(path)
    if expected_root is not None:
        want = expected_root if isinstance(expected_root, CID) else CID.decode(expected_root)
        if source.root != want:
            source.close()
            raise FormatError(f"{path}: CAR root is {cid_str(source.root)}, expected {cid_str(want)}")
    chunks = _Prefetch(iter_file(source.root, source, verify=True), depth=prefetch_depth)
    raw = _ChunksReader(chunks, on_close=source, prefetch=chunks)
    return io.BufferedReader(raw, buffer_size=256 * 1024)
