"""Both daemons read a setting written by people the same way (scatter.daemon.settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scatter.errors import ScatterValueError
from scatter.hoster.config import HosterConfig
from scatter.hoster.config import load_config as load_hoster
from scatter.validator.config import ValidatorConfig
from scatter.validator.config import load_config as load_validator

DAEMONS: list[tuple[str, Callable[..., Any], str]] = [
    ("SCATTER_HOSTER_", load_hoster, "heal"),
    ("SCATTER_VALIDATOR_", load_validator, "report_faults"),
]


@pytest.mark.parametrize(("prefix", "load", "flag"), DAEMONS, ids=["hoster", "validator"])
def test_amounts_durations_and_booleans_read_the_same_in_both_daemons(
    prefix: str, load: Callable[..., Any], flag: str
) -> None:
    env = {
        prefix + "STAKE": "500gwei",
        prefix + "POLL_INTERVAL": "250ms",
        prefix + "HTTP_HEADER_TIMEOUT": "1m",
        prefix + "HTTP_BODY_TIMEOUT": "45",
        prefix + flag.upper(): "no",
    }
    cfg = load(environ=env)
    assert cfg.stake == 5 * 10**11
    assert (cfg.poll_interval, cfg.http_header_timeout, cfg.http_body_timeout) == (0.25, 60.0, 45.0)
    assert getattr(cfg, flag) is False
    assert getattr(load(environ={prefix + flag.upper(): "on"}), flag) is True
    assert load(overrides={"stake": "1.5"}, environ={}).stake == 15 * 10**17


@pytest.mark.parametrize(("prefix", "load", "flag"), DAEMONS, ids=["hoster", "validator"])
def test_a_misspelt_boolean_or_duration_is_an_error_not_a_default(
    prefix: str, load: Callable[..., Any], flag: str
) -> None:
    with pytest.raises(ScatterValueError, match=rf"bad .* setting: {flag}"):
        load(environ={prefix + flag.upper(): "ture"})
    with pytest.raises(ScatterValueError, match=r"bad .* setting: poll_interval: invalid duration"):
        load(environ={prefix + "POLL_INTERVAL": "5 minutes"})


def test_optional_settings_are_unset_by_an_empty_value_none_or_off() -> None:
    assert load_hoster(environ={"SCATTER_HOSTER_MAX_FEE_GWEI": ""}).max_fee_gwei is None
    assert load_hoster(environ={"SCATTER_HOSTER_MAX_FEE_GWEI": "50"}).max_fee_per_gas_cap == 50 * 10**9
    assert load_validator(environ={"SCATTER_VALIDATOR_MAX_CPU": "none"}).max_cpu is None
    assert load_validator(environ={"SCATTER_VALIDATOR_MAX_BANDWIDTH": "off"}).max_bandwidth is None
    assert load_validator(environ={"SCATTER_VALIDATOR_MAX_BANDWIDTH": "2MiB"}).max_bandwidth == 2 << 20


def test_a_config_built_in_code_takes_final_values_and_reads_no_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCATTER_HOSTER_PORT", "9")
    monkeypatch.setenv("SCATTER_VALIDATOR_SAMPLES", "3")
    assert HosterConfig(stake=10**18).stake == 10**18  # wei, not 10**18 ETH
    assert HosterConfig().port == 0 and ValidatorConfig().samples == 8
    assert load_hoster().port == 9 and load_validator().samples == 3
