"""Crash points for crash-recovery tests: ``SCATTER_HOSTER_CRASH_AT=name`` makes the
process kill itself with SIGKILL (no cleanup, like ``kill -9``) when it reaches ``name``.

Names: ``accept_signed`` (recorded, not broadcast), ``accept_sent``, ``settle_signed``,
``settle_sent``, ``finish_sent``, ``upload_spooled`` (body received, not yet imported),
``pinned`` (imported and pinned, state not yet written), ``{kind}_bump_signed`` (a fee-bumped
replacement recorded, not broadcast). Unset in production.
"""

from __future__ import annotations

import os
import signal

ENV = "SCATTER_HOSTER_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
