"""``scatter encode`` / ``scatter decode`` through the real typer app."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from scatter.cli import app
from scatter.formats.sharelink import parse_share_link

runner = CliRunner()


def test_encode_then_decode_from_parity_shards(tmp_path: Path) -> None:
    data = random.Random(5).randbytes(300_000)
    src = tmp_path / "notes.txt"
    src.write_bytes(data)
    out = tmp_path / "enc"
    result = runner.invoke(
        app, ["encode", str(src), "-o", str(out), "--shards", "2/4", "--json", "--share-link", "scatter:file"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["erasure"] == {"codec": "zfec", "k": 2, "n": 4, "block_size": 1048576}
    assert "content_key" not in manifest  # the key stays in manifest.json and the link fragment
    assert [s["cid"] for s in manifest["shards"]] == list(parse_share_link(manifest["share_link"]).shards)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"] + [
        f"shard-{i:03d}.car" for i in range(4)
    ]

    (out / "shard-000.car").unlink()
    (out / "shard-001.car").unlink()
    result = runner.invoke(app, ["decode", str(out), "-o", str(tmp_path / "back.txt"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["size"] == len(data)
    assert (tmp_path / "back.txt").read_bytes() == data


def test_decode_with_too_few_shards_fails_with_one_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"abc" * 1000)
    out = tmp_path / "enc"
    assert runner.invoke(app, ["encode", str(src), "-o", str(out), "--shards", "3/5", "-q"]).exit_code == 0
    result = runner.invoke(app, ["decode", str(out), "-o", str(tmp_path / "b"), "--use", "0,4"])
    assert result.exit_code != 0
    assert "need 3" in str(result.exception)
    assert not (tmp_path / "b").exists()


def test_bad_shards_option_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"x")
    result = runner.invoke(app, ["encode", str(src), "-o", str(tmp_path / "o"), "--shards", "7/3"])
    assert result.exit_code != 0
    assert "--shards 3/6" in str(result.exception)


def test_encode_refuses_to_overwrite_an_earlier_encoding(tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"first")
    out = tmp_path / "enc"
    assert runner.invoke(app, ["encode", str(src), "-o", str(out), "-q"]).exit_code == 0
    again = runner.invoke(app, ["encode", str(src), "-o", str(out), "-q"])
    assert again.exit_code != 0
    assert "--force" in str(again.exception)
    assert runner.invoke(app, ["encode", str(src), "-o", str(out), "-q", "--force"]).exit_code == 0
    result = runner.invoke(app, ["decode", str(out), "-o", str(tmp_path)])
    assert result.exit_code != 0
    assert "is a directory" in str(result.exception)
