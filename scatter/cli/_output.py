"""Shared output helpers for the CLI: human text via rich, or JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def emit_json(data: Any) -> None:
    """Write ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def fail(message: str) -> None:
    """Print a one-line error on stderr."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
