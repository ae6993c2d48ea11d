"""Check that contracts sharing storage through DELEGATECALL declare the same layout.

Usage: python scripts/same_storage_layout.py .forge/out Market MarketExtension

Reads the storage layouts forge wrote beside each artifact (``extra_output = ["storageLayout"]``
in foundry.toml), so the check needs no compile of its own (``forge inspect`` would recompile and
reset forge's cache).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def layout(out: Path, contract: str) -> list[tuple[str, str, int, str]]:
    artifact = json.loads((out / f"{contract}.sol" / f"{contract}.json").read_text())
    storage = artifact["storageLayout"]["storage"]
    types = artifact["storageLayout"]["types"] or {}
    names = {key: t.get("label", key) for key, t in types.items()}
    return [(v["label"], v["slot"], v["offset"], names.get(v["type"], v["type"])) for v in storage]


def main(argv: list[str]) -> int:
    out, first, *others = argv
    expected = layout(Path(out), first)
    for other in others:
        found = layout(Path(out), other)
        if found != expected:
            diff = next((i for i, (a, b) in enumerate(zip(expected, found, strict=False)) if a != b), None)
            if diff is None:
                where = f"{len(expected)} vs {len(found)} entries"
            else:
                where = f"first difference at entry {diff}: {expected[diff]} vs {found[diff]}"
            print(f"{first} and {other} have different storage layouts ({where})", file=sys.stderr)
            return 1
    print(f"{', '.join([first, *others])}: one storage layout ({len(expected)} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
