"""Crash points for crash-recovery tests: ``SCATTER_HOSTER_CRASH_AT=name`` makes the
process kill itself with SIGKILL (no cleanup, like ``kill -9``) when it reaches ``name``.

Names: ``{kind}_signed`` (recorded, not broadcast) and ``{kind}_sent`` for every transaction
kind (``reserve``, ``fill``, ``prove``, ``release``, ``settle``, ``finish``, ...),
``upload_spooled`` (body received, not yet checked), ``blocks_stored`` (checked content's blocks
copied into the store, not yet pinned), ``pinned`` (checked and pinned, state not yet written),
``{kind}_bump_signed`` (a fee-bumped replacement recorded, not broadcast). Unset in production.
"""

from __future__ import annotations

import os
import signal

ENV = "SCATTER_HOSTER_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
