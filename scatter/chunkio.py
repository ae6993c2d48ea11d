"""A read-only binary stream over an iterator of byte chunks (an HTTP body, an exported file).

One small class instead of three copies: ``io.BufferedReader(ChunkReader(chunks))`` gives any
chunk iterator ``read``/``readinto`` semantics without joining the chunks in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any


class ChunkReader(io.RawIOBase):
    """Reads ``chunks`` in order; each chunk is consumed as it is read, never copied whole."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._pending = memoryview(nxt)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
