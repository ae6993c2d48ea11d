"""A daemon's public endpoint: refuse to register a URL nobody else can reach.

The endpoint is written on chain at join: validators and clients connect to a hoster's,
hosters to a validator's.
``http://0.0.0.0:8080`` (what a hoster listening on all interfaces would register
without ``endpoint``) reaches no one; a loopback, private or link-local address
reaches no one outside this machine or network, which on a public chain is everyone;
nor does a reserved example name (``hoster.example.org``, the env example's placeholder).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from scatter.errors import ScatterValueError

#: Chain ids of local development chains (anvil/hardhat, geth --dev/ganache): private addresses are fine.
LOCAL_CHAIN_IDS = frozenset({31337, 1337})
#: Names reserved for documentation and tests (RFC 2606, RFC 6761): placeholders, reachable by no one.
_RESERVED_SUFFIXES = (
    ".example",
    ".invalid",
    ".test",
    ".localhost",
    "example.com",
    "example.net",
    "example.org",
)


def check_endpoint(endpoint: str, chain_id: int, role: str = "hoster") -> None:
    """Raise :class:`ScatterValueError` if ``endpoint`` cannot be reached by others on ``chain_id``.

    ``role`` (``hoster`` or ``validator``) names the setting to fix in the message.
    """
    fix = f"set SCATTER_{role.upper()}_ENDPOINT (--endpoint) to the public URL of this {role}'s port"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScatterValueError(f"endpoint {endpoint!r} is not an http(s) URL: {fix}")
    public_chain = chain_id not in LOCAL_CHAIN_IDS
    name = parts.hostname.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        name = "127.0.0.1"
    ip = _ip(name)
    if ip is None:  # a host name: resolved by those who connect, not here
        if public_chain and name.endswith(_RESERVED_SUFFIXES):
            raise ScatterValueError(f"endpoint {endpoint} is a placeholder (a reserved example name): {fix}")
        return
    if ip.is_unspecified:
        raise ScatterValueError(f"endpoint {endpoint} is the any-address, which reaches no one: {fix}")
    if public_chain and (ip.is_loopback or ip.is_private or ip.is_link_local):
        raise ScatterValueError(
            f"endpoint {endpoint} is a local address, unreachable for the other nodes and clients "
            f"on chain {chain_id}: {fix}"
        )


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None
