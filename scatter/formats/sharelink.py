"""Share links: one URL that lets anyone — no wallet, no deployment record — fetch and decrypt one file.

Version 2 (written whenever the chain is known)::

    scatter:file?v=2&chain=<chain id>&market=<0xMarket, EIP-55>&k=3&n=6&shards=<cid_0>,...,<cid_{n-1}>
        [&hosts=<pct(endpoint)>,...]
        #key=<base64url(content key)>[&name=..][&type=..][&size=..][&sha256=..]
    https://<app>/<path>?v=2&chain=...                                 (same fields, opened by the dapp)

Version 1 (still read; written only without a chain, e.g. ``scatter encode``) has
no ``chain``, ``market`` or ``hosts``.

The query carries only what is public anyway (the chain and Market hold the bid
naming the shard CIDs; hoster endpoints are registered on chain) and what a
fetcher needs before it has any shard (k, n, where to ask). ``hosts`` are hints:
endpoints of the hosters that held the shards when the link was made, each
percent-encoded; the shards are checked against their CIDs whoever serves them,
so a hint can waste a request but not change a byte. Everything private goes
in the fragment, which browsers never send to a server: the 32-byte content key
(base64url, no padding) and the optional name, media type, size and plaintext
sha256 (hex) used to label and check the download.

Parsing is strict: known fields only, each once, canonical numbers, exactly n
distinct CIDv1 (base32), a key of exactly 32 bytes. Anything else is rejected
with a message that names the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from multiformats import CID

from scatter.formats.errors import FormatError, InvalidParametersError, UnsupportedVersionError
from scatter.formats.metadata_schema import FileMetadata, FileVersion
from scatter.formats.params import MAX_SHARDS

LINK_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
SCHEME_BASE = "scatter:file"
#: Most hoster hints in one link, and the longest hint.
MAX_HOSTS = 16
MAX_HOST_LENGTH = 200

_QUERY_KEYS = {1: {"v", "k", "n", "shards"}, 2: {"v", "chain", "market", "k", "n", "shards"}}
_QUERY_OPTIONAL = {1: set[str](), 2: {"hosts"}}
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_FRAGMENT_REQUIRED = {"key"}
_FRAGMENT_OPTIONAL = {"name", "type", "size", "sha256"}
_UINT = re.compile(r"^(0|[1-9][0-9]{0,19})$")  # up to 20 digits: a chain id is < 2**64
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
# type/subtype, optionally with parameters ("text/plain; charset=utf-8"); printable, at most 255 chars.
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][\x20-\x7e]{0,250}$")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str, what: str) -> bytes:
    if not _B64URL.match(text):
        raise FormatError(f"share link: {what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise FormatError(f"share link: {what} is not base64url") from None
    if _b64url(raw) != text:
        raise FormatError(f"share link: {what} is not in canonical base64url form")
    return raw


@dataclass(frozen=True, slots=True)
class ShareLink:
    """What a share link carries."""

    k: int
    n: int
    shards: tuple[str, ...]
    content_key: bytes
    name: str | None = None
    media_type: str | None = None
    size: int | None = None
    sha256: bytes | None = None
    chain_id: int | None = None  # v2: the chain of the Market
    market: str | None = None  # v2: the Market's address (EIP-55)
    hosts: tuple[str, ...] = ()  # v2: hints, hoster endpoints that held the shards
    version: int | None = None  # None: 2 when the chain is known, else 1

    def __post_init__(self) -> None:
        if self.version is None:
            object.__setattr__(self, "version", 1 if self.chain_id is None else LINK_VERSION)
        if self.version not in SUPPORTED_VERSIONS:
            raise InvalidParametersError(f"share link: unknown version {self.version}")
        if self.version == 1 and (self.chain_id is not None or self.market is not None or self.hosts):
            raise InvalidParametersError("share link: version 1 carries no chain, market or hosts")
        if self.version == 2:
            _check_chain(self.chain_id, self.market)
            _check_hosts(self.hosts)
        if not 1 <= self.k <= self.n <= MAX_SHARDS:
            raise InvalidParametersError(f"share link: invalid k/n {self.k}/{self.n}")
        if len(self.shards) != self.n:
            raise InvalidParametersError(f"share link: {len(self.shards)} shard CIDs for n={self.n}")
        if len(set(self.shards)) != len(self.shards):
            raise InvalidParametersError("share link: shard CIDs must be distinct")
        for cid in self.shards:
            _check_cid(cid)
        if len(self.content_key) != 32:
            raise InvalidParametersError("share link: content key must be 32 bytes")
        if self.sha256 is not None and len(self.sha256) != 32:
            raise InvalidParametersError("share link: sha256 must be 32 bytes")
        if self.size is not None and self.size < 0:
            raise InvalidParametersError("share link: size must be >= 0")
        if self.media_type is not None and not _MEDIA_TYPE.match(self.media_type):
            raise InvalidParametersError(f"share link: invalid media type {self.media_type!r}")

    @classmethod
    def for_file(
        cls,
        metadata: FileMetadata,
        version: FileVersion | None = None,
        *,
        chain_id: int | None = None,
        market: str | None = None,
        hosts: tuple[str, ...] = (),
    ) -> ShareLink:
        """The link to one version (default: the current one) of a file in the owner's metadata;
        version 2 when ``chain_id`` and ``market`` are given, else version 1."""
        v = metadata.current if version is None else version
        return cls(
            chain_id=chain_id,
            market=market,
            hosts=hosts,
            k=v.erasure.k,
            n=v.erasure.n,
            shards=v.shards,
            content_key=v.content_key,
            name=metadata.name,
            media_type=metadata.media_type or None,
            size=v.size,
            sha256=v.sha256,
        )

    def to_url(self, base: str = SCHEME_BASE) -> str:
        """The link; ``base`` is ``scatter:file`` or an https URL of a dapp (no query, no fragment)."""
        _check_base(base)
        query = f"v={self.version}"
        if self.version == 2:
            query += f"&chain={self.chain_id}&market={self.market}"
        query += f"&k={self.k}&n={self.n}&shards={','.join(self.shards)}"
        if self.hosts:
            query += "&hosts=" + ",".join(quote(h, safe="") for h in self.hosts)
        fragment = [f"key={_b64url(self.content_key)}"]
        if self.name is not None:
            fragment.append(f"name={quote(self.name, safe='')}")
        if self.media_type is not None:
            fragment.append(f"type={quote(self.media_type, safe='')}")
        if self.size is not None:
            fragment.append(f"size={self.size}")
        if self.sha256 is not None:
            fragment.append(f"sha256={self.sha256.hex()}")
        return f"{base}?{query}#{'&'.join(fragment)}"


def _check_cid(text: str) -> None:
    try:
        cid = CID.decode(text)
    except Exception:
        raise FormatError(f"share link: {text!r} is not a CID") from None
    if cid.version != 1 or str(cid.set(base="base32")) != text:
        raise FormatError(f"share link: shard CID {text!r} must be a CIDv1 in base32 (bafy.../bafk...)")


def _check_chain(chain_id: int | None, market: str | None) -> None:
    from eth_utils.address import to_checksum_address

    if chain_id is None or not 1 <= chain_id < 2**64:
        raise InvalidParametersError(f"share link: chain id {chain_id!r} is not a chain id")
    if market is None or not _ADDRESS.match(market) or to_checksum_address(market) != market:
        raise InvalidParametersError(f"share link: market {market!r} is not an EIP-55 checksummed address")


def valid_host(host: str) -> bool:
    """Whether ``host`` can be a link's hint: an http(s) URL, printable, no query or fragment."""
    if len(host) > MAX_HOST_LENGTH or any(c.isspace() or not c.isprintable() for c in host):
        return False
    try:
        parts = urlsplit(host)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.query and not parts.fragment


def _check_hosts(hosts: tuple[str, ...]) -> None:
    if len(hosts) > MAX_HOSTS:
        raise InvalidParametersError(f"share link: {len(hosts)} hosts (at most {MAX_HOSTS})")
    if len(set(hosts)) != len(hosts):
        raise InvalidParametersError("share link: hosts must be distinct")
    for host in hosts:
        if not valid_host(host):
            raise InvalidParametersError(f"share link: host {host!r} is not an http(s) endpoint URL")


def _check_base(base: str) -> None:
    if base == SCHEME_BASE:
        return
    parts = urlsplit(base)
    if (
        parts.scheme != "https"
        or not parts.netloc
        or parts.query
        or parts.fragment
        or "?" in base
        or "#" in base
    ):
        raise InvalidParametersError(f"share link base must be {SCHEME_BASE!r} or an https URL, got {base!r}")


def _pairs(text: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not text:
        return out
    for item in text.split("&"):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise FormatError(f"share link: malformed {where} item {item!r} (expected name=value)")
        if name in out:
            raise FormatError(f"share link: {where} field {name!r} appears twice")
        out[name] = value
    return out


def _uint(text: str, what: str) -> int:
    if not _UINT.match(text):
        raise FormatError(f"share link: {what} must be a decimal number, got {text!r}")
    return int(text)


def parse_share_link(url: str) -> ShareLink:
    """Parse a share link strictly; raises :class:`FormatError` naming the bad field."""
    if any(c.isspace() for c in url):
        raise FormatError("share link: contains whitespace; copy the whole link without line breaks")
    base, sep, rest = url.partition("?")
    if not sep:
        raise FormatError("share link: missing '?' and its fields; is the link complete?")
    query, sep, fragment = rest.partition("#")
    if not sep:
        raise FormatError("share link: missing '#key=...': the key part of the link was cut off")
    try:
        _check_base(base)
    except InvalidParametersError as exc:
        raise FormatError(str(exc)) from None
    q = _pairs(query, "query")
    if "v" in q and q["v"] not in {str(v) for v in SUPPORTED_VERSIONS}:
        raise UnsupportedVersionError("share link", _uint(q["v"], "v"), SUPPORTED_VERSIONS)
    version = int(q.get("v", LINK_VERSION))
    required, optional = _QUERY_KEYS[version], _QUERY_OPTIONAL[version]
    if not set(q) >= required or not set(q) <= required | optional:
        missing, extra = required - set(q), set(q) - required - optional
        raise FormatError(f"share link: query fields missing {sorted(missing)} / unknown {sorted(extra)}")
    f = _pairs(fragment, "fragment")
    if not set(f) >= _FRAGMENT_REQUIRED or not set(f) <= _FRAGMENT_REQUIRED | _FRAGMENT_OPTIONAL:
        missing, extra = _FRAGMENT_REQUIRED - set(f), set(f) - _FRAGMENT_REQUIRED - _FRAGMENT_OPTIONAL
        raise FormatError(f"share link: fragment fields missing {sorted(missing)} / unknown {sorted(extra)}")
    key = _unb64url(f["key"], "key")
    if len(key) != 32:
        raise FormatError(f"share link: key is {len(key)} bytes, expected 32; the link is damaged")
    sha = None
    if "sha256" in f:
        if not _HEX64.match(f["sha256"]):
            raise FormatError("share link: sha256 must be 64 lowercase hex digits")
        sha = bytes.fromhex(f["sha256"])
    try:
        name = unquote(f["name"], errors="strict") if "name" in f else None
        media_type = unquote(f["type"], errors="strict") if "type" in f else None
    except UnicodeDecodeError:
        raise FormatError("share link: name or type is not valid percent-encoded UTF-8") from None
    shards = tuple(q["shards"].split(","))
    try:
        hosts = tuple(unquote(h, errors="strict") for h in q["hosts"].split(",")) if "hosts" in q else ()
    except UnicodeDecodeError:
        raise FormatError("share link: hosts are not valid percent-encoded UTF-8") from None
    try:
        link = ShareLink(
            chain_id=_uint(q["chain"], "chain") if version == 2 else None,
            market=q["market"] if version == 2 else None,
            hosts=hosts,
            k=_uint(q["k"], "k"),
            n=_uint(q["n"], "n"),
            shards=shards,
            content_key=key,
            name=name,
            media_type=media_type,
            size=_uint(f["size"], "size") if "size" in f else None,
            sha256=sha,
            version=version,
        )
    except InvalidParametersError as exc:
        raise FormatError(str(exc)) from None
    if link.to_url(base) != url:
        raise FormatError("share link: not in canonical form (field order or encoding differs)")
    return link
