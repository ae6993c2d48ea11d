"""Shared output helpers for the CLI: human text via rich, or JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def progress(
    total: int, label: str, *, quiet: bool = False, min_total: int = 0
) -> Iterator[Callable[[int], object]]:
    """A rich progress bar on stderr for work over ``total`` bytes; yields ``advance(n)``.

    Hidden when ``quiet``, when stderr is not a terminal, or below ``min_total`` bytes.
    """
    if quiet or total < min_total or not err_console.is_terminal:
        yield lambda _n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
