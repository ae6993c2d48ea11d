"""The committed pricing vectors (tests/testdata/pricing_vectors.json) are what the Python model
computes today: a change of the model or of its gas constants fails here until the file is
regenerated, and the regenerated file then fails the dapp's TypeScript test until it follows."""

from __future__ import annotations

import json
from pathlib import Path

from scatter.sdk.pricing_vectors import VERSION, dumps, generate, main

VECTORS = Path(__file__).resolve().parents[2] / "testdata" / "pricing_vectors.json"
REGENERATE = "python -m scatter.sdk.pricing_vectors tests/testdata/pricing_vectors.json"


def test_the_committed_vectors_equal_a_fresh_generation() -> None:
    assert VECTORS.read_text() == dumps(generate()), f"stale pricing vectors: run `{REGENERATE}`"


def test_the_vectors_pin_round_half_to_even_both_ways() -> None:
    """Two audit terms land exactly on x.5, one rounded up and one down (Python's round)."""
    ties = [c for c in generate()["cases"] if c["params"] == "tie"]
    proofs = [int(c["gas"]["proofs"]) for c in ties]
    assert len(ties) == 2 and all(p % 2 == 0 for p in proofs)
    exact = [
        c["duration"] * json.loads(VECTORS.read_text())["constants"]["PROVE_ALONE"] / c["block_seconds"]
        for c in ties
    ]
    assert [x % 1 for x in exact] == [0.5, 0.5]
    assert {p - int(x) for p, x in zip(proofs, exact, strict=True)} == {0, 1}


def test_the_generator_writes_the_file_it_compares(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    assert main([str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["version"] == VERSION and data["regenerate"] == REGENERATE
    assert {c["params"] for c in data["cases"]} == {"devnet", "testnet", "tie"}
