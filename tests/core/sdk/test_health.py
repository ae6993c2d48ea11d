"""A file's health from its deals: live shards (active, not past their end) against k."""

from __future__ import annotations

from scatter.chain.market import Deal, DealStatus
from scatter.sdk.health import file_health, is_live

NOW = 100


def _deal(deal_id: int, slot: int, status: DealStatus = DealStatus.ACTIVE, end: int = 200) -> Deal:
    return Deal(deal_id, bid_id=1, slot=slot, status=status, start_epoch=10, end_epoch=end)


def _six(**overrides: tuple[DealStatus, int]) -> list[Deal]:
    deals = []
    for slot in range(6):
        status, end = overrides.get(f"s{slot}", (DealStatus.ACTIVE, 200))
        deals.append(_deal(slot + 1, slot, status, end))
    return deals


def test_a_deal_is_live_while_active_and_not_past_its_end() -> None:
    assert is_live(_deal(1, 0, end=NOW), NOW)
    assert not is_live(_deal(1, 0, end=NOW - 1), NOW)
    assert not is_live(_deal(1, 0, DealStatus.FAULTED), NOW)
    assert not is_live(_deal(1, 0, DealStatus.FINISHED), NOW)


def test_more_than_k_live_shards_is_healthy_without_a_warning() -> None:
    h = file_health(_six(s0=(DealStatus.FAULTED, 200)), total=6, needed=3, current_epoch=NOW)
    assert (h.live, h.state, h.label, h.warning) == (5, "healthy", "5/6 live", None)


def test_exactly_k_live_shards_is_at_risk_with_a_warning() -> None:
    faulted = (DealStatus.FAULTED, 200)
    h = file_health(_six(s0=faulted, s1=faulted, s2=faulted), total=6, needed=3, current_epoch=NOW, name="f")
    assert (h.live, h.state, h.label) == (3, "at-risk", "3/6 AT RISK")
    assert h.warning is not None and h.warning.startswith("f: only 3 of 6 shards")


def test_fewer_than_k_live_shards_is_lost() -> None:
    faulted = (DealStatus.FAULTED, 200)
    deals = _six(s0=faulted, s1=faulted, s2=faulted, s3=faulted)
    h = file_health(deals, total=6, needed=3, current_epoch=NOW)
    assert (h.live, h.state, h.label) == (2, "lost", "2/6 LOST") and h.warning is not None


def test_a_healed_slot_counts_by_its_newest_deal() -> None:
    faulted = (DealStatus.FAULTED, 200)
    deals = [*_six(s0=faulted, s1=faulted, s2=faulted), _deal(7, 0), _deal(8, 1)]
    h = file_health(deals, total=6, needed=3, current_epoch=NOW)
    assert (h.live, h.label) == (5, "5/6 live")


def test_deals_that_ran_to_their_end_are_expired_not_lost() -> None:
    ended = {f"s{i}": (DealStatus.FINISHED, 90) for i in range(6)}
    h = file_health(_six(**ended), total=6, needed=3, current_epoch=NOW)
    assert (h.state, h.label, h.warning) == ("expired", "0/6 expired", None)
    past_end = {f"s{i}": (DealStatus.ACTIVE, 90) for i in range(6)}
    assert file_health(_six(**past_end), total=6, needed=3, current_epoch=NOW).state == "expired"


def test_a_faulted_slot_among_ended_ones_is_still_lost() -> None:
    ended = {f"s{i}": (DealStatus.FINISHED, 90) for i in range(5)}
    ended["s5"] = (DealStatus.FAULTED, 200)
    assert file_health(_six(**ended), total=6, needed=3, current_epoch=NOW).state == "lost"


def test_replicas_need_one() -> None:
    deals = [_deal(1, 0), _deal(2, 1, DealStatus.FAULTED), _deal(3, 2, DealStatus.FAULTED)]
    assert file_health(deals, total=3, needed=1, current_epoch=NOW).label == "1/3 AT RISK"


def test_a_version_still_uploading_here_is_uploading_without_a_warning_until_every_slot_is_filled() -> None:
    two = _six()[:2]
    h = file_health(two, total=6, needed=3, current_epoch=NOW, uploading=True)
    assert (h.live, h.state, h.label, h.warning) == (2, "uploading", "2/6 uploading", None)
    assert file_health(_six(), total=6, needed=3, current_epoch=NOW, uploading=True).state == "healthy"
    assert file_health(two, total=6, needed=3, current_epoch=NOW).state == "lost"
