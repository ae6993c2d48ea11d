"""The `scatter cid|car|ipfs` commands, run in process."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scatter.cli import app
from scatter.ipfs import import_bytes, read_car

runner = CliRunner()
DATA = random.Random(1).randbytes(600_000)  # deterministic: test ids and xdist workers agree


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    p = tmp_path / "sample.bin"
    p.write_bytes(DATA)
    return p


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize("version", [0, 1])
def test_cid_prints_what_ipfs_add_gives(sample: Path, version: int) -> None:
    out = _json(["cid", str(sample), "--cid-version", str(version)])
    root, blocks = import_bytes(DATA, cid_version=version)
    assert out == {"cid": str(root), "size": len(DATA), "blocks": len(blocks)}


def test_car_writes_a_car_whose_root_is_the_cid(sample: Path, tmp_path: Path) -> None:
    out = _json(["car", str(sample), "-o", str(tmp_path / "s.car")])
    with (tmp_path / "s.car").open("rb") as f:
        roots, blocks = read_car(f)
        assert [str(r) for r in roots] == [out["cid"]]
        assert len(list(blocks)) == out["blocks"]


def test_add_ls_get_unpin_gc_round_trip(sample: Path, tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    cid = _json(["ipfs", "add", str(sample), *store])["cid"]
    assert _json(["ipfs", "ls", *store])["pins"] == [cid]
    _json(["ipfs", "get", str(cid), "-o", str(tmp_path / "back.bin"), *store])
    assert (tmp_path / "back.bin").read_bytes() == DATA
    _json(["ipfs", "get", str(cid), "--car", "-o", str(tmp_path / "back.car"), *store])
    _json(["ipfs", "unpin", str(cid), *store])
    assert _json(["ipfs", "gc", *store])["removed_blocks"] == 4
    assert _json(["ipfs", "import", str(tmp_path / "back.car"), *store])["roots"] == [cid]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cid", "/nonexistent/file"], "no such file"),
        (["cid", ".", "--cid-version", "2"], "cid-version"),
        (["ipfs", "add", str(Path(__file__).parent)], "add it with -r"),
        (["ipfs", "pin", "not-a-cid"], "not a CID"),
    ],
)
def test_bad_input_is_a_scatter_error(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--store", str(tmp_path)] if args[0] == "ipfs" else args)
    assert result.exit_code != 0
    assert message in str(result.exception)
