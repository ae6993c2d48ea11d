"""`scatter car -o` and `scatter ipfs get -o` write to stdout, FIFOs and devices in place;
regular files stay atomic (temp file, then rename)."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scatter.cli import app
from scatter.ipfs import import_bytes, read_car

runner = CliRunner()
DATA = random.Random(3).randbytes(700_000)
ROOT, BLOCKS = import_bytes(DATA)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    p = tmp_path / "sample.bin"
    p.write_bytes(DATA)
    return p


@pytest.fixture
def store(sample: Path, tmp_path: Path) -> list[str]:
    args = ["--store", str(tmp_path / "store")]
    result = runner.invoke(app, ["ipfs", "add", str(sample), *args])
    assert result.exit_code == 0, result.output
    return args


def _read_fifo(path: Path, got: list[bytes]) -> threading.Thread:
    def read() -> None:
        with path.open("rb") as f:  # blocks until the command opens the FIFO for writing
            got.append(f.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _car_root_and_data(raw: bytes) -> tuple[list[str], int]:
    roots, blocks = read_car(io.BytesIO(raw))
    return [str(r) for r in roots], len(list(blocks))


@pytest.mark.parametrize(
    "command",
    [
        ["car", "{sample}"],
        ["ipfs", "get", str(ROOT), "--car", "{store}"],
        ["ipfs", "get", str(ROOT), "{store}"],
    ],
    ids=["car", "get --car", "get"],
)
def test_a_fifo_receives_the_output(
    command: list[str], sample: Path, store: list[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    args: list[str] = []
    for part in command:
        args.extend(store if part == "{store}" else [str(sample) if part == "{sample}" else part])
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    result = runner.invoke(app, [*args, "-o", str(fifo)])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert fifo.is_fifo()  # still the FIFO, not a file renamed over it
    if "get" in command and "--car" not in command:
        assert got == [DATA]
    else:
        assert _car_root_and_data(got[0]) == ([str(ROOT)], len(BLOCKS))
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize("car", [True, False], ids=["get --car", "get"])
def test_dash_writes_to_stdout_and_the_summary_to_stderr(car: bool, store: list[str]) -> None:
    cmd = [sys.executable, "-m", "scatter.cli", "ipfs", "get", str(ROOT), "-o", "-", *store, "--json"]
    proc = subprocess.run([*cmd, "--car"] if car else cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    if car:
        assert _car_root_and_data(proc.stdout) == ([str(ROOT)], len(BLOCKS))
    else:
        assert proc.stdout == DATA
    assert b'"size"' in proc.stderr


def test_car_dash_writes_the_car_to_stdout(sample: Path) -> None:
    cmd = [sys.executable, "-m", "scatter.cli", "car", str(sample), "-o", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert _car_root_and_data(proc.stdout) == ([str(ROOT)], len(BLOCKS))
    assert str(ROOT) in proc.stderr.decode()


def test_a_regular_file_is_replaced_atomically(sample: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.car"
    target.write_bytes(b"old")
    old_inode = target.stat().st_ino
    result = runner.invoke(app, ["car", str(sample), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_ino != old_inode  # a new file renamed over the old one
    assert _car_root_and_data(target.read_bytes()) == ([str(ROOT)], len(BLOCKS))


def test_a_symlink_is_written_through_not_replaced(sample: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.car"
    real.write_bytes(b"")
    link = tmp_path / "link.car"
    link.symlink_to(real)
    result = runner.invoke(app, ["car", str(sample), "-o", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink()  # as /dev/stdout -> /proc/self/fd/1 must stay a link
    assert _car_root_and_data(real.read_bytes()) == ([str(ROOT)], len(BLOCKS))
