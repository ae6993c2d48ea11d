"""The committed vectors are exactly what the code produces today (formats did not drift)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.formats import vectors

DIR = Path(__file__).parents[2] / "testdata/formats"


@pytest.mark.parametrize("name", sorted(vectors.VECTORS))
def test_committed_vector_is_current(name: str) -> None:
    assert (DIR / name).read_text(encoding="utf-8") == vectors.render(name), (
        f"{name} differs from a fresh generation: a format changed; bump its version, "
        "then run python -m scatter.formats.vectors tests/testdata/formats"
    )
