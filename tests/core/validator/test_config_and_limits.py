"""Settings precedence and units; the CPU and bandwidth throttle."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from scatter.errors import ScatterValueError
from scatter.units import parse_amount, parse_size
from scatter.validator.config import load_config
from scatter.validator.limits import Caps, Throttle


def test_settings_come_from_file_then_env_then_flags(tmp_path: Path) -> None:
    toml = tmp_path / "v.toml"
    toml.write_text('[validator]\nsamples = 12\nport = 9100\nstake = "2.5"\nmax-bandwidth = "20MiB"\n')
    env = {"SCATTER_VALIDATOR_PORT": "9200", "SCATTER_RPC_URL": "http://127.0.0.1:1234",
           "SCATTER_VALIDATOR_EXCLUDE": "0xaa, 0xbb"}  # fmt: skip
    cfg = load_config(config_file=toml, environ=env, overrides={"port": 9300, "samples": None})
    assert (cfg.samples, cfg.port, cfg.rpc_url) == (12, 9300, "http://127.0.0.1:1234")
    assert cfg.stake == 25 * 10**17 and cfg.max_bandwidth == 20 * 2**20
    assert cfg.exclude == ("0xaa", "0xbb")
    assert load_config(environ={}).samples == 8


def test_deadline_defaults_to_a_fifth_of_the_epoch_capped_at_ten_seconds() -> None:
    cfg = load_config(environ={})
    assert cfg.deadline_for(5) == 1.0 and cfg.deadline_for(3600) == 10.0
    assert load_config(environ={}, overrides={"deadline": 2}).deadline_for(3600) == 2.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"samples": 0}, "at least 1"), ({"spread": 2}, "spread"), ({"rpc_url": "ws://x"}, "http"),
     ({"colour": "red"}, "unknown validator setting"), ({"port": "x"}, "bad validator setting")],
)  # fmt: skip
def test_bad_settings_are_one_line_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ScatterValueError, match=message):
        load_config(environ={}, overrides=overrides)


def test_units() -> None:
    assert parse_amount("1", "eth") == 10**18 and parse_amount("500gwei", "eth") == 5 * 10**11
    assert parse_amount("7wei", "eth") == 7
    assert parse_size("1KiB") == 1024 and parse_size("3") == 3
    with pytest.raises(ScatterValueError):
        parse_amount("1.5wei", "eth")


def test_cpu_cap_keeps_the_crawler_under_its_share() -> None:
    cap = 0.25
    throttle = Throttle(Caps(cpu_fraction=cap, window_seconds=10.0))

    async def work() -> tuple[float, float]:
        t0, c0 = time.monotonic(), time.process_time()
        for _ in range(8):
            await throttle.before()
            spin = time.process_time()
            while time.process_time() - spin < 0.05:  # a slice of real work
                pass
        await throttle.before()
        return time.monotonic() - t0, time.process_time() - c0

    wall, cpu = asyncio.run(work())
    assert cpu >= 0.4
    assert cpu / wall <= cap * 1.25  # 0.4 s of CPU took at least 1.6 s: the crawler slept the rest
    assert throttle.slept["cpu"] > 0


def test_bandwidth_cap_spaces_checks() -> None:
    throttle = Throttle(Caps(cpu_fraction=None, bytes_per_second=1_000_000))

    async def fetch() -> float:
        t0 = time.monotonic()
        for _ in range(4):
            await throttle.before()
            throttle.spent(500_000)
        await throttle.before()
        return time.monotonic() - t0

    elapsed = asyncio.run(fetch())  # 2 MB at 1 MB/s with a 1 MB burst: about 1 s
    assert 0.8 < elapsed < 10.0  # it waits; the loose upper bound only catches a runaway sleep
    assert throttle.slept["bandwidth"] > 0.8
