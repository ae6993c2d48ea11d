"""The local pipeline, in one pass over the input: encrypt -> erasure-code -> UnixFS/CAR.

:func:`encode_file` reads the plaintext once; each piece is hashed (sha256 of the
plaintext), encrypted segment by segment, erasure-coded stripe by stripe, and
each shard's bytes go to that shard's UnixFS importer (which gives its CID) and
CAR writer, its possession-tree builder (the root a bid commits to, see
:mod:`scatter.formats.possession`) and, optionally, a raw shard file. Memory stays bounded by a few
stripes whatever the file size. :func:`decode_dir` reverses it from any k shard
files; :func:`heal_shard` rebuilds one shard from k others with no key.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from multiformats import CID

from scatter.errors import ScatterError, ScatterIntegrityError
from scatter.formats import aead
from scatter.formats.erasure import Buffer, Readable, ShardEncoder, ShardSet
from scatter.formats.errors import BadShardError, FormatError, MismatchedShardsError, NotEnoughShardsError
from scatter.formats.manifest_schema import FILENAME, Manifest, ShardEntry
from scatter.formats.params import DEFAULT_SEGMENT_SIZE, ErasureParams
from scatter.formats.possession import PossessionRoot, root_of_chunks
from scatter.ipfs.car import CarWriter
from scatter.ipfs.cid import cid_str
from scatter.ipfs.unixfs import UnixFSImporter

Progress = Callable[[int], object]
READ_SIZE = 4 * 1024 * 1024


def shard_file_name(index: int) -> str:
    return f"shard-{index:03d}.scs"


def car_file_name(index: int) -> str:
    return f"shard-{index:03d}.car"


class ShardSink:
    """Everything that happens to one shard's bytes: UnixFS import, CAR, possession root, raw copy.

    ``roots=False`` skips the possession root (``root`` stays None): for callers that
    only want the CID, and for the benchmark's baseline.
    """

    def __init__(
        self, car: BinaryIO | None = None, raw: BinaryIO | None = None, *, roots: bool = True
    ) -> None:
        self._importer = UnixFSImporter(cid_version=1)
        self._car = CarWriter(car) if car is not None else None
        self._raw = raw
        self._possession = PossessionRoot() if roots else None
        self.size = 0
        #: The possession root (32 bytes) once :meth:`finish` ran.
        self.root: bytes | None = None

    def write(self, piece: Buffer) -> None:
        self.size += len(piece)
        if self._raw is not None:
            self._raw.write(piece)
        if self._possession is not None:
            self._possession.update(piece)
        blocks = self._importer.write(piece)
        if self._car is not None:
            for block in blocks:
                self._car.write(block)

    def finish(self) -> CID:
        blocks = self._importer.finish()
        root = self._importer.root
        if self._car is not None:
            for block in blocks:
                self._car.write(block)
            self._car.finish([root])
        if self._possession is not None:
            self.root = self._possession.finish()
        return root


class _ThreadedSinks:
    """Feeds the sinks from ``workers`` threads (sink i on thread i mod workers): hashing
    (sha256 per 256 KiB block, GIL-free in hashlib; the possession tree's keccak in C,
    GIL-free: native SIMD, else wasmtime through ctypes) and file writes overlap with
    encryption and erasure coding. Queues are bounded, so memory stays a few stripes deep."""

    _STOP = object()

    def __init__(self, sinks: Sequence[ShardSink], workers: int = 2, depth: int = 4) -> None:
        self._sinks = sinks
        self._workers = max(1, min(workers, len(sinks)))
        self._queues: list[queue.Queue[object]] = [queue.Queue(maxsize=depth) for _ in range(self._workers)]
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(w,), daemon=True, name=f"scatter-shard-sink-{w}")
            for w in range(self._workers)
        ]
        for t in self._threads:
            t.start()

    def _run(self, w: int) -> None:
        q = self._queues[w]
        mine = self._sinks[w :: self._workers]
        failed = False
        while True:
            item = q.get()
            if item is self._STOP:
                return
            if failed:
                continue
            try:
                for sink, piece in zip(mine, item, strict=True):  # type: ignore[call-overload]
                    sink.write(piece)
            except BaseException as exc:
                self._errors.append(exc)
                failed = True

    def put(self, pieces: Sequence[Buffer]) -> None:
        if self._errors:
            raise self._errors[0]
        for w, q in enumerate(self._queues):
            q.put(pieces[w :: self._workers])

    def close(self) -> None:
        for q in self._queues:
            q.put(self._STOP)
        for t in self._threads:
            t.join()
        if self._errors:
            raise self._errors[0]


@dataclass(frozen=True, slots=True)
class EncodeResult:
    """What one pass produced (the manifest without file names)."""

    sha256: bytes
    size: int
    ciphertext_length: int
    cids: tuple[CID, ...]
    shard_sizes: tuple[int, ...]
    #: Each shard's possession root (32 bytes), or None for sinks made with ``roots=False``.
    roots: tuple[bytes | None, ...] = ()


def encode_stream(
    stream: BinaryIO,
    size: int,
    sinks: Sequence[ShardSink],
    *,
    key: bytes,
    erasure: ErasureParams,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    progress: Progress | None = None,
    workers: int = 2,
    salt: bytes | None = None,
) -> EncodeResult:
    """Encrypt, erasure-code and import ``size`` bytes of ``stream`` into ``len(sinks) == n`` sinks.

    ``workers`` threads feed the sinks (0: all in this thread). ``salt`` fixes the
    encryption salt (reproducible outputs for tests; leave it random otherwise).
    """
    if len(sinks) != erasure.n:
        raise FormatError(f"need {erasure.n} shard sinks, got {len(sinks)}")
    ct_length = aead.SegmentLayout.for_plaintext(segment_size, size).ciphertext_length
    encryptor = aead.Encryptor(key, segment_size, salt=salt)
    encoder = ShardEncoder(erasure, ct_length)
    digest = hashlib.sha256()
    feed: Callable[[Sequence[Buffer]], None]
    # At most ~64 MiB of stripes queued for the sinks, whatever k, n and block size.
    depth = max(1, min(4, (64 << 20) // (erasure.n * erasure.block_size)))
    fan = _ThreadedSinks(sinks, workers, depth) if workers > 0 else None
    if fan is not None:
        feed = fan.put
    else:

        def feed(pieces: Sequence[Buffer]) -> None:
            for sink, piece in zip(sinks, pieces, strict=True):
                sink.write(piece)

    try:
        for pieces in encoder.update(encryptor.header):
            feed(pieces)
        read = 0
        while True:
            data = stream.read(READ_SIZE)
            if not data:
                break
            read += len(data)
            digest.update(data)
            for segment in encryptor.update(data):
                for pieces in encoder.update(segment):
                    feed(pieces)
            if progress is not None:
                progress(len(data))
        if read != size:
            raise FormatError(f"input is {read} bytes, expected {size}: did the file change while encoding?")
        for pieces in [*encoder.update(encryptor.finalize()), *encoder.finalize()]:
            feed(pieces)
    finally:
        if fan is not None:
            fan.close()
    cids = tuple(sink.finish() for sink in sinks)
    return EncodeResult(
        sha256=digest.digest(),
        size=size,
        ciphertext_length=ct_length,
        cids=cids,
        shard_sizes=tuple(sink.size for sink in sinks),
        roots=tuple(sink.root for sink in sinks),
    )


def encode_file(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    erasure: ErasureParams,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    name: str | None = None,
    media_type: str | None = None,
    key: bytes | None = None,
    shard_files: bool = False,
    cars: bool = True,
    overwrite: bool = False,
    progress: Progress | None = None,
    roots: bool = True,
) -> Manifest:
    """Encode ``path`` into ``out_dir``: one CAR per shard and ``manifest.json`` (secret: has the key).

    ``shard_files`` also writes each shard's raw bytes (``shard-NNN.scs``), which the
    CAR already contains; useful for tools that want the bytes without IPFS.
    Each shard's possession root is computed in the same pass (``manifest.roots``);
    ``roots=False`` skips it (the benchmark's baseline) and leaves them None.
    """
    src = Path(path)
    if not src.is_file():
        raise FormatError(f"{src} is not a regular file; give the path of a file to encode")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FormatError(f"{out} exists and is not a directory; give a directory for the shards")
    if (out / FILENAME).exists() and not overwrite:
        raise FormatError(
            f"{out} already holds an encoded file ({FILENAME}, with its key); "
            "choose another directory, or overwrite it (--force)"
        )
    out.mkdir(parents=True, exist_ok=True)
    key = aead.new_content_key() if key is None else key
    with contextlib.ExitStack() as stack:
        sinks = []
        for i in range(erasure.n):
            raw = stack.enter_context((out / shard_file_name(i)).open("wb")) if shard_files else None
            car = stack.enter_context((out / car_file_name(i)).open("w+b")) if cars else None
            sinks.append(ShardSink(car=car, raw=raw, roots=roots))
        f = stack.enter_context(src.open("rb"))
        size = os.fstat(f.fileno()).st_size
        result = encode_stream(
            f, size, sinks, key=key, erasure=erasure, segment_size=segment_size, progress=progress
        )
    manifest = Manifest(
        name=name if name is not None else src.name,
        media_type=media_type or mimetypes.guess_type(src.name)[0] or "application/octet-stream",
        size=result.size,
        sha256=result.sha256,
        content_key=key,
        segment_size=segment_size,
        erasure=erasure,
        ciphertext_length=result.ciphertext_length,
        shards=tuple(
            ShardEntry(
                index=i,
                cid=cid_str(cid),
                file=shard_file_name(i) if shard_files else None,
                car=car_file_name(i) if cars else None,
                size=result.shard_sizes[i],
                root=result.roots[i],
            )
            for i, cid in enumerate(result.cids)
        ),
    )
    _write_secret(out / FILENAME, manifest.to_json())
    return manifest


def _write_secret(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def decrypt_shards(
    streams: Iterable[Readable],
    key: bytes,
    out: BinaryIO,
    *,
    expected_sha256: bytes | None = None,
    progress: Progress | None = None,
    names: Sequence[str] | None = None,
) -> int:
    """Decode any k shards, decrypt, write the plaintext to ``out``; return its size.

    Raises before returning if anything fails to verify; ``out`` may then hold a
    prefix of authenticated plaintext, so write to a temporary file (as :func:`decode_dir` does).
    """
    shards = ShardSet(streams, names=names)
    decryptor = aead.Decryptor(key)
    digest = hashlib.sha256()
    size = 0
    for blocks in shards.stripes():
        for block in blocks:
            for plain in decryptor.update(block):
                digest.update(plain)
                out.write(plain)
                size += len(plain)
            if progress is not None:
                progress(len(block))
    plain = decryptor.finalize()
    digest.update(plain)
    out.write(plain)
    size += len(plain)
    if expected_sha256 is not None and digest.digest() != expected_sha256:
        raise ScatterIntegrityError(
            "decrypted file does not match its recorded sha256; the metadata is stale or wrong"
        )
    return size


def load_manifest(directory: str | os.PathLike[str]) -> Manifest:
    path = Path(directory) / FILENAME
    try:
        return Manifest.from_json(path.read_text())
    except FileNotFoundError:
        raise FormatError(
            f"no {FILENAME} in {directory}; give the directory written by scatter encode"
        ) from None


def ensure_roots(directory: str | os.PathLike[str]) -> Manifest:
    """The manifest in ``directory`` with every shard's possession root of the current format.

    A manifest written by an older release has none (version 1) or roots of possession
    format 1 (version 2), which the market refuses: they are recomputed here from the
    shards (the raw file, else the CAR verified against the shard's CID; the size
    checked) and the manifest is rewritten at the current version. Raises
    :class:`FormatError` with one line when a shard is missing.
    """
    base = Path(directory)
    manifest = load_manifest(base)
    if all(s.root is not None for s in manifest.shards):
        return manifest
    shards = []
    for entry in manifest.shards:
        if entry.root is None:
            if _shard_path(base, entry) is None:
                raise FormatError(
                    f"shard {entry.index} of {base} is missing (no shard file or CAR) and its possession "
                    "root must be recomputed for the current format; re-run scatter encode"
                )
            with _open_shard(base, entry, 1) as stream:
                size, root = root_of_chunks(iter(lambda: stream.read(READ_SIZE), b""))
            if size != entry.size:
                raise FormatError(
                    f"shard {entry.index} of {base} holds {size} bytes, the manifest says "
                    f"{entry.size}; re-run scatter encode"
                )
            entry = replace(entry, root=root)
        shards.append(entry)
    manifest = replace(manifest, shards=tuple(shards))
    _write_secret(base / FILENAME, manifest.to_json())
    return manifest


class _Tagged:
    """A shard stream whose read errors name the shard (so the caller can try another)."""

    def __init__(self, stream: BinaryIO, index: int) -> None:
        self._stream = stream
        self.index = index

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._stream.read(size)
        except BadShardError:
            raise
        except (ScatterError, OSError) as exc:
            raise BadShardError(f"shard {self.index} is unreadable: {exc}", index=self.index) from exc


def _shard_path(base: Path, entry: ShardEntry) -> Path | None:
    """The raw shard file if present, else the shard's CAR if present."""
    for name in (entry.file, entry.car):
        if name is not None and (base / name).is_file():
            return base / name
    return None


def _open_shard(base: Path, entry: ShardEntry, k: int) -> BinaryIO:
    path = _shard_path(base, entry)
    assert path is not None
    if entry.file is not None and path == base / entry.file:
        return path.open("rb")
    from scatter.formats.carshard import open_car_shard

    # Read-ahead of 256 KiB blocks per shard, ~64 MiB over the k shards read at once.
    depth = max(2, min(16, 256 // k))
    return open_car_shard(path, expected_root=entry.cid, prefetch_depth=depth)


def decode_dir(
    directory: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    use: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Rebuild the plaintext from the shards present in ``directory`` (any k of them).

    Each shard is read from its raw file if there is one, else from its CAR (verified block by block).

    The output appears (atomically) only once everything verified: no partial or wrong plaintext.
    """
    base = Path(directory)
    manifest = load_manifest(base)
    k = manifest.erasure.k
    wanted = set(range(manifest.erasure.n) if use is None else use)
    present = [s for s in manifest.shards if s.index in wanted and _shard_path(base, s) is not None]
    target = Path(out_path)
    if target.is_dir():
        raise FormatError(f"{target} is a directory; give the path of the file to write")
    tmp = target.with_name(f".{target.name}.part")
    failed: dict[int, str] = {}
    try:
        while True:
            usable = [s for s in present if s.index not in failed]
            if len(usable) < k:
                detail = "; ".join(why for _, why in sorted(failed.items()))
                raise NotEnoughShardsError(len(usable), k, detail=detail)
            try:
                with contextlib.ExitStack() as stack:
                    streams = [
                        _Tagged(stack.enter_context(_open_shard(base, s, k)), s.index) for s in usable[:k]
                    ]
                    with tmp.open("wb") as out:
                        decrypt_shards(
                            streams,
                            manifest.content_key,
                            out,
                            expected_sha256=manifest.sha256,
                            progress=progress,
                            names=[f"shard {s.index}" for s in usable[:k]],
                        )
                break
            except BadShardError as exc:
                # One identified shard is bad: drop it and start over with another.
                failed[exc.index] = str(exc)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return manifest


def shard_cid(stream: Readable) -> CID:
    """The CID ``ipfs add --cid-version=1`` gives a shard's bytes."""
    sink = ShardSink(roots=False)
    while chunk := stream.read(READ_SIZE):
        sink.write(chunk)
    return sink.finish()


def heal_shard(
    sources: Iterable[Readable],
    index: int,
    *,
    expected_cid: str | CID | None = None,
    out: BinaryIO | None = None,
    car_out: BinaryIO | None = None,
) -> CID:
    """Rebuild shard ``index`` from any k shards of the file, with no key, and return its CID.

    With ``expected_cid`` (the CID named in the reopened slot) a mismatch raises
    :class:`MismatchedShardsError` rather than returning bytes nobody asked for.
    Write ``out``/``car_out`` to temporary files and keep them only on success.
    """
    from scatter.formats.erasure import rebuild_shard

    sink = ShardSink(car=car_out, raw=out, roots=False)
    for piece in rebuild_shard(sources, index):
        sink.write(piece)
    cid = sink.finish()
    if expected_cid is not None:
        want = expected_cid if isinstance(expected_cid, CID) else CID.decode(expected_cid)
        if cid != want:
            raise MismatchedShardsError(
                f"rebuilt shard {index} has CID {cid_str(cid)}, but the slot names {cid_str(want)}: "
                "the source shards are of another file or encoding"
            )
    return cid
