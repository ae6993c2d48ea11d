"""Where a command writes a file or a CAR: ``-`` (stdout), a FIFO or device, or a regular file.

A regular file (or a new path) is written atomically: to ``.NAME.partial`` beside it,
renamed over it once complete, so a reader never sees half a file. Anything else is
written in place, as ``cat > TARGET`` would: a FIFO read by ``ipfs dag import``, a
character device, a symlink such as ``/dev/stdout`` (renaming over it would replace
the link itself). ``-`` is this process's standard output.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["is_stdout", "open_output"]

_SPECIAL_DIRS = ("/dev", "/proc")


def is_stdout(target: str | os.PathLike[str]) -> bool:
    return os.fspath(target) == "-"


def _atomic(path: Path) -> bool:
    """Whether ``path`` is written through a temporary file and a rename."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        parent = os.path.realpath(path.parent)
        return not any(parent == d or parent.startswith(d + "/") for d in _SPECIAL_DIRS)
    return stat.S_ISREG(mode)


@contextlib.contextmanager
def open_output(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary stream writing to ``target`` (see the module); complete only if no exception."""
    if is_stdout(target):
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    path = Path(target)
    if not _atomic(path):
        with path.open("wb") as f:
            yield f
        return
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w+b") as f:
            yield f
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
