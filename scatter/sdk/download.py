"""Download: get a file back by id, name or share link — any k shards, verified, decoded, decrypted.

Which hosters to ask comes from the chain (the deals of the version's bid, active
ones first, then every hoster for a share link); the shards come from their
Trustless Gateways (:mod:`scatter.sdk.fetch`), and the file appears at its
destination only once its sha256 matched.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scatter.chain.market import DealStatus
from scatter.errors import ScatterValueError
from scatter.sdk.files import FileEntries
from scatter.sdk.models import DownloadResult, Reporter, SilentReporter

if TYPE_CHECKING:
    from scatter.sdk.fetch import ShardSource

_SHARE_PREFIXES = ("scatter:file?", "https://")


class Downloads(FileEntries):
    """``download`` a file of this account, or anyone's by share link."""

    def download(
        self,
        ref: int | str,
        dest: str | os.PathLike[str] | None = None,
        *,
        version: int = 0,
        reporter: Reporter | None = None,
        concurrency: int = 8,
        timeout: float = 15.0,
    ) -> DownloadResult:
        """Get a file back by id, name or share link: any k shards from the hosters, verified, decrypted.

        ``version`` 0 is the current version, 1 the one before, and so on. ``dest``
        may be a directory (the file's name is kept) or a path; default: the name in
        the working directory. The file appears only once its sha256 matched.
        """
        from scatter.formats.sharelink import parse_share_link

        rep = reporter or SilentReporter()
        started = time.monotonic()
        bid_id: int | None = None
        if isinstance(ref, str) and ref.startswith(_SHARE_PREFIXES):
            link = parse_share_link(ref)
            name = link.name or "download.bin"
            cids, k, key, sha = link.shards, link.k, link.content_key, link.sha256
            size = link.size
        else:
            file_id = self.resolve_file(ref)
            record = self._metadata(file_id)
            versions = (record.current, *record.history)
            if not 0 <= version < len(versions):
                raise ScatterValueError(
                    f"file {file_id} has {len(versions)} version(s); ask for 0..{len(versions) - 1}"
                )
            v = versions[version]
            name, cids, k, key, sha, size = (
                record.name,
                v.shards,
                v.erasure.k,
                v.content_key,
                v.sha256,
                v.size,
            )
            bid_id = v.bid_id
        target = Path(dest) if dest is not None else Path.cwd() / Path(name).name
        if target.is_dir():
            target = target / Path(name).name
        sources = self._shard_sources(cids, bid_id)
        used = self._fetch_and_decode(sources, k, key, sha, size, target, rep, concurrency, timeout)
        return DownloadResult(
            path=target,
            name=name,
            size=target.stat().st_size,
            sha256=sha or hashlib.sha256(target.read_bytes()).digest(),
            shards_used=used,
            seconds=time.monotonic() - started,
        )

    def _shard_sources(self, cids: Sequence[str], bid_id: int | None) -> list[ShardSource]:
        from scatter.sdk.fetch import ShardSource

        everyone = self.hoster_endpoints()
        by_slot: dict[int, list[str]] = {}
        if bid_id is not None:
            deals = self.deals_of_bid(bid_id)
            # Active deals first, then older ones (a finished hoster may still serve).
            for deal in sorted(deals, key=lambda d: (d.status != DealStatus.ACTIVE, -d.deal_id)):
                url = everyone.get(deal.hoster)
                if url:
                    by_slot.setdefault(deal.slot, []).append(url)
        sources = []
        for i, cid in enumerate(cids):
            first = by_slot.get(i, [])
            rest = [u for u in everyone.values() if u not in first]
            # With the bid known, ask its hosters; without (a share link), any hoster may hold it.
            gateways = (
                [*first, *self.gateways] if bid_id is not None and first else [*first, *self.gateways, *rest]
            )
            sources.append(ShardSource(i, cid, tuple(dict.fromkeys(gateways))))
        return sources

    def _fetch_and_decode(
        self,
        sources: list[ShardSource],
        k: int,
        key: bytes,
        sha: bytes | None,
        size: int | None,
        target: Path,
        rep: Reporter,
        concurrency: int,
        timeout: float,
    ) -> tuple[int, ...]:
        from scatter.formats.pipeline import decrypt_shards
        from scatter.sdk.fetch import fetch_any_k

        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".scatter-dl-", dir=target.parent) as work:
            expected = (size or 0) * len(sources) // max(k, 1) // max(len(sources), 1) * k or 1
            with rep.bar(f"fetching {k} of {len(sources)} shards", expected) as advance:
                fetched = asyncio.run(
                    fetch_any_k(
                        sources, k, Path(work), concurrency=concurrency, timeout=timeout, progress=advance
                    )
                )
            tmp = Path(work) / "plain"
            with rep.bar("decoding + decrypting", size or 1) as advance, tmp.open("wb") as out:
                streams = [s.path.open("rb") for s in fetched]
                try:
                    decrypt_shards(streams, key, out, expected_sha256=sha, progress=advance)
                finally:
                    for stream in streams:
                        stream.close()
            os.replace(tmp, target)
        return tuple(s.index for s in fetched)
