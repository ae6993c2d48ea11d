"""The hoster's side of possession (docs/trust.md, "Possession tree"): check a shard, prove it.

- :func:`check_shard` runs before anything is filled: the DAG of the slot's CID
  must be complete and consistent (every block verified, every node's
  ``blocksizes`` equal to what its children hold), encode exactly ``size`` bytes,
  hold no more unique block bytes than a shard of that size needs, and hash to
  the slot's possession root. It returns the shard's :class:`PossessionCache`.
- :class:`ProofKeeper` keeps that cache per shard, small (20 bytes per 128 KiB),
  in ``STATE_DIR/possession/``, and answers a challenge seed with a proof that
  re-reads only the few blocks around the five challenged segments.

Proofs read the local block store only: a slow or flooded gateway never delays one.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from multiformats import CID

from scatter.errors import ScatterError, ScatterValueError
from scatter.formats.possession import PossessionCache, build_proof, challenge_indices
from scatter.ipfs.abc import BlockSource
from scatter.ipfs.block import verify_block
from scatter.ipfs.cid import CODEC_DAG_PB, CODEC_RAW, cid_str
from scatter.ipfs.dagcheck import check_shard_cache
from scatter.ipfs.dagpb import decode_node, decode_unixfs


class ShardMismatch(ScatterValueError):
    """The content does not match the slot's commitments (CID, size, possession root)."""


def dag_overhead_limit(size: int) -> int:
    """Most unique block bytes a DAG of a ``size``-byte file may hold: the data plus generous
    room for its inner nodes (a DAG bomb with huge inner nodes or padding is refused)."""
    return size + size // 64 + (16 << 10)


def read_range(store: BlockSource, root: CID, offset: int, length: int) -> bytes:
    """Bytes ``[offset, offset + length)`` of the UnixFS file at ``root``, every block verified;
    only the blocks covering the range are read (the node ``blocksizes`` locate them)."""
    out = bytearray()
    end = offset + length

    def visit(cid: CID, start: int) -> None:
        data = store.get(cid)
        verify_block(cid, data)
        if cid.codec.code == CODEC_RAW:
            lo, hi = max(offset, start), min(end, start + len(data))
            if lo < hi:
                out.extend(data[lo - start : hi - start])
            return
        if cid.codec.code != CODEC_DAG_PB:
            raise ShardMismatch(f"{cid_str(cid)} is not a UnixFS file block")
        node = decode_node(data)
        ufs = decode_unixfs(node.data or b"")
        pos = start
        inline = ufs.data or b""
        if inline:
            lo, hi = max(offset, pos), min(end, pos + len(inline))
            if lo < hi:
                out.extend(inline[lo - pos : hi - pos])
            pos += len(inline)
        for link, size in zip(node.links, ufs.blocksizes, strict=True):
            if pos >= end:
                break
            if pos + size > offset:
                visit(link.cid, pos)
            pos += size

    visit(root, 0)
    return bytes(out)


def check_shard(store: BlockSource, root: CID, size: int, possession_root: bytes) -> PossessionCache:
    """Check the DAG of ``root`` (complete, consistent, exactly ``size`` bytes, no more block bytes
    than :func:`dag_overhead_limit`) and its possession root; returns the shard's cache.

    The check is :func:`~scatter.ipfs.dagcheck.check_shard_cache` with the hoster's bound; it
    raises :class:`ShardMismatch` with a one-line reason otherwise.
    """
    try:
        return check_shard_cache(
            store, root, size, dag_overhead_limit(size), expected_root=bytes(possession_root)
        )
    except (ScatterError, ValueError, KeyError) as exc:
        raise ShardMismatch(f"content refused: {str(exc).splitlines()[0][:200]}") from None


class ProofKeeper:
    """Possession caches of the shards this hoster holds, and proofs from them."""

    def __init__(self, directory: Path, store: BlockSource, *, memory: int = 256) -> None:
        self.directory = directory
        self.store = store
        self._memory = memory
        self._loaded: OrderedDict[str, PossessionCache] = OrderedDict()
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, cid: CID) -> Path:
        return self.directory / f"{cid_str(cid)}.pc"

    def has(self, cid: CID) -> bool:
        return self._path(cid).exists()

    def save(self, cid: CID, cache: PossessionCache) -> None:
        """Write the cache atomically (temp file + rename)."""
        path = self._path(cid)
        with tempfile.NamedTemporaryFile("wb", dir=self.directory, delete=False, suffix=".tmp") as tmp:
            tmp.write(cache.to_bytes())
            tmp.flush()
            os.fsync(tmp.fileno())
        Path(tmp.name).replace(path)
        with self._lock:
            self._loaded[cid_str(cid)] = cache

    def forget(self, cid: CID) -> None:
        self._path(cid).unlink(missing_ok=True)
        with self._lock:
            self._loaded.pop(cid_str(cid), None)

    def cache(self, cid: CID, size: int) -> PossessionCache:
        """The shard's cache: from memory, from disk, or rebuilt from the store (and saved)."""
        key = cid_str(cid)
        with self._lock:
            found = self._loaded.get(key)
            if found is not None:
                self._loaded.move_to_end(key)
                return found
        try:
            cache = PossessionCache.from_bytes(self._path(cid).read_bytes())
        except (OSError, ScatterError, ValueError):
            cache = PossessionCache.build(lambda o, n: read_range(self.store, cid, o, n), size)
            self.save(cid, cache)
        if cache.size != size:
            raise ShardMismatch(f"possession cache of {key} is for {cache.size} bytes, not {size}")
        with self._lock:
            self._loaded[key] = cache
            while len(self._loaded) > self._memory:
                self._loaded.popitem(last=False)
        return cache

    def prove(self, cid: CID, size: int, seed: bytes) -> bytes:
        """The proof answering challenge ``seed`` for the shard ``cid`` of ``size`` bytes."""
        cache = self.cache(cid, size)
        indices = challenge_indices(bytes(seed), size)
        return build_proof(lambda o, n: read_range(self.store, cid, o, n), size, indices, cache=cache)
