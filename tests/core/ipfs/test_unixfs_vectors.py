"""The importer gives the CIDs Kubo gives (golden vectors), at every layout boundary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scatter.ipfs import UnixFSImporter, import_bytes

MakeBytes = Callable[[dict[str, Any], int], bytes]
VERSIONS = pytest.mark.parametrize(("version", "column"), [(0, "cidv0"), (1, "cidv1_raw_leaves")])


@VERSIONS
def test_import_matches_kubo_ipfs_add(
    kubo_vector: dict[str, Any], version: int, column: str, make_bytes: MakeBytes
) -> None:
    data = make_bytes(kubo_vector["recipe"], kubo_vector["length"])
    root, _ = import_bytes(data, cid_version=version)
    assert str(root) == kubo_vector[column]


@VERSIONS
def test_import_matches_independent_importer_at_layout_boundaries(
    independent_vector: dict[str, Any], version: int, column: str, make_bytes: MakeBytes
) -> None:
    vector = independent_vector
    data = make_bytes(vector["recipe"], vector["length"])
    imp = UnixFSImporter(version, vector["chunk_size"], vector["max_links"])
    # odd-sized writes, so that chunk boundaries fall inside a write
    piece = 100_003
    for i in range(0, len(data), piece):
        imp.write(data[i : i + piece])
    imp.finish()
    assert str(imp.root) == vector[column]
    assert imp.size == len(data)
