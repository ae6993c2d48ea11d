"""EventFollower on a real anvil: confirmation depth, ranges, decoding, reorgs."""

from __future__ import annotations

import pytest
from web3 import Web3

from scatter.chain.artifacts import load_artifact
from scatter.chain.follower import Batch, Checkpoint, EventFollower, Rewind, bloom_may_hold
from scatter.chain.market import Role
from scatter.chain.params import ETHER
from tests.conftest import Chain

pytestmark = pytest.mark.integration


def follower(chain: Chain, **kwargs: int) -> EventFollower:
    d = chain.deployment
    return EventFollower(
        chain.w3,
        [
            ("Market", d.market, load_artifact("Market").abi),
            ("FileRegistry", d.file_registry, load_artifact("FileRegistry").abi),
        ],
        **kwargs,
    )


def mine(w3: Web3, blocks: int) -> None:
    w3.provider.make_request("anvil_mine", [blocks])  # type: ignore[arg-type]


def drain(f: EventFollower, cp: Checkpoint) -> tuple[list[str], Checkpoint]:
    names: list[str] = []
    while True:
        result = f.poll(cp)
        if result is None:
            return names, cp
        assert isinstance(result, Batch)
        names += [e.name for e in result.events]
        cp = result.checkpoint


def test_events_arrive_only_after_the_confirmation_depth(chain: Chain) -> None:
    start = chain.w3.eth.block_number + 1
    f = follower(chain, confirmations=3)
    cp = EventFollower.genesis(start)
    chain.market(2).join(Role.HOSTER, "http://127.0.0.1:1", 100, 2 * ETHER)
    assert drain(f, cp)[0] == []  # one block deep: not confirmed yet
    mine(chain.w3, 3)
    names, cp = drain(f, cp)
    assert names == ["NodeJoined"]
    assert drain(f, cp)[0] == []  # nothing is delivered twice


def test_decoded_arguments_match_the_transaction(chain: Chain) -> None:
    start = chain.w3.eth.block_number + 1
    f = follower(chain, confirmations=0, max_range=1)  # one block per poll: ranges are stitched
    file_id = chain.files(1).add(b"\x01" * 40)
    chain.market(3).join(Role.VALIDATOR, "http://127.0.0.1:2", 0, 2 * ETHER)
    cp = EventFollower.genesis(start)
    events = []
    while (result := f.poll(cp)) is not None:
        assert isinstance(result, Batch)
        events += result.events
        cp = result.checkpoint
    added = next(e for e in events if e.name == "FileAdded")
    assert added.contract == "FileRegistry"
    assert added.args["fileId"] == file_id and added.args["metadata"] == b"\x01" * 40
    joined = next(e for e in events if e.name == "NodeJoined")
    assert joined.args["account"] == chain.account(3).address and joined.args["stake"] == 2 * ETHER


def test_a_reorg_below_the_checkpoint_rewinds(chain: Chain) -> None:
    w3 = chain.w3
    start = w3.eth.block_number + 1
    f = follower(chain, confirmations=0, rewind_depth=8)
    fork_point = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    chain.market(4).join(Role.HOSTER, "http://127.0.0.1:3", 1, 2 * ETHER)
    names, cp = drain(f, EventFollower.genesis(start))
    assert names == ["NodeJoined"]
    # Replace the chain after the fork point with different blocks at the same heights.
    w3.provider.make_request("evm_revert", [fork_point])  # type: ignore[arg-type]
    mine(w3, 3)
    result = f.poll(cp)
    assert isinstance(result, Rewind)
    assert result.checkpoint.block == max(-1, cp.block - 8)
    names, _ = drain(f, result.checkpoint)
    assert "NodeJoined" not in names  # the join is gone from the canonical chain


def test_a_blocks_bloom_tells_which_contracts_logged_in_it(chain: Chain) -> None:
    d, w3 = chain.deployment, chain.w3
    chain.files(1).add(b"\x02" * 40)  # a FileRegistry log, none of the Market
    bloom = str(w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]["logsBloom"])  # type: ignore[arg-type]
    assert bloom_may_hold(bloom, [d.file_registry])
    assert not bloom_may_hold(bloom, [d.market])
    assert bloom_may_hold("0x" + "f" * 512, [d.market]) and bloom_may_hold("", [d.market])


def test_a_block_without_the_followed_contracts_logs_moves_the_checkpoint_only(chain: Chain) -> None:
    w3 = chain.w3
    d = chain.deployment
    f = EventFollower(w3, [("Market", d.market, load_artifact("Market").abi)], confirmations=0)
    start = w3.eth.block_number + 1
    chain.market(5).join(Role.VALIDATOR, "http://127.0.0.1:5", 0, 2 * ETHER)
    names, cp = drain(f, EventFollower.genesis(start))
    assert names == ["NodeJoined"]
    chain.files(1).add(b"\x03" * 40)  # one new block, with another contract's log only
    result = f.poll(cp)
    assert isinstance(result, Batch) and result.events == []
    assert result.checkpoint.block == cp.block + 1 and result.checkpoint.block_hash == bytes(
        w3.eth.get_block("latest")["hash"] or b""
    )
    assert result.head == result.checkpoint.block  # caught up: no second poll needed
    chain.market(6).join(Role.VALIDATOR, "http://127.0.0.1:6", 0, 2 * ETHER)  # and a Market log is still seen
    names, _ = drain(f, result.checkpoint)
    assert names == ["NodeJoined"]


def test_a_reorg_at_the_same_height_is_seen_at_the_next_block(chain: Chain) -> None:
    w3 = chain.w3
    start = w3.eth.block_number + 1
    f = follower(chain, confirmations=0, rewind_depth=8)
    fork_point = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    chain.market(7).join(Role.HOSTER, "http://127.0.0.1:7", 1, 2 * ETHER)
    names, cp = drain(f, EventFollower.genesis(start))
    assert names == ["NodeJoined"]
    w3.provider.make_request("evm_revert", [fork_point])  # type: ignore[arg-type]
    mine(w3, 1)  # a different block at the checkpoint's height
    assert w3.eth.block_number == cp.block
    assert f.poll(cp) is None  # nothing higher yet
    mine(w3, 1)  # the next block's parent is not the checkpoint's block
    result = f.poll(cp)
    assert isinstance(result, Rewind) and result.checkpoint.block == max(-1, cp.block - 8)
