"""Chain randomness per epoch, and the fast signer against the Market's own digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.chain.eip712 import Attestation
from scatter.chain.market import Market
from scatter.daemon.state import StateDB
from scatter.validator.beacon import EpochBeacon
from scatter.validator.signer import AttestationSigner
from tests.conftest import Chain

pytestmark = pytest.mark.integration


def beacon(chain: Chain, db: StateDB, confirmations: int = 2) -> EpochBeacon:
    params = Market(chain.w3, chain.deployment.market).params()
    return EpochBeacon(chain.w3, db, genesis=params.genesis, epoch_seconds=params.epoch_seconds,
                       confirmations=confirmations, first_block=chain.deployment.block)  # fmt: skip


def mine(chain: Chain, n: int = 1) -> None:
    chain.w3.provider.make_request("anvil_mine", [n])  # type: ignore[arg-type]


def test_randomness_is_the_first_block_of_the_epoch_once_confirmed(chain: Chain, tmp_path: Path) -> None:
    b = beacon(chain, StateDB(tmp_path / "v.db"))
    epoch = Market(chain.w3, chain.deployment.market).current_epoch() + 3
    assert b.randomness(epoch) is None  # the epoch has not started
    mine(chain, 3)
    chain.warp_to_epoch(epoch)
    first = chain.w3.eth.block_number
    assert (
        chain.w3.eth.get_block(first - 1)["timestamp"]
        < b.epoch_start(epoch)
        <= chain.w3.eth.get_block(first)["timestamp"]
    )
    mine(chain)
    assert b.randomness(epoch) is None  # one block on top, two wanted
    mine(chain)
    found = b.randomness(epoch)
    assert found is not None and found.block == first
    assert found.block_hash == bytes(chain.w3.eth.get_block(first)["hash"])
    mine(chain, 5)
    again = beacon(chain, StateDB(tmp_path / "v.db"))  # a restart: the same value, from SQLite
    assert again.randomness(epoch) == found
    chain.warp_to_epoch(epoch + 1)
    mine(chain, 2)
    later = b.randomness(epoch + 1)
    assert later is not None and later.block > found.block and later.block_hash != found.block_hash


def test_fast_signer_digest_equals_the_markets(chain: Chain) -> None:
    market = Market(chain.w3, chain.deployment.market)
    signer = AttestationSigner(chain.account(5), chain.deployment.chain_id, chain.deployment.market)
    for att in (
        Attestation(3, 7, 9, True, b"\x01" * 32),
        Attestation(2**100, 0, 2**32 - 1, False, b"\xff" * 32),
    ):
        onchain = market.attestation_digest(att.deal_id, att.from_epoch, att.to_epoch, att.ok, att.evidence)
        assert signer.digest(att) == onchain
