"""A ``scatter ipfs serve`` gateway in its own process, for the benchmarks that measure against one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def start_gateway(store_dir: Path, *, timeout: float = 30.0) -> tuple[subprocess.Popen[str], str]:
    """Serve ``store_dir`` on a free loopback port; returns the process and its URL.

    The URL comes from the JSON document ``--json`` prints at start; the caller terminates
    the process.
    """
    cmd = [
        sys.executable,
        "-m",
        "scatter",
        "ipfs",
        "serve",
        "--store",
        str(store_dir),
        "--port",
        "0",
        "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break  # the process ended before printing its URL
        lines.append(line)
        try:
            return proc, str(json.loads("".join(lines))["url"])
        except ValueError:
            continue
    proc.kill()
    proc.wait()
    raise RuntimeError("gateway did not start")
