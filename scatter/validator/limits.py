"""CPU and bandwidth caps, in the manner of Tahoe-LAFS's share crawler.

Tahoe's crawler works in slices and, between slices, sleeps long enough that
its share of the CPU stays under ``allowed_cpu_proportion``. The validator
does the same between checks (never inside one, whose deadline is the
hoster's): :meth:`Throttle.before` waits until both caps allow more work,
:meth:`Throttle.spent` books the bytes a check fetched. CPU is the whole
process's (``time.process_time``: checks, signing, the publishing API),
measured over a sliding window.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class Caps:
    cpu_fraction: float | None = 0.5  # of one core; None: no cap
    bytes_per_second: int | None = None  # None: no cap
    window_seconds: float = 5.0


class Throttle:
    def __init__(self, caps: Caps) -> None:
        if caps.cpu_fraction is not None and not 0 < caps.cpu_fraction <= 64:
            raise ValueError("cpu fraction must be positive")
        if caps.bytes_per_second is not None and caps.bytes_per_second <= 0:
            raise ValueError("bandwidth cap must be positive")
        self.caps = caps
        self._cpu: deque[tuple[float, float]] = deque([(time.monotonic(), time.process_time())])
        self._tokens = float(caps.bytes_per_second or 0)
        self._refilled = time.monotonic()
        self.slept: dict[str, float] = {"cpu": 0.0, "bandwidth": 0.0}

    def _cpu_wait(self) -> float:
        fraction = self.caps.cpu_fraction
        if fraction is None:
            return 0.0
        now, cpu = time.monotonic(), time.process_time()
        self._cpu.append((now, cpu))
        while len(self._cpu) > 2 and now - self._cpu[1][0] >= self.caps.window_seconds:
            self._cpu.popleft()
        wall0, cpu0 = self._cpu[0]
        used = cpu - cpu0
        # sleep until used / (elapsed + wait) == fraction
        return max(0.0, used / fraction - (now - wall0))

    def _bandwidth_wait(self) -> float:
        rate = self.caps.bytes_per_second
        if rate is None:
            return 0.0
        now = time.monotonic()
        self._tokens = min(float(rate), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        return 0.0 if self._tokens >= 0 else -self._tokens / rate

    async def before(self) -> None:
        """Wait until another check may start."""
        for cap, wait in (("cpu", self._cpu_wait()), ("bandwidth", self._bandwidth_wait())):
            if wait > 0:
                wait = min(wait, self.caps.window_seconds)
                self.slept[cap] += wait
                await asyncio.sleep(wait)

    def spent(self, nbytes: int) -> None:
        if self.caps.bytes_per_second is not None:
            self._tokens -= nbytes
