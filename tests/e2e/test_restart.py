"""A restart of `scatter dev` (stop as Ctrl-C stops it, start again) faults nothing.

Real processes: anvil, three hosters and three validators. A file is stored (2-of-3) and
paid for; the whole network stops and stays down for a while; it starts again from its
state directory. The chain's clock resumes where it stopped, so the downtime costs no
epoch: no proof is missed, every deal stays live, pay resumes and the file downloads.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.chain.deploy import connect
from scatter.chain.market import DealStatus
from scatter.client import Scatter
from scatter.dev import DevNetwork
from scatter.sdk.network import Network
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

DOWNTIME = 12.0  # seconds: six 2-second epochs (at least: the stop and the start add to it)


def _net(state: Path, rpc_port: int) -> DevNetwork:
    return DevNetwork(state_dir=state, rpc_port=rpc_port, hosters=3, validators=3, port=0, web=False)


def _sdk(net: DevNetwork, tmp_path: Path) -> Scatter:
    assert net.deployment is not None
    network = Network(connect(net.rpc_url), net.rpc_url, net.deployment, True)
    return Scatter(network, wallet.dev_account(1), state_root=tmp_path / "client")


def test_a_restart_of_the_dev_network_faults_nothing(tmp_path: Path) -> None:
    state, rpc_port = tmp_path / ".scatter" / "dev", free_port()
    data = os.urandom(2 << 20)
    src = tmp_path / "kept.bin"
    src.write_bytes(data)
    with _net(state, rpc_port) as net:
        sdk = _sdk(net, tmp_path)
        start_block = sdk.w3.eth.block_number
        up = sdk.upload(src, shards="2/3", duration="1h", timeout=180)
        wait_until(lambda: all(d.paid_epochs > 0 for d in sdk.deals_of_bid(up.bid_id)), 180, "first pay")
        ports = {c.name: c.port for c in net.children}
        last = int(sdk.w3.eth.block_number)
    time.sleep(DOWNTIME)  # the network is down for real: the wall clock moves on, not the chain's
    with _net(state, rpc_port) as net:
        sdk = _sdk(net, tmp_path)
        assert {c.name: c.port for c in net.children} == ports  # the endpoints on chain still answer
        # The downtime is not chain time: no two blocks from before the stop to after the start
        # are as far apart as the network was down (their gaps are the one-second block time).
        wait_until(lambda: sdk.w3.eth.block_number > last + 3, 60, "blocks after the restart")
        stamps = [int(sdk.w3.eth.get_block(n)["timestamp"]) for n in range(last, sdk.w3.eth.block_number + 1)]
        assert max(b - a for a, b in itertools.pairwise(stamps)) < DOWNTIME
        restart_epoch = sdk.market.current_epoch()
        wait_until(
            lambda: all(d.paid_through >= restart_epoch for d in sdk.deals_of_bid(up.bid_id)),
            600,
            "every deal to be paid past the restart",
        )
        events = sdk.market.contract.events
        assert events.ProofMissed().get_logs(from_block=start_block) == []
        assert events.DealFaulted().get_logs(from_block=start_block) == []
        assert all(d.status == DealStatus.ACTIVE for d in sdk.deals_of_bid(up.bid_id))
        [f] = sdk.ls()
        assert f.health is not None and f.health.label == "3/3 live"
        assert sdk.download(up.file_id, tmp_path / "copy.bin").path.read_bytes() == data
