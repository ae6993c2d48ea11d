"""Batched block writes for the embedded store's import path (``add_file``, ``put_many``).

One ``fsync`` per 256 KiB block cost more than hashing it (ext4 commits its
journal on each), so blocks are written in batches instead, on a thread that
overlaps the caller's hashing:

1. each block goes to its own file in ``tmp/``, not synced;
2. every ``commit_bytes`` (and at the end), one ``syncfs(2)`` makes the whole
   batch durable (where ``syncfs`` is missing: one ``fsync`` per file),
3. then each file is renamed to its place in ``blocks/`` (steps 2 and 3 run on a
   second thread while the next batch is written).

So a file in ``blocks/`` is complete or absent, as with single writes: its bytes
were on disk before its name was. A crash leaves at most two batches of files in
``tmp/`` and renamed but unpinned blocks, both removed by GC; the store syncs the
renames before it writes a pin that refers to them.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

from scatter.ipfs.block import Block

__all__ = ["COMMIT_BYTES", "BlockWriter", "fsync_path", "sync_filesystem"]

#: Bytes of blocks per batch (one filesystem sync each); the default of ``commit_bytes``.
COMMIT_BYTES = 128 * 2**20
_QUEUE_BLOCKS: Final = 8  # blocks handed over but not yet written (bounds memory: 8 x 1 MiB at most)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    import ctypes  # here: 5 ms that commands which never write blocks should not pay

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    syncfs: Callable[[int], int] | None = getattr(libc, "syncfs", None)
    if syncfs is None:
        return None

    def call(fd: int) -> int:
        if syncfs(fd) != 0:
            return ctypes.get_errno()
        return 0

    return call


def sync_filesystem(directory: Path) -> bool:
    """Flush the data and metadata of every file on the filesystem that holds
    ``directory`` with one ``syncfs(2)`` (Linux); False where that call does not exist."""
    fn = _syncfs()
    if fn is None:
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        if err := fn(fd):
            raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(directory))
    finally:
        os.close(fd)
    return True


def fsync_path(path: Path | str) -> None:
    """``fsync`` one file or directory by name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class BlockWriter:
    """Writes blocks on a thread in durable batches (see the module docstring).

    Use as a context manager: leaving it normally commits every block given to
    :meth:`put`; leaving it with an exception deletes the uncommitted ones.
    ``renamed_dirs`` are the directories that got new entries (to sync before a pin).
    """

    def __init__(
        self,
        block_path: Callable[[bytes], Path],
        tmp_path: Callable[[], Path],
        *,
        durable: bool,
        commit_bytes: int | None = None,
    ) -> None:
        self._block_path = block_path
        self._tmp_path = tmp_path
        self._durable = durable
        self._commit_bytes = COMMIT_BYTES if commit_bytes is None else commit_bytes
        self._pending: dict[Path, Path] = {}  # destination -> file in tmp/
        self._pending_bytes = 0
        self._made_dirs: set[Path] = set()
        self.renamed_dirs: set[Path] = set()
        self._error: BaseException | None = None
        self._committer: threading.Thread | None = None  # syncs and renames the previous batch
        self._queue: queue.Queue[Block | None] = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self._thread = threading.Thread(target=self._run, name="scatter-block-writer", daemon=True)
        self._thread.start()

    def put(self, block: Block) -> None:
        """Queue one block, already verified (or built here) by the caller."""
        if self._error is not None:
            raise self._error
        self._queue.put(block)

    def __enter__(self) -> BlockWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()
        if exc_type is not None or self._error is not None:
            self._discard()
            if self._error is not None and exc_type is None:
                raise self._error
            return
        self._commit()

    # ------------------------------------------------------------ thread

    def _run(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that put() never blocks for good
            try:
                self._write(block)
            except BaseException as exc:  # handed to the caller by put() / __exit__
                self._error = exc

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._join_committer()

    def _join_committer(self) -> None:
        if self._committer is not None:
            self._committer.join()
            self._committer = None

    def _write(self, block: Block) -> None:
        dest = self._block_path(bytes(block.cid.digest))
        if dest in self._pending or dest.exists():
            return
        tmp = self._tmp_path()
        _write_file(tmp, block.data)
        self._pending[dest] = tmp
        self._pending_bytes += len(block.data)
        if self._pending_bytes >= self._commit_bytes:
            # the next batch is written while this one is synced (one batch in flight at most)
            batch = self._take()
            self._join_committer()
            self._committer = threading.Thread(target=self._commit_in_thread, args=(batch,), daemon=True)
            self._committer.start()

    def _take(self) -> dict[Path, Path]:
        batch, self._pending = self._pending, {}
        self._pending_bytes = 0
        return batch

    def _commit_in_thread(self, batch: dict[Path, Path]) -> None:
        try:
            self._commit_batch(batch)
        except BaseException as exc:  # handed to the caller by put() / __exit__
            self._error = exc
            for tmp in batch.values():
                tmp.unlink(missing_ok=True)

    def _commit(self) -> None:
        self._commit_batch(self._take())

    def _commit_batch(self, batch: dict[Path, Path]) -> None:
        if not batch:
            return
        if self._durable:
            first = next(iter(batch.values()))
            if not sync_filesystem(first.parent):
                for tmp in batch.values():
                    fsync_path(tmp)
        for dest, tmp in batch.items():
            parent = dest.parent
            if parent not in self._made_dirs:
                parent.mkdir(exist_ok=True)
                self._made_dirs.add(parent)
            os.replace(tmp, dest)
            self.renamed_dirs.add(parent)

    def _discard(self) -> None:
        for tmp in self._pending.values():
            tmp.unlink(missing_ok=True)
        self._pending.clear()
        self._pending_bytes = 0
