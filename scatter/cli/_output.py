"""Shared output helpers for the CLI: human text via rich, or JSON for scripts."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


#: A camelCase name (``chainId``, ``removedBlocks``); addresses, CIDs and ``a/b`` labels never match.
_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$")


def snake_case(data: Any) -> Any:
    """``data`` with every camelCase key of its mappings renamed to snake_case (values untouched)."""
    if isinstance(data, dict):
        return {_snake(str(k)): snake_case(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [snake_case(v) for v in data]
    return data


def _snake(key: str) -> str:
    return (
        re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), key) if _CAMEL.match(key) else key
    )


def emit_json(data: Any) -> None:
    """Write ``data`` as one JSON document on stdout, in the one style of every ``--json``:
    snake_case keys (camelCase ones, as in ``dev.json`` or a deployment record, are renamed) and
    amounts of wei as JSON integers under names ending in ``_wei``."""
    sys.stdout.write(json.dumps(snake_case(data), indent=2, sort_keys=True, default=str) + "\n")


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
