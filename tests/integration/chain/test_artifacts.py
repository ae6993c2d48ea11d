"""The artifacts shipped in the package are exactly what the sources compile to."""

from __future__ import annotations

import pytest

from scatter.chain.compile import stale_artifacts
from scatter.chain.revert import decode_revert

pytestmark = pytest.mark.integration


def test_shipped_artifacts_match_a_fresh_compile() -> None:
    assert stale_artifacts() == [], "run `make artifacts` and commit scatter/chain/artifacts"


def test_custom_errors_from_the_abi_decode_to_named_lines() -> None:
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    data = function_signature_to_4byte_selector("InsufficientStake(uint256,uint256)") + encode(
        ["uint256", "uint256"], [1, 2]
    )
    err = decode_revert(data, context="Market.accept")
    assert err.error_name == "InsufficientStake"
    assert str(err).startswith("Market.accept reverted: InsufficientStake(have=1, need=2)")
    assert "Error(string)" not in str(decode_revert(bytes.fromhex("08c379a0") + encode(["string"], ["nope"])))
    assert "nope" in str(decode_revert(bytes.fromhex("08c379a0") + encode(["string"], ["nope"])))
    assert "panic 0x11" in str(decode_revert(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11])))
    assert "unknown error 0xdeadbeef" in str(decode_revert("0xdeadbeef"))
    assert "without a reason" in str(decode_revert(None))
