"""Malformed HTTP for the property tests of every public server (issue 12).

Requests are written to a real socket, byte for byte (no client library tidies
them up), and each must get a status below 500; the logs written meanwhile must
stay few and short, with no traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scatter.daemon.logs import JsonFormatter

FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_LINE = 1000  # characters of one log line
RUN_LINES = 20  # log lines of a whole run of FUZZ_SETTINGS examples: repeated errors are rate-limited
BIG = "9" * 77  # beyond uint256 and SQLite's integers

_SEGMENTS = st.one_of(
    st.text(st.characters(exclude_characters="\r\n\x00 ?#", exclude_categories=["Cs"]), max_size=24),
    st.sampled_from(
        [
            "%00",
            "%",
            "%zz",
            "%2F",
            "..",
            ".",
            "",
            "m",
            "Qm",
            "f01",
            "bafkqaaa",
            "-1",
            "0",
            BIG,
            "1e9",
            "\u0663",
            "\u00b2",
            "ranges",
            "car",
            "slots",
            "range",
            "\U0001f4a9",
        ]
    ),
    st.integers(-(2**70), 2**70).map(str),
)
_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60),
    st.sampled_from(
        [
            "4" * 400,
            str(2**64 + 5),
            "-1",
            "0",
            "",
            "application/vnd.ipld.raw",
            "application/vnd.ipld.car; version=1; order=dfs; dups=y",
            "*/*;q=0",
            "only-if-cached",
            'W/"x", *',
            "0x" + "ab" * 65,
            "0x" + "00" * 32,
            "http://evil.example",
            "bytes=0-1",
        ]
    ),
)
_HEADER_NAMES = st.sampled_from(
    [
        "accept",
        "cache-control",
        "if-none-match",
        "content-type",
        "origin",
        "range",
        "x-scatter-expires",
        "x-scatter-signature",
        "x-scatter-car-sha256",
        "access-control-request-method",
        "x-forwarded-for",
        "expect",
        "connection",
        "upgrade",
        "x-junk",
    ]
)
_QUERY_KEYS = st.sampled_from(
    ["format", "dag-scope", "entity-bytes", "car-dups", "car-order", "from", "limit", "x"]
)
_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["fromEpoch", "toEpoch", "dealId", "ranges", "x"]), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
_BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=512),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n),  # deeper than the JSON parser goes
    st.sampled_from(
        [
            b'{"fromEpoch": 1e400, "toEpoch": 2}',
            b'{"ranges": [{"dealId": 1, "fromEpoch": 0, "toEpoch": ' + str(2**70).encode() + b"}]}",
            b"\xff\xfe",
        ]
    ),
)


@dataclass(frozen=True)
class RawRequest:
    method: str
    target: bytes
    headers: tuple[tuple[str, str], ...]
    body: bytes
    host: str | None = None  # None: the server's own host:port


def _target(prefix: str, segments: list[str], query: list[tuple[str, str]], raw: bool) -> bytes:
    path = prefix + "/".join(segments)
    path = path if raw else quote(path, safe="/%:@!$&'()*+,;=~")
    text = path + (
        "?" + "&".join(f"{quote(k, safe='%')}={quote(v, safe='%:')}" for k, v in query) if query else ""
    )
    return text.encode("utf-8", "surrogatepass")


def requests(
    prefixes: Sequence[str], methods: Sequence[str] = ("GET", "HEAD", "PUT", "POST")
) -> st.SearchStrategy[RawRequest]:
    """Requests for paths under ``prefixes``, with random segments, query, headers and body."""
    queries = st.lists(st.tuples(_QUERY_KEYS, _VALUES.map(lambda v: v[:40])), max_size=3)
    return st.builds(
        lambda method, prefix, segs, query, raw, headers, body, host: RawRequest(
            method, _target(prefix, segs, query, raw), tuple(headers), body, host
        ),
        st.one_of(st.sampled_from(list(methods)), st.sampled_from(["DELETE", "OPTIONS", "PATCH", "BREW"])),
        st.sampled_from(list(prefixes)),
        st.lists(_SEGMENTS, max_size=6),
        queries,
        st.booleans(),
        st.lists(st.tuples(_HEADER_NAMES, _VALUES), max_size=5),
        _BODIES,
        st.one_of(
            st.none(), st.none(), st.sampled_from(["evil.example", "localhost", "", "[::1]:1", "a:b:c"])
        ),
    )


def send_raw(url: str, request: RawRequest, timeout: float = 60.0) -> tuple[int, bytes]:
    """Send ``request`` on a new connection; the status (0: no response) and the response bytes."""
    hostport = url.split("://", 1)[1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    head = [request.method.encode() + b" " + (request.target or b"/") + b" HTTP/1.1"]
    head.append(b"host: " + (hostport if request.host is None else request.host).encode("latin-1"))
    for name, value in request.headers:
        head.append(name.encode() + b": " + value.encode("latin-1"))
    head += [b"content-length: " + str(len(request.body)).encode(), b"connection: close"]
    chunks = []
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # answered before the whole body
            sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + request.body)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    response = b"".join(chunks)
    parts = response.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else 0
    return status, response


class _Lines(logging.Handler):
    """Lines as the daemons write them (JSON with the structured fields), plus any traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.json.format(record)
        if record.exc_info:
            line += "\n" + self.json.formatException(record.exc_info)
        self.lines.append(line)


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every log line written meanwhile (tracebacks included), from our loggers and uvicorn's."""
    handler = _Lines()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    loggers += [lg for lg in (logging.getLogger("scatter"),) if not lg.propagate]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


def assert_logs_bounded(lines: list[str], max_lines: int) -> None:
    """Few lines, each short, none with a traceback."""
    assert len(lines) <= max_lines, f"{len(lines)} log lines: {lines[:5]}"
    for line in lines:
        assert "Traceback" not in line, line[:2000]
        assert len(line) <= MAX_LINE, line[:2000]


def fuzz(url: str, strategy: st.SearchStrategy[RawRequest]) -> None:
    """FUZZ_SETTINGS examples of ``strategy`` sent to ``url``: each answered below 500, few log lines."""

    @FUZZ_SETTINGS
    @given(request=strategy)
    def check(request: RawRequest) -> None:
        with captured_logs() as lines:
            status, response = send_raw(url, request)
        assert 0 < status < 500, (request, response[:300])
        assert_logs_bounded(lines, max_lines=6)  # at most one line per kind of error

    with captured_logs() as run:
        check()
    assert_logs_bounded(run, max_lines=RUN_LINES)
