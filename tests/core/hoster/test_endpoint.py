"""The hoster refuses to register an endpoint that others cannot reach."""

from __future__ import annotations

import pytest

from scatter.daemon.endpoint import check_endpoint
from scatter.errors import ScatterValueError

SEPOLIA, ANVIL = 11155111, 31337


@pytest.mark.parametrize("endpoint", ["http://0.0.0.0:8080", "http://[::]:8080"])
def test_the_any_address_is_refused_on_every_chain(endpoint: str) -> None:
    for chain_id in (SEPOLIA, ANVIL):
        with pytest.raises(ScatterValueError, match="SCATTER_HOSTER_ENDPOINT"):
            check_endpoint(endpoint, chain_id)


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://10.0.0.7:8080",
     "http://192.168.1.20", "http://172.28.0.10:8080", "http://169.254.1.1"],
)  # fmt: skip
def test_local_addresses_are_refused_on_a_public_chain(endpoint: str) -> None:
    with pytest.raises(ScatterValueError, match="unreachable"):
        check_endpoint(endpoint, SEPOLIA)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "http://localhost:9003", "http://10.0.0.7"])
def test_local_addresses_are_fine_on_a_local_chain(endpoint: str) -> None:
    check_endpoint(endpoint, ANVIL)


@pytest.mark.parametrize(
    "endpoint",
    ["https://hoster.scatter.network", "http://93.184.215.14:8080", "https://[2606:4700::1111]:443"],
)
def test_public_names_and_addresses_are_accepted(endpoint: str) -> None:
    check_endpoint(endpoint, SEPOLIA)


@pytest.mark.parametrize(
    "endpoint", ["https://hoster.example.org", "http://h.example", "https://x.invalid", "http://203.0.113.9"]
)
def test_placeholders_and_documentation_addresses_are_refused_on_a_public_chain(endpoint: str) -> None:
    with pytest.raises(ScatterValueError, match=r"placeholder|unreachable"):
        check_endpoint(endpoint, SEPOLIA)
    check_endpoint(endpoint, ANVIL)


@pytest.mark.parametrize("endpoint", ["ftp://hoster.org", "hoster.org:8080", "http://"])
def test_a_non_http_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ScatterValueError, match="not an http"):
        check_endpoint(endpoint, ANVIL)


def test_a_validator_is_told_its_own_setting() -> None:
    with pytest.raises(ScatterValueError, match="SCATTER_VALIDATOR_ENDPOINT"):
        check_endpoint("http://0.0.0.0:8090", SEPOLIA, role="validator")
