"""When attempts become a verdict: fail only on evidence, slow is a retry, warm-up never fails."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scatter.validator.checker import Status
from scatter.validator.policy import CONFIRM_MISSING, Step, after_attempt, retry_delay, unknown_label

NOT_EVIDENCE = [Status.LATE, Status.UNREACHABLE, Status.UNCHECKABLE]


@given(st.lists(st.sampled_from(NOT_EVIDENCE), min_size=1, max_size=20), st.booleans())
def test_late_unreachable_and_uncheckable_are_never_a_fail(history: list[Status], can_retry: bool) -> None:
    step = after_attempt(history, warmup=False, can_retry=can_retry)
    assert step is (Step.RETRY if can_retry else Step.UNKNOWN)


@given(st.lists(st.sampled_from(list(Status)), min_size=1, max_size=20), st.booleans())
def test_warm_up_never_fails(history: list[Status], can_retry: bool) -> None:
    assert after_attempt(history, warmup=True, can_retry=can_retry) is not Step.FAIL


def test_wrong_bytes_fail_at_once_and_a_404_only_when_confirmed() -> None:
    assert after_attempt([Status.WRONG], warmup=False, can_retry=True) is Step.FAIL
    assert after_attempt([Status.MISSING], warmup=False, can_retry=True) is Step.RETRY
    assert after_attempt([Status.MISSING], warmup=False, can_retry=False) is Step.UNKNOWN
    confirmed = [Status.MISSING, Status.LATE] + [Status.MISSING] * (CONFIRM_MISSING - 1)
    assert after_attempt(confirmed, warmup=False, can_retry=True) is Step.FAIL
    assert after_attempt([Status.MISSING, Status.OK], warmup=False, can_retry=True) is Step.OK


def test_unknown_epochs_say_why() -> None:
    assert unknown_label([], warmup=False) == "unchecked"
    assert unknown_label([Status.UNREACHABLE, Status.LATE], warmup=False) == "late"
    assert unknown_label([Status.MISSING], warmup=False) == "unconfirmed"
    assert unknown_label([Status.UNCHECKABLE], warmup=False) == "uncheckable"
    assert unknown_label([Status.MISSING], warmup=True) == "warmup"


def test_backoff_doubles_and_never_passes_the_window() -> None:
    assert [retry_delay(n, 1.0, 100.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(10, 1.0, 3.5) == 3.5
    assert retry_delay(1, 1.0, -1.0) == 0.0


def test_a_404_left_unconfirmed_last_epoch_is_confirmed_by_a_404_now() -> None:
    # the epoch closed before a retry could run: the next epoch's first 404 confirms it
    assert after_attempt([Status.MISSING], warmup=False, can_retry=True, prior_evidence=1) is Step.FAIL
    assert after_attempt([Status.LATE], warmup=False, can_retry=False, prior_evidence=1) is Step.UNKNOWN
    assert after_attempt([Status.OK], warmup=False, can_retry=True, prior_evidence=1) is Step.OK
    assert after_attempt([Status.MISSING], warmup=True, can_retry=False, prior_evidence=1) is Step.UNKNOWN


@given(st.lists(st.sampled_from(NOT_EVIDENCE), min_size=1, max_size=20), st.booleans())
def test_carried_evidence_alone_is_never_a_fail(history: list[Status], can_retry: bool) -> None:
    assert after_attempt(history, warmup=False, can_retry=can_retry, prior_evidence=1) is not Step.FAIL
