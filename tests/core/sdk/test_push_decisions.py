"""When the SDK pushes a shard's CAR again to a hoster it already pushed to."""

from __future__ import annotations

import pytest

from scatter.client import Scatter
from scatter.errors import ScatterConnectionError
from scatter.protocol.hoster_api import SlotStatus


def _sdk() -> Scatter:
    sdk = Scatter.__new__(Scatter)  # no chain needed: only the hoster's answer matters here
    sdk._endpoint = lambda hoster: f"http://{hoster}.example"  # type: ignore[method-assign]
    return sdk


@pytest.mark.parametrize(
    ("state", "pinned", "again"),
    [
        ("reserved", False, True),  # it lost the push (a crash before importing) and waits again
        ("verified", True, False),  # it holds the content and is filling
        ("filling", True, False),
        ("refused", False, False),  # it checked the content and refused it: pushing again won't help
    ],
)
def test_a_hoster_that_waits_again_gets_the_car_again(
    monkeypatch: pytest.MonkeyPatch, state: str, pinned: bool, again: bool
) -> None:
    answer = SlotStatus(bid_id=4, slot=2, cid="bafy", state=state, pinned=pinned, bytes=0)
    monkeypatch.setattr("scatter.sdk.push.slot_status", lambda *a, **k: answer)
    assert _sdk()._waits_for_push("h1", 4, 2) is again


def test_an_unreachable_or_unaware_hoster_is_not_pushed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scatter.sdk.push.slot_status", lambda *a, **k: None)
    assert _sdk()._waits_for_push("h1", 4, 2) is False

    def down(*_a: object, **_k: object) -> SlotStatus:
        raise ScatterConnectionError("down")

    monkeypatch.setattr("scatter.sdk.push.slot_status", down)
    assert _sdk()._waits_for_push("h1", 4, 2) is False
