"""Shared fixtures: a real anvil node per test worker, a deployment of the
shipped contracts on it, and per-test isolation through evm_snapshot/evm_revert."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import Deployment
from scatter.chain.files import FileRegistry
from scatter.chain.market import Market
from scatter.chain.params import MarketParams, preset
from scatter.chain.tx import Transactor

TEST_EPOCH_SECONDS = 60


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Web3:
    return connect(anvil.url)


@pytest.fixture(scope="session")
def test_params() -> MarketParams:
    return preset("devnet").with_overrides(epoch_seconds=TEST_EPOCH_SECONDS, quorum=2, committee_size=8)


@pytest.fixture(scope="session")
def deployment(w3: Web3, test_params: MarketParams) -> Deployment:
    return deploy(w3, wallet.dev_account(0), test_params)


@pytest.fixture()
def chain(w3: Web3, deployment: Deployment) -> Iterator[Chain]:
    """The deployed contracts, with every change of the test rolled back after it."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield Chain(w3, deployment)
    finally:
        w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


@dataclass
class Chain:
    w3: Web3
    deployment: Deployment

    def account(self, index: int) -> LocalAccount:
        return wallet.dev_account(index)

    def market(self, index: int) -> Market:
        """The Market as seen by dev account ``index``."""
        return Market(self.w3, self.deployment.market, Transactor(self.w3, self.account(index)))

    def files(self, index: int) -> FileRegistry:
        return FileRegistry(self.w3, self.deployment.file_registry, Transactor(self.w3, self.account(index)))

    def warp_to_epoch(self, epoch: int) -> None:
        """Mine a block whose timestamp is at the start of ``epoch``."""
        params = Market(self.w3, self.deployment.market).params()
        target = params.genesis + epoch * params.epoch_seconds
        now = self.w3.eth.get_block("latest")["timestamp"]
        self.w3.provider.make_request("evm_mine", [max(target, now + 1)])  # type: ignore[arg-type]

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))


# --------------------------------------------------------------------- scheduling (pytest-xdist)

#: Modules that share one expensive session or module fixture (a dev network of the dapp's
#: ``dapp_env``, the e2e market's ``net``): each group runs on one worker (``--dist loadgroup``),
#: so a run starts one such network per group, not one per worker.
XDIST_GROUPS: dict[str, str] = {
    "tests/dapp/test_store_page.py": "dapp-a",
    "tests/dapp/test_files_cross.py": "dapp-a",
    "tests/dapp/test_pages.py": "dapp-a",
    "tests/dapp/test_pin.py": "dapp-b",
    "tests/dapp/test_wallet.py": "dapp-b",
    "tests/dapp/test_web_cli.py": "dapp-b",
    "tests/e2e/test_marketplace.py": "e2e-market",
}

#: Longest first: what starts last must be short, or one worker runs on alone at the end.
_ORDER = ("tests/e2e/", "tests/dapp/", "tests/integration/", "tests/core/")


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    return next((i for i, prefix in enumerate(_ORDER) if path.startswith(prefix)), len(_ORDER))


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the group markers into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the order within each part is kept
    for item in items:
        group = XDIST_GROUPS.get(item.nodeid.split("::")[0])
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
