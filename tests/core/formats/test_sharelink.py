"""Share links v1: canonical round trips and strict parsing."""

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
CIDS = vectors.sample_metadata().current.shards


def test_vector_links_parse_to_the_sample_file() -> None:
    v = vectors.sample_metadata().current
    for url in (VECTOR["url"], VECTOR["https_url"]):
        link = parse_share_link(url)
        assert link.shards == v.shards and link.content_key == v.content_key
        assert (link.k, link.n, link.size, link.sha256) == (3, 6, v.size, v.sha256)
        assert link.name == "report é.pdf"
    assert VECTOR["url"].split("#")[0].count("key") == 0  # the key never leaves the fragment


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    name=st.none() | st.text(max_size=50),
    size=st.none() | st.integers(0, 2**50),
    sha=st.none() | st.binary(min_size=32, max_size=32),
    k=st.integers(1, 6),
    media_type=st.sampled_from([None, "application/pdf", "text/plain; charset=utf-8"]),
)
def test_round_trip(
    key: bytes, name: str | None, size: int | None, sha: bytes | None, k: int, media_type: str | None
) -> None:
    link = ShareLink(
        k=k, n=6, shards=CIDS, content_key=key, name=name, size=size, sha256=sha, media_type=media_type
    )
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


def test_unknown_link_version_is_named() -> None:
    with pytest.raises(UnsupportedVersionError, match="share link version 2"):
        parse_share_link(GOOD.replace("?v=1&", "?v=2&"))


def test_duplicate_shards_are_refused() -> None:
    doubled = GOOD.replace(CIDS[1], CIDS[0])
    with pytest.raises(FormatError, match="distinct"):
        parse_share_link(doubled)
