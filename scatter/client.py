"""The Scatter SDK: store, share and get back files on the market; the CLI and the web API wrap it.

A private file goes top-down through the library::

    encode (scatter.formats.pipeline: encrypt -> erasure-code -> UnixFS CIDs + CARs
            + each shard's possession root)
    -> bid (scatter.chain.market: CIDs, roots, exact shard size)
    -> wait for a hoster to reserve each slot (SlotReserved)
    -> push the slot's CAR to that hoster (scatter.sdk.push)
    -> wait for the hoster to fill the slot with a possession proof (SlotFilled)
    -> encrypted metadata entry (scatter.formats.metadata + scatter.chain.files)

and comes back with :meth:`Scatter.download` (any k shards from the hosters'
gateways, scatter.sdk.fetch). Every step of an upload is recorded in an upload
session (scatter.sdk.session), so running the same upload again after an
interruption carries on where it stopped.

:class:`Scatter` is a facade: each flow lives in one module of :mod:`scatter.sdk`,
layered on the one below it —

* :mod:`scatter.sdk.base` — connection, account, deal lookups, local upload sessions;
* :mod:`scatter.sdk.views` — market views (status, bids, deals, nodes);
* :mod:`scatter.sdk.money` — cancel, extend, finish, balance, withdraw;
* :mod:`scatter.sdk.files` — ls, status and health, share, rm;
* :mod:`scatter.sdk.upload`, :mod:`scatter.sdk.download`, :mod:`scatter.sdk.pin` — the three flows;
* :mod:`scatter.sdk.watch` — directory backup over ``upload``.

Example::

    from scatter import Scatter

    sc = Scatter.connect()      # SCATTER_RPC_URL + SCATTER_PRIVATE_KEY (env or .env), or the dev network
    up = sc.upload("report.pdf", shards=(3, 6), duration="30d")
    sc.download(up.file_id, "copy.pdf")
    link = sc.share(up.file_id)
    Scatter.download_link(link, "theirs.pdf")    # anyone: no key, no deployment record, no connect()
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from scatter.errors import ScatterConnectionError
from scatter.sdk import units
from scatter.sdk.base import FillTimeoutError
from scatter.sdk.download import Downloads, download_link
from scatter.sdk.health import HealthWarning
from scatter.sdk.models import Reporter, SilentReporter
from scatter.sdk.network import Network, resolve_account, resolve_deployment, resolve_rpc_url
from scatter.sdk.pin import Pinning
from scatter.sdk.upload import Uploads

__all__ = ["AcceptTimeoutError", "FillTimeoutError", "HealthWarning", "Scatter"]

#: The name of :class:`FillTimeoutError` before Market version 2 (slots were "accepted").
AcceptTimeoutError = FillTimeoutError


class Scatter(Uploads, Downloads, Pinning):
    """A client of one Scatter deployment, signing with one account."""

    #: Download a share link read-only (no account, no deployment record):
    #: :func:`scatter.sdk.download.download_link`.
    download_link = staticmethod(download_link)

    @classmethod
    def connect(
        cls,
        rpc_url: str | None = None,
        *,
        private_key: str | None = None,
        keystore: Path | None = None,
        password: str | None = None,
        dev_account: int | None = None,
        state_root: Path | None = None,
        gateways: Sequence[str] = (),
    ) -> Scatter:
        """Connect to the chain (argument, ``SCATTER_RPC_URL``, ``./.scatter/dev/dev.json``, localhost)
        and load the account (argument, ``SCATTER_PRIVATE_KEY``/keystore, dev account 1 on the dev chain).

        Like the CLI, it first reads ``.env`` from the working directory upwards (variables already
        in the environment win): ``SCATTER_RPC_URL``, ``SCATTER_PRIVATE_KEY`` or ``SCATTER_KEYSTORE``
        + ``SCATTER_KEYSTORE_PASSWORD``, ``SCATTER_DEPLOYMENTS`` / ``SCATTER_MARKET`` (every name is in
        ``.env.example``)."""
        from scatter import config
        from scatter.chain.deploy import connect
        from scatter.chain.tx import rpc_guard

        config.load_env()
        url, summary = resolve_rpc_url(rpc_url)
        try:
            w3 = connect(url)
        except ScatterConnectionError as exc:
            if rpc_url is not None or os.environ.get("SCATTER_RPC_URL"):
                raise
            where = "the dev network of this directory" if summary is not None else "the default local node"
            raise ScatterConnectionError(
                f"{where} ({url}) does not answer: start it with `scatter dev`, "
                "or give --rpc-url / SCATTER_RPC_URL"
            ) from exc
        chain_id = rpc_guard("reading chain id", lambda: w3.eth.chain_id)
        deployment = resolve_deployment(chain_id, summary, w3)
        is_dev = summary is not None and int(summary.get("chainId", -1)) == chain_id
        account = resolve_account(
            private_key=private_key,
            keystore=keystore,
            password=password,
            dev_account=dev_account,
            on_dev_chain=is_dev,
        )
        return cls(Network(w3, url, deployment, is_dev), account, state_root=state_root, gateways=gateways)

    def watch(
        self,
        directory: str | os.PathLike[str],
        *,
        interval: float = 10.0,
        once: bool = False,
        shards: tuple[int, int] | str | None = None,
        duration: str | int = units.DEFAULT_DURATION,
        price: str | int | None = None,
        timeout: float = 300.0,
        reporter: Reporter | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[Any]:
        """Back up ``directory``: upload new files, add a version for changed ones, skip unchanged ones.

        Yields a :class:`~scatter.sdk.models.WatchEvent` per file handled; with ``once``
        returns after one pass, else scans every ``interval`` seconds. What was stored is
        kept under the SDK state root (``watch/``), so a restart carries on.
        """
        from scatter.sdk.watch import Watcher

        watcher = Watcher(
            self,
            Path(directory),
            shards=shards,
            duration=duration,
            price=price,
            timeout=timeout,
            reporter=reporter or SilentReporter(),
        )
        return watcher.run(interval=interval, once=once, should_stop=should_stop)
