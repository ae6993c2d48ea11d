"""The dapp shipped in the package (scatter/web/dapp, committed so `pip install` needs no Node) is
exactly what its sources build to, like the contracts' artifacts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scatter.web.dapp import DAPP_DIR

pytestmark = pytest.mark.integration

SOURCES = Path(__file__).resolve().parents[2] / "dapp"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_shipped_dapp_is_what_the_sources_build_to(tmp_path: Path) -> None:
    if shutil.which("npm") is None or not (SOURCES / "node_modules" / ".bin" / "vite").exists():
        pytest.skip("the dapp's toolchain is not installed (make install)")
    out = tmp_path / "dapp"
    env = {**os.environ, "SCATTER_DAPP_OUT": str(out)}
    build = subprocess.run(
        ["npm", "run", "--silent", "build"], cwd=SOURCES, env=env, capture_output=True, text=True, timeout=600
    )
    assert build.returncode == 0, build.stdout + build.stderr
    fresh, shipped = _tree(out), _tree(DAPP_DIR)
    assert sorted(fresh) == sorted(shipped), "run `make dapp` and commit scatter/web/dapp"
    stale = [name for name in fresh if fresh[name] != shipped[name]]
    assert stale == [], f"stale: {stale}; run `make dapp` and commit scatter/web/dapp"
    assert "index.html" in shipped and any(n.startswith("assets/") and n.endswith(".js") for n in shipped)
