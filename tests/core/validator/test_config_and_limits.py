"""Settings precedence and units; the CPU and bandwidth throttle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scatter.errors import ScatterValueError
from scatter.units import parse_amount, parse_size
from scatter.validator import limits
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


class FakeClock:
    """Wall and CPU time of the throttle's module, moved by the test: work advances both,
    the throttle's sleeps only the wall clock. The verdicts do not depend on the machine's load."""

    def __init__(self) -> None:
        self.wall = 1000.0
        self.cpu = 10.0

    def monotonic(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.cpu

    def work(self, seconds: float) -> None:
        self.wall += seconds
        self.cpu += seconds

    async def sleep(self, seconds: float) -> None:
        self.wall += seconds


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(limits, "time", fake)
    monkeypatch.setattr(asyncio, "sleep", fake.sleep)  # the throttle's only wait
    return fake


def test_cpu_cap_keeps_the_crawler_under_its_share(clock: FakeClock) -> None:
    cap = 0.25
    throttle = Throttle(Caps(cpu_fraction=cap, window_seconds=10.0))

    async def work() -> None:
        for _ in range(8):
            await throttle.before()
            clock.work(0.05)  # a slice of real work, all of it CPU
        await throttle.before()

    wall0, cpu0 = clock.wall, clock.cpu
    asyncio.run(work())
    cpu, wall = clock.cpu - cpu0, clock.wall - wall0
    assert cpu == pytest.approx(0.4)
    assert cpu / wall == pytest.approx(cap)  # 0.4 s of CPU took 1.6 s: the crawler slept the rest
    assert throttle.slept["cpu"] == pytest.approx(1.2)
    assert throttle.slept["bandwidth"] == 0


def test_cpu_cap_sleeps_no_more_than_its_share(clock: FakeClock) -> None:
    throttle = Throttle(Caps(cpu_fraction=0.5, window_seconds=10.0))

    async def work() -> None:
        await throttle.before()
        clock.work(0.1)
        clock.wall += 0.1  # idle (waiting on a hoster): already half of the time
        await throttle.before()

    asyncio.run(work())
    assert throttle.slept["cpu"] == 0


def test_bandwidth_cap_spaces_checks(clock: FakeClock) -> None:
    throttle = Throttle(Caps(cpu_fraction=None, bytes_per_second=1_000_000))

    async def fetch() -> None:
        for _ in range(4):
            await throttle.before()
            throttle.spent(500_000)
        await throttle.before()

    wall0 = clock.wall
    asyncio.run(fetch())  # 2 MB at 1 MB/s with a 1 MB burst: 1 s of waiting
    assert clock.wall - wall0 == pytest.approx(1.0)
    assert throttle.slept["bandwidth"] == pytest.approx(1.0)
    assert throttle.slept["cpu"] == 0
