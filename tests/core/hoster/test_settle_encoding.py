"""The hoster's direct settle encoding equals web3's encoding of the shipped ABI."""

from __future__ import annotations

from eth_abi.abi import encode
from web3 import Web3

from scatter.chain.artifacts import load_artifact
from scatter.hoster.daemon import SETTLE_ARGS, SETTLE_SELECTOR


def test_settle_calldata_matches_the_abi() -> None:
    contract = Web3().eth.contract(abi=load_artifact("Market").abi)
    sigs = [(b"\x01" * 32, 27, b"\x02" * 32, b"\x03" * 32), (b"\x04" * 32, 28, b"\x05" * 32, b"\x06" * 32)]
    expected = contract.encode_abi("settle", args=[7, 3, 9, sigs])
    assert "0x" + (SETTLE_SELECTOR + encode(SETTLE_ARGS, [7, 3, 9, sigs])).hex() == expected
