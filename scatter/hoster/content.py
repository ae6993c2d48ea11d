"""Taking content for a slot: the signed CAR upload, a verified fetch, and healing.

Nothing reaches the hoster's store before it is verified. A pushed CAR is read
where it was spooled (:class:`~scatter.ipfs.carfile.CarBlocks`), fetched content
lands in a scratch store of its own (a temporary directory); every block is checked
against its CID, the DAG's root must be the slot's CID, the DAG must be
consistent and encode exactly the slot's size with no more block bytes than
that needs, and its possession root must be the slot's
(:func:`~scatter.hoster.possess.check_shard`). Only then are the DAG's blocks
copied into the store and pinned; blocks of the CAR outside that DAG are never
copied. Refused content leaves nothing behind: the spooled CAR and the scratch
directory are removed whatever happens, and what a killed process left in ``STATE_DIR/tmp`` is removed
at the next start (:mod:`scatter.hoster.gc`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from multiformats import CID

from scatter.chunkio import ChunkReader
from scatter.errors import ScatterError, ScatterValueError
from scatter.formats.pipeline import heal_shard
from scatter.formats.possession import PossessionCache
from scatter.formats.shard_schema import HEADER_SIZE, ShardHeader
from scatter.hoster.failpoints import crash_point
from scatter.hoster.possess import ShardMismatch, check_shard
from scatter.ipfs.abc import BlockSource, BlockStore
from scatter.ipfs.car import read_car
from scatter.ipfs.carfile import CarBlocks, CarV2Error
from scatter.ipfs.cid import cid_bytes, cid_str, parse_cid
from scatter.ipfs.dag import missing_blocks, walk_dag
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.exporter import iter_file
from scatter.ipfs.gateway.client import GatewayClient
from scatter.protocol.upload import EXPIRES_HEADER, SHA256_HEADER, SIGNATURE_HEADER, CarUpload, parse_hex


class UploadRejected(ScatterError):
    """An upload refused with an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def car_limit(size: int) -> int:
    """Largest CAR accepted for a slot of ``size`` bytes: the data plus generous DAG overhead."""
    return size + size // 512 + (64 << 10)


@dataclass(frozen=True)
class UploadContext:
    bid_id: int
    slot: int
    cid: str
    size: int
    client: str
    chain_id: int
    market: str


@dataclass(frozen=True)
class Checked:
    """Content that matched the slot and is now pinned in the store."""

    size: int
    cache: PossessionCache


def check_upload_headers(headers: Any, ctx: UploadContext, *, now: float | None = None) -> CarUpload:
    """Verify everything that can be verified before reading the body; returns the signed message."""
    try:
        signature = parse_hex(headers.get(SIGNATURE_HEADER), 65, SIGNATURE_HEADER)
        sha = parse_hex(headers.get(SHA256_HEADER), 32, SHA256_HEADER)
        expires = int(headers.get(EXPIRES_HEADER) or "")
        size = int(headers.get("content-length") or "")
    except (ScatterValueError, ValueError) as exc:
        raise UploadRejected(400, f"bad upload headers: {exc}") from None
    if expires < (time.time() if now is None else now):
        raise UploadRejected(403, "upload signature has expired")
    if size <= 0 or size > car_limit(ctx.size):
        raise UploadRejected(413, f"CAR of {size} bytes exceeds the limit for this slot")
    upload = CarUpload(ctx.bid_id, ctx.slot, cid_bytes(parse_cid(ctx.cid)), sha, size, expires)
    try:
        signer = upload.signer(signature, ctx.chain_id, ctx.market)
    except ScatterValueError as exc:
        raise UploadRejected(403, str(exc)) from None
    if signer.lower() != ctx.client.lower():
        raise UploadRejected(403, "upload not signed by the bid's client for this slot and CID")
    return upload


async def spool_body(chunks: AsyncIterator[bytes], upload: CarUpload, out: BinaryIO, *,
                     idle_timeout: float, total_timeout: float) -> None:  # fmt: skip
    """Copy the body to ``out``, checking its length and sha256 against the signed values."""
    digest = hashlib.sha256()
    got = 0
    deadline = time.monotonic() + total_timeout
    iterator = chunks.__aiter__()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise UploadRejected(408, "upload too slow: deadline passed")
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout=min(idle_timeout, left))
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise UploadRejected(408, "upload too slow: no data within the idle timeout") from None
        got += len(chunk)
        if got > upload.car_size:
            raise UploadRejected(413, "body longer than the signed CAR size")
        digest.update(chunk)
        out.write(chunk)
    if got != upload.car_size:
        raise UploadRejected(400, f"body is {got} bytes, the signature says {upload.car_size}")
    if digest.digest() != upload.car_sha256:
        raise UploadRejected(400, "body does not hash to the signed sha256")


class Scratch:
    """A throw-away block store in ``directory`` (removed on exit, whatever happened)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> EmbeddedBlockStore:
        shutil.rmtree(self.directory, ignore_errors=True)
        self._store = EmbeddedBlockStore(self.directory / "blocks", durable=False)
        return self._store

    def __exit__(self, *exc: object) -> None:
        self._store.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def keep_checked(
    store: BlockStore, source: BlockSource, root: CID, size: int, possession_root: bytes
) -> Checked:
    """Check the DAG of ``root`` in ``source`` (the spooled CAR, or a scratch store) against the
    slot (:func:`check_shard`), then copy its blocks into ``store`` and pin it. Raises
    :class:`UploadRejected` (nothing copied) otherwise."""
    gaps: list[CID] = []
    with contextlib.suppress(ScatterError):  # a malformed DAG: check_shard names what is wrong
        gaps = missing_blocks(root, source, limit=1)
    if gaps:
        raise UploadRejected(400, f"the DAG of {cid_str(root)} lacks block {cid_str(gaps[0])}")
    try:
        cache = check_shard(source, root, size, possession_root)
    except ShardMismatch as exc:
        raise UploadRejected(422, str(exc)) from None
    # Only the DAG of the slot's CID is copied: other blocks in the CAR are never copied.
    # GC waits while the blocks are stored and pinned (they are unpinned until then).
    guard = store.writing() if isinstance(store, EmbeddedBlockStore) else contextlib.nullcontext()
    with guard:
        store.put_many(walk_dag(root, source, verify=False))
        crash_point("blocks_stored")
        try:
            store.pin(root)
        except ScatterError as exc:
            raise UploadRejected(400, f"cannot pin: {exc}") from None
    return Checked(size, cache)


def import_checked_car(store: BlockStore, work: Path, path: Path, cid: str, size: int,
                       possession_root: bytes) -> Checked:  # fmt: skip
    """Import the CAR at ``path`` if its only root is ``cid`` and its DAG matches the slot
    (exact ``size``, ``possession_root``); pin it. Nothing is kept otherwise. ``work`` is used
    only for a CAR v2 (imported into a scratch store there and removed)."""
    want = parse_cid(cid)
    with path.open("rb") as f:
        try:
            roots, _ = read_car(f)
        except ScatterValueError as exc:
            raise UploadRejected(400, f"not a valid CAR: {exc}") from None
    if roots != [want]:
        raise UploadRejected(400, f"CAR root is {', '.join(map(cid_str, roots))}, the slot names {cid}")
    try:
        blocks = CarBlocks(path)  # read in place: no copy of the blocks before they are checked
    except CarV2Error:
        with Scratch(work) as scratch, path.open("rb") as f:
            try:
                scratch.import_car(f, pin=False)
            except ScatterValueError as exc:
                raise UploadRejected(400, f"CAR rejected: {exc}") from None
            return keep_checked(store, scratch, want, size, possession_root)
    except ScatterValueError as exc:  # a block that does not match its CID, a malformed section
        raise UploadRejected(400, f"CAR rejected: {exc}") from None
    with blocks:
        return keep_checked(store, blocks, want, size, possession_root)


def multiaddr_url(addr: str) -> str | None:
    """The HTTP(S) URL of an HTTP-transport multiaddr, e.g. ``/dns4/h/tcp/443/https`` or
    ``/ip4/1.2.3.4/tcp/8080/http`` (``/tls/http`` = https; a trailing ``/p2p/<id>`` is ignored).
    None for anything else: libp2p-only addresses (bitswap) cannot be fetched over HTTP.

    Hand-written: the few HTTP forms are all we need, and py-multiaddr would bring trio.
    """
    parts = addr.strip().strip("/").split("/")
    if "p2p" in parts:
        parts = parts[: parts.index("p2p")]
    if len(parts) < 5 or parts[0] not in ("ip4", "ip6", "dns", "dns4", "dns6") or parts[2] != "tcp":
        return None
    host, port, rest = parts[1], parts[3], parts[4:]
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        return None
    if rest == ["http"]:
        scheme = "http"
    elif rest in (["https"], ["tls", "http"]):
        scheme = "https"
    else:
        return None
    host = f"[{host}]" if parts[0] == "ip6" else host
    default = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
    return f"{scheme}://{host}" + ("" if default else f":{port}")


def gateway_bases(urls: Sequence[str]) -> list[str]:
    """HTTP(S) gateway base URLs from origins such as ``http://h:8080/ipfs`` or an HTTP multiaddr
    (``/dns4/h/tcp/443/https``); others (libp2p-only multiaddrs) are skipped."""
    bases: list[str] = []
    for url in urls:
        if url.startswith("/"):
            url = multiaddr_url(url) or ""
        if not url.startswith(("http://", "https://")):
            continue
        base = url.rstrip("/")
        cut = base.find("/ipfs")
        base = base[:cut] if cut >= 0 else base
        if base not in bases:
            bases.append(base)
    return bases


async def fetch_checked(store: BlockStore, work: Path, cid: str, sources: Sequence[str], size: int,
                        possession_root: bytes, *, timeout: float = 60.0) -> Checked:  # fmt: skip
    """Fetch the DAG of ``cid`` from Trustless Gateways (every block verified) into a scratch
    store, check it against the slot, then keep and pin it."""
    root = parse_cid(cid)

    with Scratch(work) as scratch:
        async with GatewayClient(list(sources), timeout=timeout) as client:
            await client.fetch_dag(root, scratch, pin=False)
        return await asyncio.to_thread(keep_checked, store, scratch, root, size, possession_root)


def _shard_stream(root: CID, store: BlockStore) -> BinaryIO:
    return io.BufferedReader(ChunkReader(iter_file(root, store, verify=True)), buffer_size=256 * 1024)


def _read_head(root: CID, store: BlockStore) -> bytes:
    with _shard_stream(root, store) as stream:
        return stream.read(HEADER_SIZE)


async def heal(store: BlockStore, work_dir: Path, *, cids: Sequence[str], slot: int,
               sources: dict[int, list[str]], size: int, possession_root: bytes,
               timeout: float = 60.0) -> Checked:  # fmt: skip
    """Rebuild shard ``slot`` from any k other shards fetched from ``sources`` (slot → gateways).

    The shards are fetched into a scratch store (verified block by block), the
    missing shard is rebuilt with no key, its CID must be the slot's, then its
    CAR is checked against the slot (size, possession root), imported and pinned.
    """
    shutil.rmtree(work_dir, ignore_errors=True)
    scratch = EmbeddedBlockStore(work_dir / "blocks", durable=False)
    try:
        have: list[CID] = []
        k: int | None = None
        errors: list[str] = []
        for other, gateways in sorted(sources.items()):
            if other == slot or not gateways or (k is not None and len(have) >= k):
                continue
            root = parse_cid(cids[other])
            try:
                async with GatewayClient(gateways, timeout=timeout) as client:
                    await client.fetch_dag(root, scratch, pin=False)
                head = await asyncio.to_thread(_read_head, root, scratch)
                header = ShardHeader.unpack(head)
            except ScatterError as exc:
                errors.append(f"shard {other}: {exc}")
                continue
            if header.index != other:
                errors.append(f"shard {other}: header says index {header.index}")
                continue
            k = header.k
            have.append(root)
        if k is None or len(have) < k:
            raise ScatterError(
                f"not enough shards to heal slot {slot} ({len(have)}): " + "; ".join(errors)[:300]
            )

        def rebuild() -> Checked:
            car_path = work_dir / "healed.car"
            streams = [_shard_stream(r, scratch) for r in have[:k]]
            try:
                with car_path.open("w+b") as car:
                    heal_shard(streams, slot, expected_cid=cids[slot], car_out=car)
            finally:
                for s in streams:
                    s.close()
            return import_checked_car(store, work_dir / "check", car_path, cids[slot], size, possession_root)

        return await asyncio.to_thread(rebuild)
    finally:
        scratch.close()
        shutil.rmtree(work_dir, ignore_errors=True)
