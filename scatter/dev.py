"""The local network behind ``scatter dev``: anvil plus a deployment of the contracts.

State lives in ``state_dir``: anvil's chain state (dumped on exit, loaded on
start) and ``dev.json``, a summary for people and scripts. A restart with the
same state dir keeps the chain and its deployment.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scatter.chain import deployments, wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import Deployment
from scatter.chain.params import ETHER, preset

DEV_ACCOUNTS = 10
SUMMARY_VERSION = 1


@dataclass
class DevNetwork:
    state_dir: Path
    epoch_seconds: int = 2
    rpc_port: int = 8545
    anvil: Anvil | None = None
    deployment: Deployment | None = None

    @property
    def summary_path(self) -> Path:
        return self.state_dir / "dev.json"

    def start(self) -> DevNetwork:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # One-second blocks keep block.timestamp, and so the epoch, moving while idle.
        self.anvil = Anvil(port=self.rpc_port, block_time=1, state_path=self.state_dir / "anvil-state.json")
        self.anvil.start()
        w3 = connect(self.anvil.url)
        self.deployment = self._existing_deployment(w3) or self._deploy(w3)
        deployments.record_deployment(self.deployment, self.state_dir.parent / "deployments.json")
        self.summary_path.write_text(json.dumps(self.summary(), indent=2) + "\n")
        return self

    def _existing_deployment(self, w3: Any) -> Deployment | None:
        if not self.summary_path.exists():
            return None
        try:
            known = json.loads(self.summary_path.read_text())
            deployment = Deployment.from_json(int(known["chainId"]), known["contracts"])
        except (ValueError, KeyError):
            return None
        has_code = len(w3.eth.get_code(deployment.market)) > 0
        return deployment if has_code else None

    def _deploy(self, w3: Any) -> Deployment:
        params = preset("devnet").with_overrides(epoch_seconds=self.epoch_seconds)
        return deploy(w3, wallet.dev_account(0), params)

    def summary(self) -> dict[str, Any]:
        assert self.anvil is not None and self.deployment is not None
        return {
            "version": SUMMARY_VERSION,
            "rpcUrl": self.anvil.url,
            "chainId": self.deployment.chain_id,
            "contracts": self.deployment.to_json(),
            "accounts": [
                {"index": i, "address": wallet.dev_account(i).address, "balanceEth": 10_000}
                for i in range(DEV_ACCOUNTS)
            ],
            "note": "dev accounts use anvil's public test mnemonic: never send real funds to them",
            "stakeEth": self.deployment.params.get("min_hoster_stake", ETHER) / ETHER,
        }

    def wait(self) -> None:
        """Block until interrupted; report and restart a crashed anvil."""
        assert self.anvil is not None
        while True:
            if not self.anvil.running():
                self.anvil.start()
            time.sleep(1.0)

    def stop(self) -> None:
        if self.anvil is not None:
            self.anvil.stop()
