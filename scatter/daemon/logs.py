"""Structured JSON logs: one object per line, with the fields a log query needs
(``event``, ``deal_id``, ``bid_id``, ...). Keys and signatures are never logged."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return json.dumps(entry, default=str, sort_keys=True)


def configure_logging(level: str = "info", *, json_lines: bool = True) -> None:
    """Send the ``scatter`` loggers to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("scatter")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    logging.Formatter.converter = time.gmtime


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with structured ``fields`` (deal_id=..., tx=...)."""
    logger.log(level, event, extra={"event": event, **fields})


class RateLimitedLog:
    """Log at most ``burst`` lines per ``interval`` seconds for each key, each of bounded size.

    For errors a client can trigger at will (malformed requests, slow connections):
    a flood of them costs at most ``burst`` lines per interval and key, and the next
    line that passes carries ``suppressed``, how many were dropped since. String
    fields are cut at ``max_chars``. Keys are few (an event name, a route); the
    table is cleared if it ever holds more than 1,024.
    """

    def __init__(self, logger: logging.Logger, *, interval: float = 60.0, burst: int = 5,
                 max_chars: int = 200, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.logger = logger
        self.interval = interval
        self.burst = burst
        self.max_chars = max_chars
        self._clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}  # key -> (window start, passed, dropped)

    def admit(self, key: str) -> int | None:
        """None if ``key`` is over its limit now; else how many of its lines were dropped before."""
        now = self._clock()
        start, passed, dropped = self._windows.get(key, (now, 0, 0))
        if now - start >= self.interval:
            start, passed = now, 0
        if passed >= self.burst:
            self._windows[key] = (start, passed, dropped + 1)
            return None
        if len(self._windows) >= 1024 and key not in self._windows:
            self._windows.clear()
        self._windows[key] = (start, passed + 1, 0)
        return dropped

    def log(self, event: str, level: int = logging.WARNING, *, key: str | None = None, **fields: Any) -> bool:
        """Log ``event`` unless its key (default: the event) is over the limit; True if written."""
        dropped = self.admit(event if key is None else key)
        if dropped is None:
            return False
        if dropped:
            fields["suppressed"] = dropped
        bounded = {k: v[: self.max_chars] if isinstance(v, str) else v for k, v in fields.items()}
        log_event(self.logger, event[: self.max_chars], level, **bounded)
        return True


class BoundedRecords(logging.Filter):
    """A filter for loggers we do not own (uvicorn's): rate-limited, one bounded line, no traceback.

    Records with the same message template share one budget (as :class:`RateLimitedLog`);
    a traceback is replaced by its exception's type and first line.
    """

    def __init__(self, *, interval: float = 60.0, burst: int = 5, max_chars: int = 300,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        super().__init__()
        self._limit = RateLimitedLog(logging.getLogger(__name__), interval=interval, burst=burst, clock=clock)
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        dropped = self._limit.admit(str(record.msg)[:100])
        if dropped is None:
            return False
        lines = record.getMessage().strip().splitlines()
        message = lines[0] if lines else ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = (str(exc).splitlines() or [""])[0]
            message = f"{message} ({type(exc).__name__}: {first})"
        if dropped:
            message += f" [{dropped} similar suppressed]"
        record.msg, record.args = message[: self.max_chars], None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True
