"""``/pins`` (the IPFS Pinning Service API) over a real SQLite store and real HTTP: auth, each
token's own pins, filters and pagination, the spec's Failure shape, bounds on what one token
may queue and spend. The worker is not running here: pins stay as the tests set them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from scatter.ipfs.gateway.server import GatewayServer
from scatter.web.app import create_app
from scatter.web.pinning import PinningService, PinSettings

CID_A = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
CID_V0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CID_V0_AS_V1 = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34"


class Node:
    def __init__(self, server: GatewayServer, service: PinningService, token: str) -> None:
        self.server, self.service, self.token = server, service, token

    def call(self, method: str, path: str, token: str | None = "own", **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["authorization"] = f"Bearer {self.token if token == 'own' else token}"
        return httpx.request(method, self.server.url + path, headers=headers, timeout=30, **kw)

    def add(self, cid: str = CID_A, token: str | None = "own", **pin: Any) -> dict[str, Any]:
        r = self.call("POST", "/pins", token=token, json={"cid": cid, **pin})
        assert r.status_code == 202, r.text
        return cast(dict[str, Any], r.json())

    def new_token(self, name: str = "other", cap: int = 10**18) -> str:
        return self.service.store.create_token(name, cap)[1]


@pytest.fixture()
def node(tmp_path: Path) -> Iterator[Node]:
    settings = PinSettings(db=tmp_path / "pins.sqlite", max_pending=5)
    service = PinningService(settings)
    _token, secret = service.store.create_token("test", 10**17)
    with GatewayServer(create_app(cast(Any, None), pinning=service, dapp=False)) as server:
        yield Node(server, service, secret)
    service.stop()


def _failure(r: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["reason"] == reason and body["error"]["details"]
    return cast(dict[str, Any], body)


# ------------------------------------------------------------------ auth


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "bearer-less"])
def test_no_token_is_401_in_the_failure_shape(node: Node, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    r = node.call("GET", "/pins", token=None, headers=headers)
    _failure(r, 401, "UNAUTHORIZED")
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method,path", [("GET", "/pins"), ("POST", "/pins"), ("GET", "/pins/x"),
                                         ("POST", "/pins/x"), ("DELETE", "/pins/x")])  # fmt: skip
def test_a_wrong_token_is_401_on_every_route(node: Node, method: str, path: str) -> None:
    r = node.call(method, path, token="scatter_pins_wrong", json={"cid": CID_A})
    _failure(r, 401, "UNAUTHORIZED")


def test_a_revoked_token_is_401_and_the_store_keeps_only_hashes(node: Node) -> None:
    other = node.new_token("gone")
    assert node.call("GET", "/pins", token=other).status_code == 200
    node.service.store.revoke_token("gone")
    _failure(node.call("GET", "/pins", token=other), 401, "UNAUTHORIZED")
    raw = node.service.store.path.read_bytes()
    assert node.token.encode() not in raw and other.encode() not in raw


def test_a_token_sees_replaces_and_removes_only_its_own_pins(node: Node) -> None:
    mine = node.add(name="mine")
    other = node.new_token()
    theirs = node.add(token=other, name="theirs")
    rid = mine["requestid"]
    for method, body in (("GET", None), ("POST", {"cid": CID_A}), ("DELETE", None)):
        _failure(node.call(method, f"/pins/{rid}", token=other, json=body), 404, "NOT_FOUND")
    listed = node.call("GET", "/pins?status=queued", token=other).json()
    assert [p["requestid"] for p in listed["results"]] == [theirs["requestid"]]
    assert node.call("GET", f"/pins/{rid}").status_code == 200  # untouched


# ------------------------------------------------------------------ add, get, replace, remove


def test_add_answers_202_with_a_queued_pin_status(node: Node) -> None:
    body = node.add(CID_A, name="doc.pdf", origins=["/dns4/gw.example/tcp/443/https"], meta={"app": "x"})
    assert body["status"] == "queued" and body["pin"] == {
        "cid": CID_A, "name": "doc.pdf", "origins": ["/dns4/gw.example/tcp/443/https"], "meta": {"app": "x"}
    }  # fmt: skip
    assert body["created"].endswith("Z") and body["delegates"] == [
        f"/ip4/127.0.0.1/tcp/{node.server.port}/http"
    ]
    got = node.call("GET", f"/pins/{body['requestid']}").json()
    assert got == body


def test_replace_gives_a_new_requestid_and_the_old_one_is_gone(node: Node) -> None:
    old = node.add(CID_A)
    r = node.call("POST", f"/pins/{old['requestid']}", json={"cid": CID_V0})
    assert r.status_code == 202
    new = r.json()
    assert new["requestid"] != old["requestid"] and new["pin"]["cid"] == CID_V0
    _failure(node.call("GET", f"/pins/{old['requestid']}"), 404, "NOT_FOUND")
    assert node.call("GET", f"/pins/{new['requestid']}").status_code == 200


def test_remove_is_202_and_then_404(node: Node) -> None:
    rid = node.add()["requestid"]
    r = node.call("DELETE", f"/pins/{rid}")
    assert r.status_code == 202 and r.content == b""
    _failure(node.call("GET", f"/pins/{rid}"), 404, "NOT_FOUND")
    _failure(node.call("DELETE", f"/pins/{rid}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        b"", b"null", b"[]", b"{", b'{"cid": 5}', b'{"cid": "not-a-cid"}', b'{"name": "x"}',
        json.dumps({"cid": CID_A, "name": "n" * 256}).encode(),
        json.dumps({"cid": CID_A, "origins": ["/a"] * 2}).encode(),
        json.dumps({"cid": CID_A, "origins": [f"/o/{i}" for i in range(21)]}).encode(),
        json.dumps({"cid": CID_A, "meta": {"k": 1}}).encode(),
        json.dumps({"cid": CID_A, "meta": {str(i): "v" for i in range(101)}}).encode(),
        b"\xff\xfe", b'{"cid": "' + b"b" * 5000 + b'"}',
    ],
)  # fmt: skip
def test_a_bad_pin_object_is_400_never_5xx(node: Node, body: bytes) -> None:
    r = node.call("POST", "/pins", content=body, headers={"content-type": "application/json"})
    _failure(r, 400, "BAD_REQUEST")


def test_an_oversized_body_is_413(node: Node) -> None:
    r = node.call("POST", "/pins", content=b"{" + b" " * 70_000 + b"}")
    _failure(r, 413, "PAYLOAD_TOO_LARGE")


# ------------------------------------------------------------------ listing


def _set_status(node: Node, rid: str, status: str) -> None:
    node.service.store.update(rid, status=status)


def test_without_filters_only_pinned_pins_are_listed_newest_first(node: Node) -> None:
    a, b, c = (node.add(name=n)["requestid"] for n in "abc")
    _set_status(node, a, "pinned")
    _set_status(node, c, "pinned")
    page = node.call("GET", "/pins").json()
    assert page["count"] == 2 and [p["requestid"] for p in page["results"]] == [c, a]
    assert node.call("GET", "/pins?name=b").json()["results"][0]["requestid"] == b  # a filter: any status


@pytest.mark.parametrize(
    "match,name,found",
    [("exact", "Report-2026.pdf", True), ("exact", "report-2026.pdf", False),
     ("iexact", "REPORT-2026.PDF", True), ("partial", "port-20", True), ("partial", "PORT", False),
     ("ipartial", "PORT-20", True), ("ipartial", "%", False), ("partial", "_", False)],
)  # fmt: skip
def test_name_filters_by_each_matching_strategy(node: Node, match: str, name: str, found: bool) -> None:
    node.add(name="Report-2026.pdf")
    node.add(name="other")
    page = node.call("GET", "/pins", params={"name": name, "match": match}).json()
    assert page["count"] == int(found)


def test_cid_status_and_meta_filters(node: Node) -> None:
    v0 = node.add(CID_V0, meta={"app": "one", "tier": "gold"})["requestid"]
    a = node.add(CID_A, meta={"app": "two"})["requestid"]
    _set_status(node, a, "failed")

    def ids(query: str) -> list[str]:
        return [p["requestid"] for p in node.call("GET", "/pins?" + query).json()["results"]]

    assert ids(f"cid={CID_V0_AS_V1}") == [v0]  # any CID version matches
    assert ids(f"cid={CID_A},{CID_V0}") == [a, v0] == ids(f"cid={CID_A}&cid={CID_V0}")
    assert ids("status=failed") == [a] and ids("status=queued,failed") == [a, v0]
    assert ids("meta=" + json.dumps({"app": "one"})) == [v0]
    assert ids("meta=" + json.dumps({"app": "one", "tier": "silver"})) == []


def test_pages_split_on_created_with_before_and_after(node: Node) -> None:
    made = [node.add(name=f"p{i}")["requestid"] for i in range(5)]
    first = node.call("GET", "/pins?status=queued&limit=2").json()
    assert first["count"] == 5 and [p["requestid"] for p in first["results"]] == made[:2:-1][:2]
    seen = [p["requestid"] for p in first["results"]]
    before = first["results"][-1]["created"]
    while True:
        page = node.call("GET", "/pins", params={"status": "queued", "limit": 2, "before": before}).json()
        if not page["results"]:
            break
        seen += [p["requestid"] for p in page["results"]]
        before = page["results"][-1]["created"]
    assert seen == made[::-1]
    oldest = node.call("GET", f"/pins/{made[0]}").json()["created"]
    after = node.call("GET", "/pins", params={"status": "queued", "after": oldest}).json()
    assert after["count"] == 4


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=x", "limit=-1", "status=done", "match=regex", "cid=nope",
     "before=yesterday", "after=2026-13-01T00:00:00Z", "meta=[1]", "meta={", 'meta={"a":1}',
     "name=" + "n" * 256, "&".join(f"cid={CID_A[:-1]}{c}" for c in "abcdefghijk")],
)  # fmt: skip
def test_bad_filters_are_400_never_5xx(node: Node, query: str) -> None:
    _failure(node.call("GET", "/pins?" + query), 400, "BAD_REQUEST")


# ------------------------------------------------------------------ bounds on one token


def test_a_flood_of_adds_stops_at_the_pending_limit_per_token(node: Node) -> None:
    for _ in range(5):
        node.add()
    _failure(node.call("POST", "/pins", json={"cid": CID_A}), 429, "TOO_MANY_PENDING_PINS")
    node.add(token=node.new_token())  # another token has its own limit
    first = node.call("GET", "/pins?status=queued&limit=1").json()["results"][0]["requestid"]
    _set_status(node, first, "pinned")  # no longer pending: room for one more
    node.add()


def test_a_token_past_its_spend_cap_is_refused_with_409(node: Node) -> None:
    token = node.service.store.token("test")
    node.service.store.charge(token.id, token.spend_cap)
    _failure(node.call("POST", "/pins", json={"cid": CID_A}), 409, "INSUFFICIENT_FUNDS")
    node.service.store.refund(token.id, 1)
    node.add()


@pytest.mark.parametrize(
    "moment",
    ["2026-11-30T09:30:00.123456789Z", "2026-11-30T09:30:00Z", "2026-11-30T10:30:00.5+01:00",
     "2026-11-30T09:30:00.123Z"],
)  # fmt: skip
def test_times_as_go_and_javascript_clients_write_them_are_accepted(node: Node, moment: str) -> None:
    # Kubo's client sends RFC3339Nano (up to 9 digits), the JavaScript one toISOString (3 digits)
    for name in ("before", "after"):
        r = node.call("GET", "/pins", params={name: moment, "status": "queued"})
        assert r.status_code == 200, r.text


def test_no_request_to_pins_gets_a_5xx_with_or_without_a_token(node: Node) -> None:
    """Random paths, queries, headers and bodies under /pins over a real socket: each answered below
    500 with few log lines; half of them carry the node's valid token, so they reach the routes."""
    import dataclasses

    from hypothesis import strategies as st

    from tests.http_fuzz import RawRequest, fuzz, requests

    authorized = ("authorization", f"Bearer {node.token}")

    def with_token(request: RawRequest, signed: bool) -> RawRequest:
        headers = (authorized, *request.headers) if signed else request.headers
        return dataclasses.replace(request, headers=headers, host=None)

    strategy = st.builds(
        with_token, requests(["/pins", "/pins/"], methods=("GET", "POST", "DELETE")), st.booleans()
    )
    fuzz(node.server.url, strategy)
