"""Hoster settings: file < environment < command line; units; the bid filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.errors import ScatterValueError
from scatter.hoster.config import GIB, BidFilter, load_config
from scatter.units import parse_amount, parse_size


def test_sizes_and_amounts_parse_with_units() -> None:
    assert parse_size("10GiB") == 10 * GIB
    assert parse_size("1.5 KiB") == 1536
    assert parse_size("2mb") == 2_000_000
    assert parse_amount("2gwei") == 2 * 10**9
    assert parse_amount("0.5", "eth") == 10**17 * 5
    assert parse_amount(3, "eth") == 3 * 10**18
    for bad in ("ten", "1.5B", "-1GiB", "3 parsecs"):
        with pytest.raises(ScatterValueError):
            parse_size(bad)


def test_command_line_beats_environment_beats_file(tmp_path: Path) -> None:
    toml = tmp_path / "hoster.toml"
    toml.write_text(
        '[hoster]\nrpc_url = "http://file:1"\nport = 7000\ncapacity = "2GiB"\n'
        'deny_clients = ["0xABC"]\nmin_price = "1gwei"\nstake = "1.5"\n'
    )
    env = {"SCATTER_HOSTER_PORT": "7001", "SCATTER_RPC_URL": "http://env:2", "SCATTER_HOSTER_HEAL": "false"}
    cfg = load_config(config_file=toml, overrides={"port": 7002, "state_dir": None}, environ=env)
    assert cfg.port == 7002 and cfg.rpc_url == "http://env:2" and cfg.capacity == 2 * GIB
    assert cfg.stake == 15 * 10**17 and cfg.heal is False
    assert cfg.filter.deny_clients == frozenset({"0xabc"}) and cfg.filter.min_price == 10**9
    assert cfg.state_dir == Path(".scatter/hoster")
    assert load_config(config_file=toml, environ={}).port == 7000


def test_unknown_settings_and_bad_files_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScatterValueError, match="unknown hoster setting"):
        load_config(overrides={"colour": "blue"}, environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1")
    with pytest.raises(ScatterValueError, match="not valid TOML"):
        load_config(config_file=bad, environ={})
    with pytest.raises(ScatterValueError, match="not found"):
        load_config(config_file=tmp_path / "missing.toml", environ={})


def test_bid_filter_rules() -> None:
    f = BidFilter(max_size=GIB, min_price=1000, min_duration=2, max_duration=100,
                  allow_clients=frozenset({"0xaa"}), deny_cids=frozenset({"bafybad"}))  # fmt: skip
    ok = dict(size=GIB, price_per_epoch=1000, duration=10, client="0xAA", cid="bafygood")
    assert f.rejects(**ok) is None  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "size": GIB + 1}) is not None  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "price_per_epoch": 999}) is not None  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "size": GIB // 2, "price_per_epoch": 500}) is None  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "duration": 1}) is not None  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "duration": 101}) is not None  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "client": "0xbb"}) == "client not allowed"  # type: ignore[arg-type]
    assert f.rejects(**{**ok, "cid": "bafybad"}) == "CID not allowed"  # type: ignore[arg-type]
