"""Run a coroutine to completion from blocking code, whether or not an event loop is running.

The SDK's blocking calls (download, pin, fetch) drive asyncio clients. ``asyncio.run`` refuses to
start when the calling thread already runs a loop, which is the normal state of a Jupyter
notebook, of an ASGI handler that calls the SDK, and of Playwright's sync API. There the
coroutine runs on a fresh loop in a worker thread and the caller blocks until it ends; anywhere
else it runs on a fresh loop in the calling thread, exactly as ``asyncio.run`` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new event loop and return its result (or raise its exception)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scatter-blocking") as pool:
        return pool.submit(asyncio.run, coro).result()
