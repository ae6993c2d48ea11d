"""The dapp shipped in the package (scatter/web/dapp, committed so `pip install` needs no Node) is
exactly what its sources build to, like the contracts' artifacts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scatter.web.dapp import DAPP_DIR
from tests.wasm_build import needs_clang_14

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


def test_the_shipped_dapp_carries_the_licences_and_source_of_its_wasm() -> None:
    """scatter.wasm links zfec's C (GNU GPL v2+ or TGPPL): its licence texts travel with the dapp,
    and Vite's licences.md lists the npm packages bundled."""
    licences = DAPP_DIR / "licenses"
    zfec = licences / "scatter-wasm-src" / "dapp" / "wasm" / "zfec"
    for name in ("COPYING.GPL", "COPYING.TGPPL.rst"):
        assert (zfec / name).read_bytes() == (SOURCES / "wasm" / "zfec" / name).read_bytes()
    notice = (licences / "scatter-wasm.md").read_text(encoding="utf-8")
    assert "zfec 1.6.0.0" in notice and "zfec/COPYING.TGPPL.rst" in notice
    bundled = (DAPP_DIR / "licenses.md").read_text(encoding="utf-8")
    assert "## viem" in bundled and "## multiformats" in bundled


@needs_clang_14
def test_the_shipped_wasm_source_rebuilds_the_shipped_wasm(tmp_path: Path) -> None:
    """The source shipped beside the dapp (licenses/scatter-wasm-src) is complete: its build.sh
    gives the shipped wasm byte for byte."""
    source = tmp_path / "src"
    shutil.copytree(DAPP_DIR / "licenses" / "scatter-wasm-src", source)
    built = tmp_path / "scatter.wasm"
    env = {**os.environ, "SCATTER_WASM_OUT": str(built)}
    subprocess.run(["sh", str(source / "dapp" / "wasm" / "build.sh")], env=env, check=True, timeout=300)
    [shipped] = (DAPP_DIR / "assets").glob("scatter-*.wasm")
    assert built.read_bytes() == shipped.read_bytes()
