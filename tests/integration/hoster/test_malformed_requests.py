"""A running hoster's endpoint under malformed requests: a 4xx with one line, bounded logs (issue 12)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import pytest

from scatter.hoster.daemon import HosterThread
from scatter.protocol.upload import upload_path
from tests.conftest import Chain
from tests.http_fuzz import (
    BIG,
    RawRequest,
    assert_logs_bounded,
    captured_logs,
    fuzz,
    requests,
    send_raw,
)
from tests.integration.hoster.conftest import (
    CLIENT,
    Content,
    make_content,
    post_bid,
    slot_state,
    upload_headers,
    wait_slot,
)

pytestmark = pytest.mark.integration
H = 2


def _send(url: str, method: str, target: str, headers: dict[str, str] | None = None,
          body: bytes = b"") -> tuple[int, str]:  # fmt: skip
    request = RawRequest(method, target.encode(), tuple((headers or {}).items()), body)
    status, response = send_raw(url, request)
    return status, response.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", f"/scatter/v1/deals/{BIG}", 400),  # beyond SQLite's integers
        ("PUT", f"/scatter/v1/deals/{BIG}", 404),
        ("GET", f"/scatter/v1/deals/{2**63}", 400),
        ("GET", "/scatter/v1/deals/%C2%B2", 400),  # "²": a digit to str.isdigit, not to int()
        ("GET", f"/scatter/v1/bids/{BIG}/slots/0", 400),
        ("GET", "/scatter/v1/bids/1/slots/256", 400),
        ("PUT", f"/scatter/v1/bids/{BIG}/slots/0/car", 400),
        ("GET", "/ipfs/%00", 400),
        ("GET", "/ipfs/m//////////", 400),
    ],
)
def test_malformed_ids_and_cids_are_a_4xx_with_one_line(
    start_hoster: Callable[..., HosterThread], method: str, target: str, status: int
) -> None:
    h = start_hoster(H)
    with captured_logs() as lines:
        got, body = _send(h.url, method, target, {"accept": "application/vnd.ipld.raw"})
    assert got == status, body
    assert len(body.splitlines()) == 1 and "Traceback" not in body
    assert_logs_bounded(lines, max_lines=1)


def _signed(chain: Chain, bid_id: int, content: Content, signer: int) -> dict[str, str]:
    """Upload headers for slot 0 of the bid, signed by ``signer``'s key."""
    d = chain.deployment
    key = chain.account(signer).key
    return upload_headers(
        bid_id, 0, content.cid_bytes, content.car, key=key, chain_id=d.chain_id, market=d.market
    )


@pytest.mark.parametrize("expires", ["4" * 400, str(2**64 + 5), "-1", "1e9", "1_000", "\uff10"])
def test_an_upload_with_an_expiry_beyond_uint64_is_a_400(
    chain: Chain, start_hoster: Callable[..., HosterThread], expires: str
) -> None:
    h = start_hoster(H)
    content = make_content(os.urandom(3000))
    bid_id = post_bid(chain, [content])
    wait_slot(h, bid_id, "reserved")
    headers = _signed(chain, bid_id, content, CLIENT)
    headers = {k: (expires if k.lower() == "x-scatter-expires" else v) for k, v in headers.items()}
    headers = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}  # sent as UTF-8 bytes
    status, body = _send(h.url, "PUT", upload_path(bid_id, 0), headers, content.car)
    assert status == 400 and "X-Scatter-Expires" in body, body
    assert slot_state(h, bid_id) == "reserved"


def test_a_missing_block_is_a_404_that_does_not_name_the_store(
    start_hoster: Callable[..., HosterThread],
) -> None:
    h = start_hoster(H)
    missing = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    status, body = _send(h.url, "GET", f"/ipfs/{missing}?format=raw")
    assert status == 404 and str(h.hoster.config.state_dir) not in body and "/blocks" not in body, body


def test_no_request_gets_a_5xx_or_floods_the_log(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    content = make_content(os.urandom(3000))
    bid_id = post_bid(chain, [content])
    wait_slot(h, bid_id, "reserved")  # so that uploads to it reach the signature checks
    slot = f"/scatter/v1/bids/{bid_id}/slots/"
    prefixes = ["/scatter/v1/deals/", slot, slot + "0/", upload_path(bid_id, 0), "/ipfs/", "/ipns/",
                "/healthz", "/metrics", "/"]  # fmt: skip

    fuzz(h.url, requests(prefixes, methods=("GET", "HEAD", "PUT", "PUT")))
    assert slot_state(h, bid_id) == "reserved"


def test_a_flood_of_badly_signed_uploads_costs_a_few_log_lines(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    content = make_content(os.urandom(3000))
    bid_id = post_bid(chain, [content])
    wait_slot(h, bid_id, "reserved")
    forged = _signed(chain, bid_id, content, CLIENT + 1)  # not the client
    with captured_logs() as lines:
        for _ in range(40):
            status, body = _send(h.url, "PUT", upload_path(bid_id, 0), forged, content.car)
            assert status == 403, body
    rejected = [line for line in lines if "upload rejected" in line]
    assert 1 <= len(rejected) <= 5
    assert_logs_bounded(lines, max_lines=5)


def test_an_upload_cut_midway_is_logged_in_one_line_and_the_slot_still_takes_the_next(
    chain: Chain, start_hoster: Callable[..., HosterThread]
) -> None:
    h = start_hoster(H)
    content = make_content(os.urandom(300_000))
    bid_id = post_bid(chain, [content])
    wait_slot(h, bid_id, "reserved")
    headers = _signed(chain, bid_id, content, CLIENT)
    head = f"PUT {upload_path(bid_id, 0)} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(content.car)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    host, port = h.url.removeprefix("http://").split(":")
    with captured_logs() as lines:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head.encode() + content.car[: len(content.car) // 2])
        status, body = _send(h.url, "PUT", upload_path(bid_id, 0), headers, content.car)
    assert status == 200, body
    assert sum("upload cut" in line for line in lines) == 1
    assert_logs_bounded(lines, max_lines=3)
