"""A real-time market for the validator daemon's tests: anvil mining a block per second,
short epochs, validators and hosters as real daemons on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import Deployment, record_deployment
from scatter.chain.market import Market
from scatter.chain.params import ETHER, preset
from scatter.chain.tx import Transactor
from scatter.validator.config import ValidatorConfig
from scatter.validator.daemon import ValidatorThread

T = TypeVar("T")
EPOCH_SECONDS = 5
GRACE = 6


def wait_until(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class LiveMarket:
    anvil: Anvil
    w3: Web3
    deployment: Deployment
    record: Path
    tmp: Path
    validators: list[ValidatorThread] = field(default_factory=list)

    def market(self, index: int | None = None) -> Market:
        tx = Transactor(self.w3, wallet.dev_account(index)) if index is not None else None
        return Market(self.w3, self.deployment.market, tx)

    def address(self, index: int) -> str:
        return str(wallet.dev_account(index).address)

    def epoch(self) -> int:
        return self.market().current_epoch()

    def validator_config(self, account: int, **changes: Any) -> ValidatorConfig:
        base: dict[str, Any] = dict(
            state_dir=self.tmp / f"validator-{account}", rpc_url=self.anvil.url, dev_account=account,
            deployments=self.record, confirmations=1, poll_interval=0.2, stake=2 * ETHER, max_cpu=None,
        )  # fmt: skip
        base.update(changes)
        return ValidatorConfig(**base)

    def start_validator(self, account: int, **changes: Any) -> ValidatorThread:
        v = ValidatorThread(self.validator_config(account, **changes)).start()
        self.validators.append(v)
        return v


@pytest.fixture()
def live(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveMarket]:
    """Parametrise indirectly with ``{"epoch_seconds": .., "grace": ..}`` to change the market."""
    wanted = getattr(request, "param", {})
    with Anvil(block_time=1) as node:
        w3 = connect(node.url)
        params = preset("devnet").with_overrides(
            epoch_seconds=wanted.get("epoch_seconds", EPOCH_SECONDS),
            quorum=2,
            grace_epochs=wanted.get("grace", GRACE),
        )
        deployment = deploy(w3, wallet.dev_account(0), params)
        record = record_deployment(deployment, tmp_path / "deployments.json")
        env = LiveMarket(node, w3, deployment, record, tmp_path)
        try:
            yield env
        finally:
            for v in env.validators:
                v.stop()
