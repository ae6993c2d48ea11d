"""Fixtures of the IPFS layer's fast tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
_PATTERN = bytes(i % 251 for i in range(251))


def recipe_bytes(recipe: dict[str, Any], length: int) -> bytes:
    """The file a test vector's recipe describes."""
    kind = recipe["kind"]
    if kind == "literal":
        data: bytes = recipe["text"].encode()
        assert len(data) == length
        return data
    if kind == "repeat":
        byte = recipe["byte"]
        return bytes([int(byte, 16) if isinstance(byte, str) else byte]) * length
    if kind == "counter":
        return (_PATTERN * (length // 251 + 1))[:length]
    raise AssertionError(f"unknown recipe {kind}")


def load_vectors(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((TESTDATA / name).read_text())["vectors"]
    return vectors


@pytest.fixture
def make_bytes() -> Callable[[dict[str, Any], int], bytes]:
    return recipe_bytes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``kubo_vector`` / ``independent_vector`` over the golden vector files."""
    for fixture, name in (
        ("kubo_vector", "unixfs_cid_vectors.json"),
        ("independent_vector", "unixfs_cid_vectors_independent.json"),
    ):
        if fixture in metafunc.fixturenames:
            vectors = load_vectors(name)
            metafunc.parametrize(fixture, vectors, ids=[v["name"] for v in vectors])
