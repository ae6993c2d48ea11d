"""The committed vectors open in WebCrypto (what the dapp uses), run through Node's test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
SCRIPT = ROOT / "tests/js/formats_vectors.test.mjs"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_vectors_open_in_webcrypto() -> None:
    proc = subprocess.run(
        ["node", "--test", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "# pass 5" in proc.stdout
