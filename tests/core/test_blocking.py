"""The SDK's blocking calls work from a thread that already runs an event loop (a notebook)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from scatter.blocking import run_blocking
from scatter.ipfs import MemoryBlockStore, import_bytes
from scatter.ipfs.gateway.client import fetch_dag
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app


async def _thread_name() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


async def _fails() -> None:
    raise ValueError("from the coroutine")


def test_without_a_running_loop_it_runs_in_the_calling_thread() -> None:
    assert run_blocking(_thread_name()) == threading.current_thread().name


def test_inside_a_running_loop_it_returns_and_raises_like_asyncio_run() -> None:
    async def notebook_cell() -> str:
        with pytest.raises(ValueError, match="from the coroutine"):
            run_blocking(_fails())
        return run_blocking(_thread_name())

    assert asyncio.run(notebook_cell()).startswith("scatter-blocking")


def test_fetch_dag_from_a_notebook_cell() -> None:
    """The blocking gateway fetch (what ``download`` and ``pin`` use) inside a running loop,
    against a real gateway on loopback."""
    data = bytes(range(256)) * 5000
    root, blocks = import_bytes(data)
    origin = MemoryBlockStore()
    for block in blocks:
        origin.put(block)
    server = GatewayServer(create_gateway_app(origin)).start()
    try:

        async def notebook_cell() -> int:
            store = MemoryBlockStore()
            fetch_dag([server.url], root, store, pin=False)
            return sum(len(store.get(b.cid)) for b in blocks)

        assert asyncio.run(notebook_cell()) == sum(len(b.data) for b in blocks)
    finally:
        server.stop()
