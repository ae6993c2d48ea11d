"""Commands that need no chain start without the chain, server and SDK stacks.

web3 alone takes ~0.6 s to import; ``scatter cid`` of a small file runs in about
0.2 s only because it never imports it. Each case runs one command in a fresh
interpreter and asserts on ``sys.modules`` afterwards (an outcome, not a timing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Never imported by a chain-free command: the chain and HTTP-server stacks, and the SDK.
HEAVY = ("web3", "eth_account", "fastapi", "uvicorn", "starlette", "httpx", "scatter.client", "scatter.chain")

RUN = """
import json, sys
from scatter.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(args: list[str], cwd: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=True
    )
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return set(modules)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["cid", "f.txt"],
        ["cid", "f.txt", "--json"],
        ["car", "f.txt", "-o", "f.car"],
        ["ipfs", "add", "f.txt", "--store", "store"],
        ["ipfs", "ls", "--store", "store"],
        ["encode", "f.txt", "-o", "enc"],
    ],
    ids=" ".join,
)
def test_chain_free_command_does_not_import_the_chain_stack(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "f.txt").write_bytes(b"abc")
    modules = _modules_after(args, tmp_path)
    assert "scatter.cli" in modules  # the command really ran in that interpreter
    loaded = [name for name in HEAVY if name in modules]
    assert loaded == [], f"`scatter {' '.join(args)}` imported {loaded}"
