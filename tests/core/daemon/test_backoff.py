"""The one retry loop of the daemons (scatter.daemon.backoff.retry): what is retried, and when it stops."""

from __future__ import annotations

import asyncio

import pytest

from scatter.daemon.backoff import Backoff, retry
from scatter.errors import ScatterConnectionError

FAST = Backoff(initial=0.001, maximum=0.004, jitter=0.0)


class _Flaky:
    """Fails with ``error`` ``times`` times, then answers 42."""

    def __init__(self, times: int, error: BaseException) -> None:
        self.left, self.error, self.calls = times, error, 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise self.error
        return 42


def test_retryable_errors_are_retried_with_the_backoff_schedule_until_success() -> None:
    call = _Flaky(4, ScatterConnectionError("node down"))
    waits: list[float] = []
    assert asyncio.run(retry("x", call, backoff=FAST, on_error=lambda _e, w: waits.append(w))) == 42
    assert call.calls == 5
    assert waits == [0.001, 0.002, 0.004, 0.004]


def test_other_errors_propagate_at_once() -> None:
    call = _Flaky(1, KeyError("bug"))
    with pytest.raises(KeyError):
        asyncio.run(retry("x", call, backoff=FAST))
    assert call.calls == 1


def test_attempts_bound_the_calls_and_the_last_error_is_raised() -> None:
    call = _Flaky(10, ScatterConnectionError("node down"))
    with pytest.raises(ScatterConnectionError):
        asyncio.run(retry("x", call, backoff=FAST, attempts=3))
    assert call.calls == 3


def test_stop_cuts_a_wait_short_and_raises_the_last_error() -> None:
    async def main() -> int:
        stop = asyncio.Event()
        call = _Flaky(10, ScatterConnectionError("node down"))
        task = asyncio.create_task(retry("x", call, backoff=Backoff(initial=3600.0), stop=stop))
        while call.calls == 0:
            await asyncio.sleep(0)
        stop.set()
        with pytest.raises(ScatterConnectionError):
            await asyncio.wait_for(task, 60)  # an hour's wait, ended by stop
        return call.calls

    assert asyncio.run(main()) == 1
