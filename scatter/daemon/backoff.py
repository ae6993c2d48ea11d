"""Retry with exponential backoff and jitter: how daemons wait out an RPC outage.

:class:`Backoff` is the one schedule of waits (``initial``, ``initial x factor``, ...
up to ``maximum``, each +/- ``jitter``); :func:`retry` is the one loop that awaits a
call until it succeeds. Both daemons wait for their chain node with it, and the SDK
spaces its pushes to a hoster with the same schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from scatter.daemon.logs import log_event
from scatter.errors import ScatterConnectionError, ScatterTimeoutError

T = TypeVar("T")
RETRYABLE: tuple[type[BaseException], ...] = (
    ScatterConnectionError,
    ScatterTimeoutError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delays(self) -> Callable[[int], float]:
        """The wait after failed attempt ``n`` (0 for the first failure)."""

        def delay(attempt: int) -> float:
            base = min(self.maximum, self.initial * self.factor**attempt)
            return base * (1 + random.uniform(-self.jitter, self.jitter))

        return delay


async def retry(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff = Backoff(),
    retryable: tuple[type[BaseException], ...] = RETRYABLE,
    attempts: int | None = None,
    logger: logging.Logger | None = None,
    on_error: Callable[[BaseException, float], object] | None = None,
    stop: asyncio.Event | None = None,
) -> T:
    """Await ``call()`` until it succeeds, waiting with backoff after retryable errors.

    ``attempts=None`` retries forever (a daemon waiting for its RPC node). After each
    retryable error but the last of ``attempts``, ``on_error(error, wait)`` is called
    (metrics, a log line of the caller's own), and a ``retrying`` warning is logged on
    ``logger`` when one is given.
    Once ``stop`` is set, the last error is raised instead of waiting (a wait in
    progress is cut short): a daemon shutting down does not hang on a dead node.
    Other errors propagate at once.
    """
    delay = backoff.delays()
    attempt = 0
    while True:
        try:
            return await call()
        except retryable as exc:
            if attempts is not None and attempt + 1 >= attempts:
                raise
            wait = delay(attempt)
            if on_error is not None:
                on_error(exc, wait)
            if stop is not None and stop.is_set():
                raise
            if logger is not None:
                fields = {"what": what, "attempt": attempt + 1, "wait_s": round(wait, 2), "error": str(exc)}
                log_event(logger, "retrying", logging.WARNING, **fields)
            if stop is None:
                await asyncio.sleep(wait)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                if stop.is_set():
                    raise
            attempt += 1
