"""MarketParams mirrors IMarket.Params (version 2) by field name, whatever the struct's order."""

from __future__ import annotations

import pytest

from scatter.chain.params import MarketParams, camel, params_components, preset, snake
from scatter.errors import ScatterValueError


def test_every_abi_parameter_has_a_python_field_and_round_trips() -> None:
    components = params_components()
    p = preset("testnet")
    values = p.as_struct()
    assert len(values) == len(components)
    by_name = dict(zip((c["name"] for c in components), values, strict=True))
    assert by_name["epochSeconds"] == p.epoch_seconds and by_name["proofBond"] == p.proof_bond
    assert MarketParams.from_struct(values) == p
    assert MarketParams.from_struct(by_name) == p


def test_a_reordered_struct_is_read_by_name() -> None:
    components = list(reversed(params_components()))
    p = preset("devnet")
    assert MarketParams.from_struct(p.as_struct(components), components) == p


def test_names_convert_both_ways() -> None:
    assert snake("validatorBondingSeconds") == "validator_bonding_seconds"
    assert camel("validator_bonding_seconds") == "validatorBondingSeconds"


def test_overrides_refuse_unknown_parameters_and_validate_checks_the_committee() -> None:
    with pytest.raises(ScatterValueError, match="grace_epochs"):
        preset("devnet").with_overrides(grace_epochs=3)
    assert preset("devnet").with_overrides(grace_epochs=None) == preset("devnet")  # unset: ignored
    with pytest.raises(ScatterValueError, match="committee_size"):
        preset("devnet").with_overrides(quorum=3, committee_size=2).validate()


def test_periods_and_collateral() -> None:
    p = preset("devnet")
    assert p.period_of(p.period_epochs - 1) == 0 and p.period_of(p.period_epochs) == 1
    assert p.period_bounds(2) == (2 * p.period_epochs, 3 * p.period_epochs - 1)
    assert p.collateral(1000, 10) == 1000 * 10 * p.collateral_bps // 10_000
