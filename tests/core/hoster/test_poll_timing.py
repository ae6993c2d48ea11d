"""When the hoster's loop looks at the chain again (``Hoster._next_poll``): timed for the next
block on a node on this machine, at ``poll_interval`` elsewhere or when blocks are not regular."""

from __future__ import annotations

import pytest

from scatter.chain import wallet
from scatter.hoster.config import HosterConfig
from scatter.hoster.daemon import DUE_POLL_S, Hoster

NOW = 1000.0


def _hoster(rpc_url: str, monkeypatch: pytest.MonkeyPatch, *, seen_ago: float, gap: float) -> Hoster:
    hoster = Hoster(HosterConfig(rpc_url=rpc_url, poll_interval=0.5), account=wallet.dev_account(10))
    monkeypatch.setattr("scatter.hoster.daemon.time.monotonic", lambda: NOW)
    hoster._head_seen, hoster._block_gap = NOW - seen_ago, gap
    return hoster


@pytest.mark.parametrize(
    ("seen_ago", "expected"),
    [
        (0.0, 0.5),  # a block just seen: the next is a second away, looked at within poll_interval
        (0.7, 1.0 - 0.7 - DUE_POLL_S),  # looked for a little before it is due
        (0.97, DUE_POLL_S),  # due: looked for every DUE_POLL_S until it shows
        (1.3, DUE_POLL_S),
        (1.6, 0.5),  # more than poll_interval late: the node mines on demand, polled as usual
    ],
)
def test_a_loopback_node_is_polled_for_its_next_block(
    monkeypatch: pytest.MonkeyPatch, seen_ago: float, expected: float
) -> None:
    hoster = _hoster("http://127.0.0.1:8545", monkeypatch, seen_ago=seen_ago, gap=1.0)
    assert hoster._next_poll() == pytest.approx(expected)


def test_a_remote_node_or_an_unknown_block_gap_is_polled_every_poll_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _hoster("https://rpc.example.org", monkeypatch, seen_ago=0.97, gap=1.0)._next_poll() == 0.5
    assert _hoster("http://localhost:8545", monkeypatch, seen_ago=0.97, gap=0.0)._next_poll() == 0.5
