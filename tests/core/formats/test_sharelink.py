"""Share links v2 (and v1, still read): canonical round trips and strict parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scatter.formats import vectors
from scatter.formats.errors import FormatError, UnsupportedVersionError
from scatter.formats.sharelink import ShareLink, parse_share_link

VECTOR = json.loads((Path(__file__).parents[2] / "testdata/formats/sharelink_v1.json").read_text())
VECTOR2 = json.loads((Path(__file__).parents[2] / "testdata/formats/sharelink_v2.json").read_text())
CIDS = vectors.sample_metadata().current.shards
MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_vector_links_parse_to_the_sample_file() -> None:
    v = vectors.sample_metadata().current
    for url in (VECTOR["url"], VECTOR["https_url"]):
        link = parse_share_link(url)
        assert link.shards == v.shards and link.content_key == v.content_key
        assert (link.k, link.n, link.size, link.sha256) == (3, 6, v.size, v.sha256)
        assert link.name == "report é.pdf"
    assert VECTOR["url"].split("#")[0].count("key") == 0  # the key never leaves the fragment


def test_v2_vector_carries_chain_market_and_host_hints() -> None:
    v = vectors.sample_metadata().current
    for url in (VECTOR2["url"], VECTOR2["https_url"]):
        link = parse_share_link(url)
        assert (link.version, link.chain_id, link.market) == (2, 11155111, MARKET)
        assert link.hosts == ("https://hoster-a.example:8443", "http://203.0.113.7:9010/base")
        assert link.shards == v.shards and link.content_key == v.content_key
    assert VECTOR2["url"].split("#")[0].count("key") == 0


def test_any_chain_id_round_trips_up_to_the_largest() -> None:
    for chain_id in (1, 10**18, 2**64 - 1):  # 19 and 20 digits: a parser cut at 18 refused them
        link = ShareLink.for_file(vectors.sample_metadata(), chain_id=chain_id, market=MARKET)
        assert parse_share_link(link.to_url()).chain_id == chain_id


def test_links_without_a_chain_stay_version_1() -> None:
    assert ShareLink.for_file(vectors.sample_metadata()).to_url() == VECTOR["url"]


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    name=st.none() | st.text(max_size=50),
    size=st.none() | st.integers(0, 2**50),
    sha=st.none() | st.binary(min_size=32, max_size=32),
    k=st.integers(1, 6),
    media_type=st.sampled_from([None, "application/pdf", "text/plain; charset=utf-8"]),
    chain=st.none() | st.integers(1, 2**63),
    hosts=st.lists(st.sampled_from(["http://127.0.0.1:9010", "https://h.example/a,b?", "https://x.org"]),
                   max_size=3, unique=True),
)  # fmt: skip
def test_round_trip(
    key: bytes,
    name: str | None,
    size: int | None,
    sha: bytes | None,
    k: int,
    media_type: str | None,
    chain: int | None,
    hosts: list[str],
) -> None:
    where = {} if chain is None else {"chain_id": chain, "market": MARKET, "hosts": tuple(hosts)}
    link = ShareLink(
        k=k, n=6, shards=CIDS, content_key=key, name=name, size=size, sha256=sha, media_type=media_type,
        **where,  # type: ignore[arg-type]
    )  # fmt: skip
    assert link.version == (1 if chain is None else 2)
    assert parse_share_link(link.to_url()) == link
    assert parse_share_link(link.to_url("https://example.org/app/open")) == link


GOOD = VECTOR["url"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (GOOD.split("#")[0], "key part"),
        (GOOD.replace("?v=1&", "?"), "missing"),
        (GOOD.replace("&k=3", "&k=3&k=3"), "twice"),
        (GOOD.replace("&k=3", "&k=03"), "decimal"),
        (GOOD.replace("#key=", "#key=A"), "base64url|32"),
        (GOOD.replace("#key=AAEC", "#key=AA+C"), "base64url"),
        (GOOD.replace("&size=10000", "&size=10000&color=red"), "unknown"),
        (GOOD.replace("&n=6", "&n=5"), "5 shard CIDs|for n=5"),
        (GOOD.replace("scatter:file", "http://example.org/x"), "https"),
        (GOOD.replace(CIDS[0], CIDS[0].upper()), "CIDv1 in base32"),
        (GOOD.replace(CIDS[0], "bafkrei!!!"), "not a CID"),
        (GOOD + " ", "whitespace"),
        (GOOD.replace("sha256=96", "sha256=G6"), "hex"),
    ],
)
def test_malformed_links_are_refused_with_the_field_named(bad: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_share_link(bad)


GOOD2 = VECTOR2["url"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (GOOD2.replace("&chain=11155111", ""), "missing \\['chain'\\]"),
        (GOOD2.replace("&chain=11155111", "&chain=0"), "chain id"),
        (GOOD2.replace(MARKET, MARKET.lower()), "EIP-55"),
        (GOOD2.replace(MARKET, MARKET[:-1]), "EIP-55"),
        (GOOD2.replace("https%3A%2F%2Fhoster-a", "ftp%3A%2F%2Fhoster-a"), "http\\(s\\) endpoint"),
        (GOOD2.replace("hosts=https%3A%2F%2F", "hosts=https://"), "canonical"),
        (GOOD2.replace("%2Fbase", "%2Fbase,http%3A%2F%2F203.0.113.7%3A9010%2Fbase"), "distinct"),
        (GOOD.replace("&k=3", "&hosts=http%3A%2F%2Fh&k=3"), "unknown \\['hosts'\\]"),
    ],
)
def test_malformed_v2_links_are_refused_with_the_field_named(bad: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_share_link(bad)


def test_unknown_link_version_is_named() -> None:
    with pytest.raises(UnsupportedVersionError, match="share link version 3"):
        parse_share_link(GOOD.replace("?v=1&", "?v=3&"))


def test_duplicate_shards_are_refused() -> None:
    doubled = GOOD.replace(CIDS[1], CIDS[0])
    with pytest.raises(FormatError, match="distinct"):
        parse_share_link(doubled)
