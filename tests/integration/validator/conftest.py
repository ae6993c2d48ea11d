"""A real-time market (VERSION 3) for the validator daemon's tests: anvil mining a block per
second, short epochs, validators and hosters as real daemons on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import Deployment, record_deployment
from scatter.chain.market import Market, NodeStatus, Role, fill_seed
from scatter.chain.params import ETHER, preset
from scatter.chain.tx import Transactor
from scatter.formats.possession import build_proof, challenge_indices, possession_root
from scatter.ipfs.cid import cid_bytes
from scatter.validator.config import ValidatorConfig
from scatter.validator.daemon import ValidatorThread
from tests.integration.validator.helpers import Shard
from tests.waiting import wait_until as wait_until

EPOCH_SECONDS = 5
MARKET = {  # what the validator tests' market differs in from the devnet preset; override per test
    "epoch_seconds": EPOCH_SECONDS,
    "quorum": 2,
    "committee_size": 3,  # with at most three equal validators: every one sits on every committee
    "period_epochs": 4,
    "proof_window_epochs": 50,
    "missed_quorum_epochs": 50,
    "audit_bps": 0,
    "audit_every_blocks": 5,
    "validator_bonding_seconds": 0,
}


def prove(data: bytes, seed: bytes) -> bytes:
    """A possession proof of ``data`` for the challenge ``seed``."""
    return build_proof(lambda offset, length: data[offset : offset + length], len(data),
                       challenge_indices(seed, len(data)))  # fmt: skip


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

    def deal(self, hoster: int, client: int, shard: Shard, gateway: str, *, duration: int = 100,
             price: int = 10**15, join: bool = True) -> int:  # fmt: skip
        """A filled deal of ``shard`` (bid by ``client``, filled by ``hoster`` serving at ``gateway``)."""
        if join and self.market().node(Role.HOSTER, self.address(hoster)).status == NodeStatus.NONE:
            self.market(hoster).join(Role.HOSTER, gateway, 1 << 30, 20 * ETHER)
        bid_id = self.market(client).bid([cid_bytes(shard.root)], roots=[possession_root(shard.data)],
                                         size=len(shard.data), slot_count=1, price_per_epoch=price,
                                         duration_epochs=duration)  # fmt: skip
        return self.fill(hoster, bid_id, 0, shard.data)

    def fill(self, hoster: int, bid_id: int, slot: int, data: bytes) -> int:
        market = self.market(hoster)
        seed_block = self.w3.eth.block_number - 1  # mined before the fill (estimation runs on latest)
        block_hash = bytes(self.w3.eth.get_block(seed_block)["hash"] or b"")
        seed = fill_seed(block_hash, bid_id, slot, self.address(hoster))
        return market.fill(bid_id, slot, seed_block, market.fill_collateral(bid_id, slot), prove(data, seed))

    def prove(self, hoster: int, deal_id: int, data: bytes) -> None:
        """Answer the deal's open challenge as an honest hoster would."""
        seed = self.market().challenge_of(deal_id).seed
        self.market(hoster).prove_many([(deal_id, seed, prove(data, seed))])

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
    """Parametrise indirectly with a dict of :class:`MarketParams` fields to change the market."""
    wanted = {**MARKET, **getattr(request, "param", {})}
    with Anvil(block_time=1) as node:
        w3 = connect(node.url)
        params = preset("devnet").with_overrides(**wanted)
        deployment = deploy(w3, wallet.dev_account(0), params)
        record = record_deployment(deployment, tmp_path / "deployments.json")
        env = LiveMarket(node, w3, deployment, record, tmp_path)
        try:
            yield env
        finally:
            for v in env.validators:
                v.stop()
