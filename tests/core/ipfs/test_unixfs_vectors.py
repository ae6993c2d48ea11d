"""The importer gives the CIDs Kubo gives (golden vectors), at every layout boundary."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from scatter.ipfs import UnixFSImporter, import_bytes

_spec = importlib.util.spec_from_file_location("ipfs_conftest", Path(__file__).with_name("conftest.py"))
assert _spec and _spec.loader
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)

KUBO = _conf.load_vectors("unixfs_cid_vectors.json")
INDEPENDENT = _conf.load_vectors("unixfs_cid_vectors_independent.json")


@pytest.mark.parametrize("vector", KUBO, ids=[v["name"] for v in KUBO])
@pytest.mark.parametrize(("version", "column"), [(0, "cidv0"), (1, "cidv1_raw_leaves")])
def test_import_matches_kubo_ipfs_add(vector: dict[str, Any], version: int, column: str) -> None:
    data = _conf.recipe_bytes(vector["recipe"], vector["length"])
    root, _ = import_bytes(data, cid_version=version)
    assert str(root) == vector[column]


@pytest.mark.parametrize("vector", INDEPENDENT, ids=[v["name"] for v in INDEPENDENT])
@pytest.mark.parametrize(("version", "column"), [(0, "cidv0"), (1, "cidv1_raw_leaves")])
def test_import_matches_independent_importer_at_layout_boundaries(
    vector: dict[str, Any], version: int, column: str
) -> None:
    data = _conf.recipe_bytes(vector["recipe"], vector["length"])
    imp = UnixFSImporter(version, vector["chunk_size"], vector["max_links"])
    # feed in odd-sized pieces so that chunk boundaries fall inside writes
    piece = 100_003
    for i in range(0, len(data), piece):
        imp.write(data[i : i + piece])
    imp.finish()
    assert str(imp.root) == vector[column]
    assert imp.size == len(data)
