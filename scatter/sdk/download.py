"""Download: get a file back by id, name or share link — any k shards, verified, decoded, decrypted.

Which hosters to ask comes from the chain (the deals of the version's bid, active
ones first, then every hoster for a share link); the shards come from their
Trustless Gateways (:mod:`scatter.sdk.fetch`), and the file appears at its
destination only once its sha256 matched.

A share link needs no account and no deployment record: :func:`download_link` is
read-only. It asks the link's hoster hints, any ``gateways`` given, and, when an
RPC URL of the link's chain is known (the argument, ``SCATTER_RPC_URL`` or the dev
network of the working directory), every hoster registered in the Market the link
names. Whoever serves a shard, its blocks are checked against the link's CIDs,
the shards' headers and the key check refuse a wrong key, and the plaintext's
sha256 is compared before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scatter.blocking import run_blocking
from scatter.chain.market import DealStatus
from scatter.errors import ScatterError, ScatterValueError
from scatter.sdk.files import FileEntries
from scatter.sdk.models import DownloadResult, Reporter, SilentReporter

if TYPE_CHECKING:
    from scatter.formats.sharelink import ShareLink
    from scatter.sdk.fetch import ShardSource

_SHARE_PREFIXES = ("scatter:file?", "https://")
#: Seconds an RPC read of a read-only download may take.
_RPC_TIMEOUT = 10.0


def is_share_link(ref: object) -> bool:
    """Whether ``ref`` looks like a share link (rather than a file id or name)."""
    return isinstance(ref, str) and ref.startswith(_SHARE_PREFIXES)


def download_link(
    link: str | ShareLink,
    dest: str | os.PathLike[str] | None = None,
    *,
    rpc_url: str | None = None,
    gateways: Sequence[str] = (),
    reporter: Reporter | None = None,
    concurrency: int = 8,
    timeout: float = 15.0,
) -> DownloadResult:
    """Fetch and decrypt the file of a share link: read-only, no key, no deployment record.

    Hosters asked, in order: ``gateways``, the link's hints, then every hoster of the
    link's Market on its chain when an RPC URL of that chain is known (``rpc_url``,
    ``SCATTER_RPC_URL``, ``./.scatter/dev/dev.json``). An ``rpc_url`` given here must
    serve the link's chain; one from the environment that does not is skipped.
    """
    from scatter import config
    from scatter.formats.sharelink import parse_share_link

    config.load_env()
    started = time.monotonic()
    parsed = parse_share_link(link) if isinstance(link, str) else link
    rep = reporter or SilentReporter()
    endpoints = [*gateways, *parsed.hosts, *_market_hosters(parsed, rpc_url, rep)]
    if not endpoints:
        raise ScatterValueError(
            "no hoster to ask: the link carries no host hints; give --rpc-url of "
            + (f"chain {parsed.chain_id}" if parsed.chain_id is not None else "the link's chain")
            + " (read-only, no key needed) or --gateway URL"
        )
    return _link_download(parsed, dest, endpoints, rep, concurrency, timeout, started)


def _market_hosters(link: ShareLink, explicit: str | None, rep: Reporter) -> list[str]:
    """Endpoints of the hosters registered in the link's Market, read through an RPC of its chain."""
    from web3 import Web3

    from scatter.chain.deploy import connect
    from scatter.chain.market import Market
    from scatter.chain.tx import rpc_guard
    from scatter.sdk.network import resolve_deployment, resolve_rpc_url
    from scatter.sdk.views import registered_hosters

    url, summary = resolve_rpc_url(explicit)
    if explicit is None and summary is None and not os.environ.get("SCATTER_RPC_URL"):
        return []  # no RPC named anywhere: the hints are all there is
    try:
        w3 = connect(url, timeout=_RPC_TIMEOUT)
        chain_id = int(rpc_guard("reading chain id", lambda: w3.eth.chain_id))
        if link.chain_id is not None and chain_id != link.chain_id:
            raise ScatterValueError(
                f"the link is for chain {link.chain_id}, but {url} serves chain {chain_id}"
            )
        address = link.market or resolve_deployment(chain_id, summary, w3).market
        if not rpc_guard(
            "reading the Market's code", lambda: w3.eth.get_code(Web3.to_checksum_address(address))
        ):
            raise ScatterValueError(f"no contract at the link's Market {address} on chain {chain_id}")
        found = list(registered_hosters(Market(w3, address)).values())
    except ScatterError as exc:
        if explicit is not None:
            raise
        rep.step(f"not asking the chain for hosters ({str(exc).splitlines()[0]}); using the link's hints")
        return []
    rep.step(f"{len(found)} hoster(s) registered in Market {address} on chain {chain_id}")
    return found


def _link_download(
    link: ShareLink,
    dest: str | os.PathLike[str] | None,
    endpoints: Sequence[str],
    rep: Reporter,
    concurrency: int,
    timeout: float,
    started: float,
) -> DownloadResult:
    from scatter.sdk.fetch import ShardSource

    name = link.name or "download.bin"
    target = _target(dest, name)
    asked = tuple(dict.fromkeys(endpoints))
    sources = [ShardSource(i, cid, asked) for i, cid in enumerate(link.shards)]
    used = _fetch_and_decode(
        sources, link.k, link.content_key, link.sha256, link.size, target, rep, concurrency, timeout
    )
    return _result(target, name, link.sha256, used, started)


def _target(dest: str | os.PathLike[str] | None, name: str) -> Path:
    target = Path(dest) if dest is not None else Path.cwd() / Path(name).name
    return target / Path(name).name if target.is_dir() else target


def _result(
    target: Path, name: str, sha: bytes | None, used: tuple[int, ...], started: float
) -> DownloadResult:
    return DownloadResult(
        path=target,
        name=name,
        size=target.stat().st_size,
        sha256=sha or hashlib.sha256(target.read_bytes()).digest(),
        shards_used=used,
        seconds=time.monotonic() - started,
    )


def _fetch_and_decode(
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
    """Fetch any k shards into a temporary directory beside ``target``, decode and decrypt them
    there, and move the plaintext to ``target`` only once it verified (else nothing is written)."""
    from scatter.formats.pipeline import decrypt_shards
    from scatter.sdk.fetch import fetch_any_k

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".scatter-dl-", dir=target.parent) as work:
        expected = (size or 0) * len(sources) // max(k, 1) // max(len(sources), 1) * k or 1
        with rep.bar(f"fetching {k} of {len(sources)} shards", expected) as advance:
            fetched = run_blocking(
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
        rep = reporter or SilentReporter()
        started = time.monotonic()
        if is_share_link(ref):
            return self._download_link(str(ref), dest, rep, concurrency, timeout, started)
        file_id = self.resolve_file(ref)
        record = self._metadata(file_id)
        versions = (record.current, *record.history)
        if not 0 <= version < len(versions):
            raise ScatterValueError(
                f"file {file_id} has {len(versions)} version(s); ask for 0..{len(versions) - 1}"
            )
        v = versions[version]
        target = _target(dest, record.name)
        sources = self._shard_sources(v.shards, v.bid_id)
        used = _fetch_and_decode(
            sources, v.erasure.k, v.content_key, v.sha256, v.size, target, rep, concurrency, timeout
        )
        return _result(target, record.name, v.sha256, used, started)

    def _download_link(
        self,
        url: str,
        dest: str | os.PathLike[str] | None,
        rep: Reporter,
        concurrency: int,
        timeout: float,
        started: float,
    ) -> DownloadResult:
        """A share link: this deployment's hosters when the link names it (or names no chain),
        else only the link's hints and the gateways (the link is for another Market)."""
        from scatter.formats.sharelink import parse_share_link

        link = parse_share_link(url)
        ours = link.chain_id is None or (
            link.chain_id == self.network.chain_id
            and link.market is not None
            and link.market.lower() == self.deployment.market.lower()
        )
        everyone = list(self.hoster_endpoints().values()) if ours else []
        endpoints = [*self.gateways, *link.hosts, *everyone]
        if not endpoints:
            raise ScatterValueError("no hoster to ask: the link carries no host hints; give gateways=[URL]")
        return _link_download(link, dest, endpoints, rep, concurrency, timeout, started)

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
