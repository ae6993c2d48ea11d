"""The embedded block store: content-addressed files on disk, pins, GC, crash safety.

On-disk format, version 1 (``store.json`` names it)::

    DIR/store.json              {"format": "scatter-blockstore", "version": 1}
    DIR/blocks/<xy>/<key>.data  one file per block; key = base32 of the multihash,
                                xy = its next-to-last two characters (Kubo's flatfs sharding)
    DIR/pins/<cid>              one file per recursive pin
    DIR/tmp/                    blocks being written (removed by GC)
    DIR/lock                    flock: writers share it, GC takes it exclusively

Crash safety: a block is written to ``tmp/``, flushed (fsync when ``durable``)
and renamed into place, so a block file is complete or absent. Bulk writes
(``add_file``, ``put_many``) flush a batch of files with one ``syncfs`` before
renaming them (:mod:`scatter.ipfs._blockwriter`), which keeps that rule. A pin is
written (atomically, the same way) only after every block of its DAG is
stored and synced, so a crash mid-import leaves unpinned blocks that GC removes,
never a pinned partial DAG. Blocks are keyed by multihash, as in Kubo, so a raw
and a dag-pb CID of the same bytes share one file.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final

from multiformats import CID

from scatter.errors import ScatterValueError
from scatter.ipfs._blockwriter import BlockWriter, fsync_path, sync_filesystem
from scatter.ipfs._local import LocalBlockStore
from scatter.ipfs.abc import GcResult, StoreStat
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.cid import CODEC_RAW, cid_str, make_cid, parse_cid
from scatter.ipfs.directory import DirectoryImportResult, import_directory
from scatter.ipfs.errors import BlockNotFoundError, InvalidCIDError
from scatter.ipfs.unixfs import ImportResult, import_file

__all__ = ["STORE_FORMAT", "STORE_VERSION", "EmbeddedBlockStore"]

STORE_FORMAT: Final = "scatter-blockstore"
STORE_VERSION: Final = 1
_counter = itertools.count()


def _key_name(mh: bytes) -> str:
    return base64.b32encode(mh).decode("ascii").rstrip("=").lower()


def _name_key(name: str) -> bytes:
    pad = "=" * (-len(name) % 8)
    return base64.b32decode(name.upper() + pad)


class EmbeddedBlockStore(LocalBlockStore):
    """Blocks as files under ``path``; see the module docstring for the format."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self._blocks = self.path / "blocks"
        self._pins = self.path / "pins"
        self._tmp = self.path / "tmp"
        self._dirty_dirs: set[Path] = set()
        self._dirty_lock = threading.Lock()
        for d in (self._blocks, self._pins, self._tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._check_format()
        (self.path / "lock").touch(exist_ok=True)

    def _check_format(self) -> None:
        meta = self.path / "store.json"
        if not meta.exists():
            self._atomic_write(meta, json.dumps({"format": STORE_FORMAT, "version": STORE_VERSION}).encode())
            return
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            raise ScatterValueError(
                f"{meta} is unreadable ({exc}); is {self.path} a Scatter block store?"
            ) from None
        if info.get("format") != STORE_FORMAT:
            raise ScatterValueError(
                f"{self.path} is not a Scatter block store (format {info.get('format')!r})"
            )
        if info.get("version") != STORE_VERSION:
            raise ScatterValueError(
                f"{self.path} is block store format version {info.get('version')}; "
                f"this Scatter reads version {STORE_VERSION}: upgrade Scatter"
            )

    # ------------------------------------------------------------ files

    def _block_path(self, mh: bytes) -> Path:
        name = _key_name(mh)
        return self._blocks / name[-3:-1] / f"{name}.data"

    def _tmp_path(self) -> Path:
        return self._tmp / f"{os.getpid()}-{threading.get_ident()}-{next(_counter)}"

    def _atomic_write(self, dest: Path, data: bytes) -> None:
        tmp = self._tmp_path()
        with open(tmp, "wb") as f:
            f.write(data)
            if self.durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, dest)

    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        with open(self.path / "lock", "rb") as f:
            fcntl.flock(f.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _shared(self) -> contextlib.AbstractContextManager[object]:
        return self._flock(fcntl.LOCK_SH)

    def _exclusive(self) -> contextlib.AbstractContextManager[object]:
        return self._flock(fcntl.LOCK_EX)

    def _sync(self) -> None:
        if not self.durable:
            return
        with self._dirty_lock:
            dirs, self._dirty_dirs = self._dirty_dirs, set()
        if dirs and not sync_filesystem(self.path):  # one syncfs instead of up to 256 fsyncs
            for d in dirs:
                fsync_path(d)

    # ------------------------------------------------------------ primitives

    def _write(self, block: Block) -> None:
        dest = self._block_path(bytes(block.cid.digest))
        if dest.exists():
            return
        dest.parent.mkdir(exist_ok=True)
        self._atomic_write(dest, block.data)
        if self.durable:
            with self._dirty_lock:
                self._dirty_dirs.add(dest.parent)

    def _delete_key(self, key: bytes) -> int:
        p = self._block_path(key)
        try:
            size = p.stat().st_size
            p.unlink()
        except FileNotFoundError:
            return 0
        return size

    def _keys(self) -> Iterator[bytes]:
        for shard in os.scandir(self._blocks):
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard.path):
                if entry.name.endswith(".data"):
                    with contextlib.suppress(ValueError):
                        yield _name_key(entry.name[:-5])

    def _write_pin(self, cid: CID) -> None:
        record = {"version": 1, "cid": cid_str(cid), "type": "recursive"}
        self._atomic_write(self._pins / cid_str(cid), json.dumps(record).encode())
        if self.durable:
            with self._dirty_lock:
                self._dirty_dirs.add(self._pins)
            self._sync()

    def _remove_pin(self, cid: CID) -> bool:
        try:
            (self._pins / cid_str(cid)).unlink()
        except FileNotFoundError:
            return False
        return True

    # ------------------------------------------------------------ import

    def _writer(self) -> BlockWriter:
        return BlockWriter(self._block_path, self._tmp_path, durable=self.durable)

    def _written(self, writer: BlockWriter) -> None:
        if self.durable:
            with self._dirty_lock:
                self._dirty_dirs |= writer.renamed_dirs

    def put_many(self, blocks: Iterable[Block]) -> int:
        """Verify and store blocks in durable batches (see :mod:`scatter.ipfs._blockwriter`)."""
        n = 0
        with self._shared():
            writer = self._writer()
            with writer:
                for block in blocks:
                    verify_block(block.cid, block.data)
                    writer.put(block)
                    n += 1
            self._written(writer)
        return n

    def add_file(
        self,
        path: str | os.PathLike[str],
        *,
        cid_version: int = 1,
        pin: bool = True,
        progress: Callable[[int], object] | None = None,
    ) -> ImportResult:
        """Import a file as ``ipfs add`` does and pin its root: the fast path of ``scatter ipfs add``.

        Blocks are hashed here (so not verified twice) while a thread writes the
        previous ones in durable batches. A crash mid-add leaves no pin and only
        whole block files (unpinned, removed by GC); the pin is written after
        every block of the DAG is synced. The DAG is complete by construction
        (each block was written or already held, and GC waits for the shared
        lock held throughout), so the pin skips the walk that :meth:`pin` does.
        """
        with self._shared():
            writer = self._writer()
            with writer:
                result = import_file(path, writer.put, cid_version=cid_version, progress=progress)
            self._written(writer)
            if pin:
                self._sync()
                self._write_pin(result.root)
        return result

    def add_directory(
        self,
        path: str | os.PathLike[str],
        *,
        cid_version: int = 1,
        hidden: bool = False,
        pin: bool = True,
        progress: Callable[[int], object] | None = None,
    ) -> DirectoryImportResult:
        """Import a directory tree as ``ipfs add -r`` does and pin its root (as :meth:`add_file`)."""
        with self._shared():
            writer = self._writer()
            with writer:
                result = import_directory(
                    path, writer.put, cid_version=cid_version, hidden=hidden, progress=progress
                )
            self._written(writer)
            if pin:
                self._sync()
                self._write_pin(result.root)
        return result

    # ------------------------------------------------------------ BlockStore

    def get(self, cid: CID) -> bytes:
        try:
            with open(self._block_path(bytes(cid.digest)), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise BlockNotFoundError(f"block {cid_str(cid)} is not held in {self.path}", cid=cid) from None

    def has(self, cid: CID) -> bool:
        return self._block_path(bytes(cid.digest)).exists()

    def block_size(self, cid: CID) -> int:
        """Size in bytes of a held block (without reading it)."""
        try:
            return self._block_path(bytes(cid.digest)).stat().st_size
        except FileNotFoundError:
            raise BlockNotFoundError(f"block {cid_str(cid)} is not held in {self.path}", cid=cid) from None

    def pins(self) -> list[CID]:
        out = []
        for name in sorted(os.listdir(self._pins)):
            with contextlib.suppress(InvalidCIDError, ScatterValueError):
                out.append(parse_cid(name))
        return out

    def is_pinned(self, cid: CID) -> bool:
        return (self._pins / cid_str(cid)).exists()

    def gc(self) -> GcResult:
        result = super().gc()
        with self._exclusive():
            for entry in os.scandir(self._tmp):  # leftovers of interrupted writes
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        return result

    def writing(self) -> contextlib.AbstractContextManager[object]:
        """Hold while storing blocks that a pin will cover (``put_many`` then ``pin``): GC waits
        until it is released (writers share it), so it never takes blocks stored but not yet pinned."""
        return self._shared()

    def temp_bytes(self) -> int:
        """Bytes under ``tmp/``: blocks being written, or left by a process killed mid-write (GC
        removes those)."""
        total = 0
        for entry in os.scandir(self._tmp):
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat().st_size
        return total

    def stat(self) -> StoreStat:
        count = size = 0
        for shard in os.scandir(self._blocks):
            if shard.is_dir():
                for entry in os.scandir(shard.path):
                    if entry.name.endswith(".data"):
                        count += 1
                        size += entry.stat().st_size
        return StoreStat(count, size)

    def iter_cids(self) -> Iterator[CID]:
        """Every block held, as CIDv1 raw (the store keys blocks by multihash only)."""
        for key in self._keys():
            yield make_cid(1, CODEC_RAW, key)
