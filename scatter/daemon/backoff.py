"""Retry with exponential backoff and jitter: how daemons wait out an RPC outage."""

from __future__ import annotations

import asyncio
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
        def delay(attempt: int) -> float:
            base = min(self.maximum, self.initial * self.factor**attempt)
            return base * (1 + random.uniform(-self.jitter, self.jitter))

        return delay


async def retry(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    logger: logging.Logger,
    backoff: Backoff = Backoff(),
    retryable: tuple[type[BaseException], ...] = RETRYABLE,
    attempts: int | None = None,
) -> T:
    """Await ``call()`` until it succeeds, sleeping with backoff after retryable errors.

    ``attempts=None`` retries forever (a daemon waiting for its RPC node).
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
            fields = {"what": what, "attempt": attempt + 1, "wait_s": round(wait, 2), "error": str(exc)}
            log_event(logger, "retrying", logging.WARNING, **fields)
            await asyncio.sleep(wait)
            attempt += 1
