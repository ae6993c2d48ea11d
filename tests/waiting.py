"""Waiting for an outcome in tests: poll until it holds; the timeout only bounds a failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], timeout: float = 90.0, what: str = "condition", interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy and return that.

    The bound is generous on purpose (a shared, loaded machine runs daemons slowly): no assertion
    depends on how long the wait took, only on the outcome.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
