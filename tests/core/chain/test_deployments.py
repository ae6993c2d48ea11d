"""Deployment records: per chain id, local record before the package's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scatter.chain.deployments import Deployment, find_deployment, record_deployment
from scatter.errors import ScatterNotFoundError, ScatterValueError


def _deployment(chain_id: int, market: str = "0x" + "aa" * 20) -> Deployment:
    return Deployment(
        chain_id=chain_id, market=market, file_registry="0x" + "bb" * 20, block=5, deployer="0x" + "cc" * 20,
        params={"epoch_seconds": 5},
    )  # fmt: skip


def test_record_then_find_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    record_deployment(_deployment(11155111), path)
    record_deployment(_deployment(31337), path)
    assert find_deployment(11155111, [path]) == _deployment(11155111)
    assert find_deployment(31337, [path]) == _deployment(31337)


def test_local_record_wins_over_package_record(tmp_path: Path) -> None:
    local, package = tmp_path / "local.json", tmp_path / "package.json"
    record_deployment(_deployment(1, market="0x" + "01" * 20), local)
    record_deployment(_deployment(1, market="0x" + "02" * 20), package)
    record_deployment(_deployment(2, market="0x" + "03" * 20), package)
    assert find_deployment(1, [local, package]).market == "0x" + "01" * 20
    assert find_deployment(2, [local, package]).market == "0x" + "03" * 20


def test_unknown_chain_says_how_to_deploy(tmp_path: Path) -> None:
    with pytest.raises(ScatterNotFoundError, match="scatter deploy"):
        find_deployment(999, [tmp_path / "none.json"])


def test_malformed_record_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScatterValueError, match="not valid JSON"):
        find_deployment(1, [bad])
    bad.write_text(json.dumps({"version": 99, "chains": {}}))
    with pytest.raises(ScatterValueError, match="unknown version"):
        find_deployment(1, [bad])
    bad.write_text(json.dumps({"version": 1, "chains": {"1": {"market": "0x"}}}))
    with pytest.raises(ScatterValueError, match="malformed"):
        find_deployment(1, [bad])
