"""One JSON style in every ``--json``: snake_case keys, amounts of wei as integers named ``*_wei``;
and the operators' ``--dev N`` shortcut to a dev daemon's state directory."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scatter.cli import app
from scatter.cli._output import emit_json
from scatter.daemon.state import StateDB
from scatter.hoster.state import HosterState
from scatter.sdk import models

runner = CliRunner()
ADDRESS = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"


def test_emit_json_renames_camel_case_keys_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json({"chainId": 1, "contracts": {"fileRegistry": ADDRESS}, ADDRESS: 2, "requestProof/open": 3,
               "rows": [{"removedBlocks": 4}], "balance_wei": 5, "name": "someName"})  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out == {"chain_id": 1, "contracts": {"file_registry": ADDRESS}, ADDRESS: 2, "requestProof/open": 3,
                   "rows": [{"removed_blocks": 4}], "balance_wei": 5, "name": "someName"}  # fmt: skip


def _example(cls: type) -> object:
    """An instance of a model with every field filled by a value of its type."""
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        kind = str(f.type)
        values[f.name] = (
            7 if kind.startswith("int") else b"\x01" if kind == "bytes" else () if "tuple" in kind
            else 0.5 if kind == "float" else Path("x") if kind == "Path" else None if "None" in kind
            else False if kind == "bool" else {} if kind.startswith("dict") else "s"
        )  # fmt: skip
    return cls(**values)


MODELS = [
    m for m in vars(models).values()
    if isinstance(m, type) and dataclasses.is_dataclass(m) and issubclass(m, models._Json)
]  # fmt: skip


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_models_name_every_amount_of_wei_with_wei_and_give_it_as_an_integer(cls: type) -> None:
    data = _example(cls).to_json()  # type: ignore[attr-defined]
    wei: frozenset[str] = cls.WEI  # type: ignore[attr-defined]
    for name in wei:
        assert name not in data and isinstance(data[f"{name}_wei"], int)
    money = {"escrow", "refund", "paid", "amount", "wallet", "withdrawable", "stake", "locked", "collateral",
             "contract_balance", "price_per_epoch"}  # fmt: skip
    assert not money & set(data), f"{cls.__name__}: an amount of wei without _wei"


def test_hoster_status_json_gives_wei_as_integers(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "hoster.db")
    HosterState(db).put(address=ADDRESS, balance_wei="12345678901234567890", earned_wei="7", settlement_lag=0)
    db.close()
    result = runner.invoke(app, ["hoster", "status", "--state-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["balance_wei"] == 12345678901234567890 and report["earned_wei"] == 7


def test_status_dev_n_reads_the_dev_networks_daemon_and_names_a_missing_one(tmp_path: Path) -> None:
    hoster = tmp_path / ".scatter" / "dev" / "hosters" / "1"
    hoster.mkdir(parents=True)
    db = StateDB(hoster / "hoster.db")
    HosterState(db).put(address=ADDRESS, balance_wei="1", earned_wei="0")
    db.close()
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        found = runner.invoke(app, ["hoster", "status", "--dev", "1", "--json"])
        missing = runner.invoke(app, ["validator", "status", "--dev", "0"])
    finally:
        os.chdir(here)
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["address"] == ADDRESS
    assert missing.exit_code != 0 and "no validator 0 in the dev network" in str(missing.exception)
