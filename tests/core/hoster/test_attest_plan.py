"""Which settlement range a quorum of validators can sign, from their published verdicts."""

from __future__ import annotations

from scatter.hoster.attest import RangePlan, decided, plan_range


def test_whole_range_when_every_validator_found_every_epoch_ok() -> None:
    v = {"a": {5: True, 6: True, 7: True}, "b": {5: True, 6: True, 7: True}}
    assert plan_range(5, 7, v, 2) == RangePlan(5, 7, ["a", "b"])


def test_range_stops_where_the_quorum_breaks_and_skips_unattested_epochs() -> None:
    v = {
        "a": {5: False, 6: True, 7: True, 8: True},
        "b": {5: False, 6: True, 7: True},
        "c": {6: True, 8: True},
    }
    assert plan_range(5, 8, v, 2) == RangePlan(6, 7, ["a", "b"])
    assert decided(range(5, 6), v, 2)
    assert not decided(range(5, 6), v, 3)


def test_no_plan_without_a_quorum() -> None:
    assert plan_range(1, 3, {"a": {1: True, 2: True, 3: True}}, 2) is None
    assert plan_range(4, 3, {"a": {}, "b": {}}, 1) is None


def test_fast_verification_agrees_with_the_eip712_module_and_refuses_forgeries() -> None:
    import time

    import pytest

    from scatter.chain import wallet
    from scatter.chain.eip712 import Attestation, digest, sign_attestation
    from scatter.errors import ScatterValueError
    from scatter.hoster.attest import attestation_digest, domain_separator, parse_verified
    from scatter.protocol.attestations import to_json

    market = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    att = Attestation(7, 3, 9, True, b"\x11" * 32)
    domain = domain_separator(31337, market)
    assert attestation_digest(domain, att) == digest(31337, market, att)
    signed = sign_attestation(wallet.dev_account(4).key, 31337, market, att)
    wire = to_json(signed)
    assert parse_verified(wire, domain) == signed
    t0 = time.perf_counter()
    for _ in range(100):
        parse_verified(wire, domain)
    assert time.perf_counter() - t0 < 1.0  # well under the 1-4 ms of eth-account's path
    forged = {**wire, "signer": wallet.dev_account(5).address}
    other_chain = domain_separator(1, market)
    high_s = {**wire, "signature": wire["signature"][:66] + "f" * 64 + wire["signature"][-2:]}
    for bad, dom in ((forged, domain), (wire, other_chain), (high_s, domain), ({**wire, "ok": 1}, domain)):
        with pytest.raises(ScatterValueError):
            parse_verified(bad, dom)
