"""Origins and delegates: the spec speaks multiaddrs, Scatter's hosters and gateways speak HTTP.

A pin's ``origins`` are read over HTTP (the Trustless Gateway protocol): an HTTP(S)
multiaddr (``/dns4/gw.example/tcp/443/https``, ``/ip4/10.0.0.5/tcp/8080/http``, with
or without a trailing ``/p2p/...``) or a plain ``http(s)://`` URL. A libp2p-only
address (``/ip4/.../tcp/4001/p2p/Qm...``) cannot be read by the node and is skipped.
Delegates are the hosters' (or the node's own) HTTP endpoints written as multiaddrs.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_HOST_PROTOCOLS = frozenset({"ip4", "ip6", "dns", "dns4", "dns6"})


def origin_url(origin: str, *, allow_private: bool = False) -> str | None:
    """The HTTP base URL of an origin, or None when it is not one the node may read."""
    if origin.startswith(("http://", "https://")):
        try:
            parts = urlsplit(origin)
            host, port = parts.hostname, parts.port
        except ValueError:
            return None
        if not host or parts.username or parts.password or (parts.path not in ("", "/")):
            return None
        url = f"{parts.scheme}://{_bracket(host)}" + (f":{port}" if port else "")
    else:
        parsed = _multiaddr_url(origin)
        if parsed is None:
            return None
        url, host = parsed, urlsplit(parsed).hostname or ""
    if not allow_private and _private(host):
        return None
    return url


def origin_urls(origins: tuple[str, ...], *, allow_private: bool = False) -> list[str]:
    urls = (origin_url(o, allow_private=allow_private) for o in origins)
    return list(dict.fromkeys(u for u in urls if u is not None))


def endpoint_multiaddr(url: str) -> str | None:
    """``http://127.0.0.1:8710`` as ``/ip4/127.0.0.1/tcp/8710/http`` (None if it is no HTTP URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    try:
        proto = "ip4" if ipaddress.ip_address(host).version == 4 else "ip6"
    except ValueError:
        proto = "dns"
    return f"/{proto}/{host}/tcp/{port}/{parts.scheme}"


def _multiaddr_url(addr: str) -> str | None:
    parts = addr.split("/")
    if len(parts) < 3 or parts[0] != "" or parts[1] not in _HOST_PROTOCOLS:
        return None
    proto, host, rest = parts[1], parts[2], parts[3:]
    if "p2p" in rest:
        rest = rest[: rest.index("p2p")]
    port: int | None = None
    if rest[:1] == ["tcp"] and len(rest) >= 2 and rest[1].isdigit():
        port = int(rest[1])
        rest = rest[2:]
    if rest == ["tls", "http"] or rest == ["https"]:
        scheme = "https"
    elif rest == ["http"]:
        scheme = "http"
    else:
        return None
    if not host or (port is not None and not 0 < port < 65536):
        return None
    if proto in ("ip4", "ip6"):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return None
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{_bracket(host)}" + (f":{port}" if port not in (None, default) else "")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _private(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not ip.is_global
