"""The IPFS Pinning Service API of the web node: pins bought as bids on the market (docs/pinning.md).

:class:`PinningService` ties the parts together: :mod:`.store` (tokens, stored hashed,
and pin requests in SQLite), :mod:`.router` (``/pins``), :mod:`.worker` (pin requests
to bids paid from the node's wallet, deal states to ``queued/pinning/pinned/failed``),
:mod:`.settings` (``SCATTER_PINS_*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from scatter.web.pinning.settings import PinSettings
from scatter.web.pinning.store import PinStore

if TYPE_CHECKING:
    from fastapi import FastAPI

    from scatter.client import Scatter
    from scatter.web.pinning.worker import PinWorker

__all__ = ["PinSettings", "PinStore", "PinningService", "start_from_env"]


class PinningService:
    """The store, the ``/pins`` routes and (with an SDK) the worker that buys the pins."""

    def __init__(
        self, settings: PinSettings, sdk: Scatter | None = None, *, delegates: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.store = PinStore(settings.db)
        self.delegates = tuple(delegates)
        self.worker: PinWorker | None = None
        self._lock: IO[bytes] | None = None
        if sdk is not None:
            from scatter.web.pinning.worker import PinWorker, SdkBackend

            self.worker = PinWorker(self.store, SdkBackend(sdk), settings)

    def mount(self, app: FastAPI) -> None:
        from scatter.web.pinning.router import create_router

        app.include_router(create_router(self.store, self.settings, self.delegates))

    def start(self) -> PinningService:
        """Start the worker, once per store: a second one (``scatter web --pins`` beside a running
        ``scatter dev`` on the same store) would buy every pin twice, so it is refused."""
        if self.worker is not None:
            self._lock = _worker_lock(self.settings.db)
            self.worker.start()
        return self

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
        self.store.close()


def _worker_lock(db: Path) -> IO[bytes]:
    """An exclusive lock on ``<db>.worker.lock``, held while the returned file is open."""
    import fcntl

    from scatter.errors import ScatterValueError

    handle = db.with_name(db.name + ".worker.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ScatterValueError(
            f"another process's pinning worker uses {db}: one worker per store (it would buy every pin "
            "twice); stop it, or set SCATTER_PINS_DB to another store"
        ) from None
    return handle


def start_from_env(sdk: Scatter) -> PinningService:
    """The service ``scatter web --pins`` runs: ``SCATTER_PINS_*`` settings, the store the
    ``scatter pins token`` commands use (:func:`~scatter.web.pinning.settings.default_db`),
    pins paid from ``sdk``'s account; its worker started."""
    from scatter.web.pinning.settings import default_db

    settings = PinSettings.parse({"db": str(default_db()), **PinSettings.raw_settings()})
    return PinningService(settings, sdk).start()
