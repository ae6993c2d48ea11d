"""The committed wasm binaries (merkle.wasm, the dapp's scatter.wasm) are Debian bookworm's
clang 14 + lld builds: the tests that rebuild them byte for byte run only with that toolchain."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def clang_14() -> bool:
    """Whether clang 14 and wasm-ld are on PATH."""
    if shutil.which("clang") is None or shutil.which("wasm-ld") is None:
        return False
    out = subprocess.run(["clang", "--version"], capture_output=True, text=True, check=False).stdout
    return "version 14." in out


needs_clang_14 = pytest.mark.skipif(
    not clang_14(), reason="the committed build is Debian bookworm's clang 14 + lld"
)
