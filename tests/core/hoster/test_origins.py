"""Which origins of a public-pin bid the hoster can fetch from over HTTP."""

from __future__ import annotations

import pytest

from scatter.hoster.content import gateway_bases, multiaddr_url


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("/ip4/127.0.0.1/tcp/8080/http", "http://127.0.0.1:8080"),
        ("/ip4/10.0.0.2/tcp/80/http", "http://10.0.0.2"),
        ("/dns4/gw.example/tcp/443/https", "https://gw.example"),
        ("/dns/gw.example/tcp/8443/tls/http", "https://gw.example:8443"),
        ("/ip6/::1/tcp/8080/http/p2p/12D3KooWxyz", "http://[::1]:8080"),
        ("/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWxyz", None),  # libp2p only (bitswap): not HTTP
        ("/ip4/1.2.3.4/udp/4001/quic-v1", None),
        ("/ip4/1.2.3.4/tcp/99999/http", None),
        ("/ip4/1.2.3.4/tcp/x/http", None),
        ("/unix/tmp/sock", None),
        ("", None),
    ],
)
def test_http_multiaddrs_become_urls(addr: str, url: str | None) -> None:
    assert multiaddr_url(addr) == url


def test_gateway_bases_keep_http_origins_once_and_drop_the_rest() -> None:
    origins = [
        "http://h:8080/ipfs/bafy",
        "/ip4/127.0.0.1/tcp/8080/http",
        "http://h:8080",
        "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWxyz",
        "ftp://h/x",
    ]
    assert gateway_bases(origins) == ["http://h:8080", "http://127.0.0.1:8080"]
