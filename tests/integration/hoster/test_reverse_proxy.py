"""The shipped reverse-proxy configs (docker/proxy/) run as they are, with the real nginx and Caddy
binaries, over TLS in front of a real hoster: signed uploads over nginx's default 1 MiB body cap
stream through, CIDs come back byte for byte and uncompressed, ``/metrics`` stays private.

Each proxy listens on 127.0.0.1 on a free port with a certificate of a CA made here; its config is
the shipped file with only the name, the certificate, the listening address and the upstream port
replaced (see :func:`nginx_conf` and :func:`caddyfile`). ``make test`` unpacks Debian's nginx and
caddy packages into build/proxies (``make proxies``: not installed, so no service starts); a
missing binary fails the test, it is not skipped.
"""

from __future__ import annotations

import datetime
import http.client
import io
import ipaddress
import os
import re
import select
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scatter.chain.anvil import free_port
from scatter.hoster.daemon import HosterThread
from scatter.ipfs.block import verify_block
from scatter.ipfs.car import read_car
from scatter.ipfs.cid import cid_str
from scatter.ipfs.unixfs import import_bytes
from scatter.protocol.upload import upload_path
from tests.conftest import Chain
from tests.integration.hoster.conftest import (
    Content,
    make_content,
    post_bid,
    upload_headers,
    wait_slot,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PROXY_DIR = REPO / "docker" / "proxy"
SHIPPED = {"nginx": PROXY_DIR / "nginx-site.conf", "caddy": PROXY_DIR / "Caddyfile"}
UNPACKED = REPO / "build" / "proxies"  # `make proxies`: Debian's packages, unpacked
BINARIES = {"nginx": UNPACKED / "usr/sbin/nginx", "caddy": UNPACKED / "usr/bin/caddy"}
NAME = "hoster.example.net"  # the shipped files' placeholder name
UPSTREAM = "127.0.0.1:8080"  # the shipped files' hoster address
DAY, SKEW = datetime.timedelta(days=1), datetime.timedelta(minutes=5)
H = 2  # the hoster's dev account
NGINX_BODY_CAP = 1 << 20  # nginx's default client_max_body_size
RAW, CAR = "application/vnd.ipld.raw", "application/vnd.ipld.car"


# ------------------------------------------------------------ certificates


@dataclass(frozen=True)
class Tls:
    ca: Path  # what clients trust
    cert: Path  # the server's certificate for 127.0.0.1, signed by the CA
    key: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_tls(directory: Path) -> Tls:
    """A throw-away CA and a certificate it signs for 127.0.0.1 (what the test connects to)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scatter test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - SKEW)
        .not_valid_after(now + DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "proxy")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - SKEW).not_valid_after(now + DAY)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    tls = Tls(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    tls.ca.write_bytes(_pem(ca))
    tls.cert.write_bytes(_pem(leaf))
    tls.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tls


# ------------------------------------------------------------ configs derived from the shipped files


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with its one ``old`` replaced: a shipped file that no longer has it fails here."""
    assert text.count(old) == 1, f"expected one {old!r} in the shipped config"
    return text.replace(old, new)


def nginx_conf(shipped: str, *, port: int, upstream: int, tls: Tls, prefix: Path) -> str:
    """A whole nginx.conf around the shipped server block, with every path of its own in ``prefix``."""
    server = replace_once(shipped, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")  # loopback, free port
    # The test's certificate instead of Let's Encrypt's (the name stays: this is the only server).
    server = replace_once(server, f"/etc/letsencrypt/live/{NAME}/fullchain.pem", str(tls.cert))
    server = replace_once(server, f"/etc/letsencrypt/live/{NAME}/privkey.pem", str(tls.key))
    server = replace_once(
        server, f"proxy_pass http://{UPSTREAM};", f"proxy_pass http://127.0.0.1:{upstream};"
    )  # the test's hoster
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                            "uwsgi", "scgi"))  # fmt: skip
    # What Debian's /etc/nginx/nginx.conf provides around a site, with every path in ``prefix``.
    # Root (as in a container) keeps the workers root: nobody could not read the test's files.
    return f"""{"user root;" if os.geteuid() == 0 else ""}
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"};
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    # Compression on for every type, as an operator's http block may set it: the site's `gzip off`
    # must keep the gateway's bytes as they are.
    gzip on;
    gzip_types *;
{server}
}}
"""


def caddyfile(shipped: str, *, port: int, upstream: int, tls: Tls) -> str:
    """The shipped Caddyfile with the test's address and certificate, and global options for offline."""
    # The site's name becomes the test's address; the test's certificate replaces Let's Encrypt's.
    site = replace_once(shipped, f"{NAME} {{", f"127.0.0.1:{port} {{\n\ttls {tls.cert} {tls.key}")
    site = replace_once(
        site, f"reverse_proxy {UPSTREAM} {{", f"reverse_proxy 127.0.0.1:{upstream} {{"
    )  # the test's hoster
    # admin off: no admin API (it would listen on the fixed localhost:2019); disable_redirects: no
    # HTTP->HTTPS redirect server on port 80; default_bind: listen on loopback only.
    return "{\n\tadmin off\n\tauto_https disable_redirects\n\tdefault_bind 127.0.0.1\n}\n\n" + site


# ------------------------------------------------------------ running the proxies


@dataclass
class Proxy:
    kind: str
    url: str
    tls: Tls
    proc: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls.context(), timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # nginx: fast shutdown; caddy: graceful stop
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def binary(kind: str) -> str:
    path = BINARIES[kind]
    if shutil.which(path) is None:
        pytest.fail(f"{path} is missing: `make test` unpacks Debian's {kind} there (`make proxies`)")
    return str(path)


def start_proxy(kind: str, upstream_url: str, tmp: Path) -> Proxy:
    """``kind`` (nginx or caddy) on a free loopback port in front of ``upstream_url``, ready."""
    exe = binary(kind)
    directory = tmp / kind
    directory.mkdir()
    tls = make_tls(directory)
    port, upstream = free_port(), int(upstream_url.rsplit(":", 1)[1])
    text, output = SHIPPED[kind].read_text(), directory / "output.log"
    log = directory / "error.log"  # nginx's (caddy logs to its output)
    if kind == "nginx":
        conf = directory / "nginx.conf"
        conf.write_text(nginx_conf(text, port=port, upstream=upstream, tls=tls, prefix=directory))
        cmd = [exe, "-p", str(directory), "-c", str(conf), "-e", str(log), "-g", "daemon off;"]
        env = dict(os.environ)
    else:
        conf = directory / "Caddyfile"
        conf.write_text(caddyfile(text, port=port, upstream=upstream, tls=tls))
        cmd = [exe, "run", "--config", str(conf), "--adapter", "caddyfile"]
        env = {**os.environ, "HOME": str(directory), "XDG_DATA_HOME": str(directory / "data"),
               "XDG_CONFIG_HOME": str(directory / "config")}  # fmt: skip
    with output.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, cwd=directory)
    proxy = Proxy(kind, f"https://127.0.0.1:{port}", tls, proc)

    def up() -> bool:
        if proc.poll() is not None:
            logs = output.read_text() + (log.read_text() if log.exists() else "")
            raise AssertionError(f"{kind} exited at start: {logs[-2000:]}")
        try:
            with proxy.client() as c:
                return c.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, timeout=60, what=f"{kind} to answer over TLS")
    except BaseException:
        proxy.stop()
        raise
    return proxy


@pytest.fixture(params=["nginx", "caddy"])
def proxy_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    binary(kind)
    return kind


@pytest.fixture()
def proxied(
    proxy_kind: str, start_hoster: Callable[..., HosterThread], tmp_path: Path
) -> Iterator[tuple[HosterThread, Proxy]]:
    """A hoster, and the shipped config of ``proxy_kind`` running in front of it."""
    h = start_hoster(H)
    proxy = start_proxy(proxy_kind, h.url, tmp_path)
    yield h, proxy
    proxy.stop()


# ------------------------------------------------------------ the tests


def spooled(h: HosterThread, bid_id: int) -> bool:
    """The hoster has received some of the slot's upload (its spool file holds bytes)."""
    tmp = h.hoster.config.state_dir / "tmp"
    return tmp.exists() and any(p.stat().st_size > 0 for p in tmp.glob(f"upload-{bid_id}-0-*.car"))


def early_answer(sock: ssl.SSLSocket) -> bytes | None:
    """What the server has sent on ``sock`` so far (None: nothing; a TLS ticket is not an answer)."""
    if not sock.pending() and not select.select([sock], [], [], 0)[0]:
        return None
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(4096) or b"(connection closed)"
    except ssl.SSLWantReadError:
        return None
    finally:
        sock.settimeout(timeout)


def streamed_upload(
    proxy: Proxy, chain: Chain, h: HosterThread, bid_id: int, content: Content
) -> tuple[int, str]:
    """PUT the signed CAR through the proxy in two halves: the second is sent only once the hoster
    has received bytes of the first, which a proxy that buffers request bodies never lets happen.
    A proxy that answers before the end (413: a body cap) fails here with its answer."""
    d = chain.deployment
    headers = upload_headers(bid_id, 0, content.cid_bytes, content.car, key=chain.account(1).key,
                             chain_id=d.chain_id, market=d.market)  # fmt: skip
    half = len(content.car) // 2
    conn = http.client.HTTPSConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]), timeout=60,
                                       context=proxy.tls.context())  # fmt: skip
    try:
        conn.putrequest("PUT", upload_path(bid_id, 0))
        for name, value in {**headers, "Content-Length": str(len(content.car))}.items():
            conn.putheader(name, value)
        conn.endheaders(content.car[:half])
        assert isinstance(conn.sock, ssl.SSLSocket)
        sock = conn.sock
        early = wait_until(lambda: spooled(h, bid_id) or early_answer(sock), timeout=30,
                           what="the hoster to get bytes before the upload's end")  # fmt: skip
        if early is not True:
            raise AssertionError(f"the proxy answered before the upload's end: {early!r:.200}")
        conn.send(content.car[half:])
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def test_a_signed_upload_over_1_mib_streams_through_the_proxy_and_comes_back_byte_for_byte(
    chain: Chain, proxied: tuple[HosterThread, Proxy]
) -> None:
    h, proxy = proxied
    content = make_content(os.urandom(3 * NGINX_BODY_CAP // 2))  # 1.5 MiB: a DAG of 6 leaves
    assert len(content.car) > NGINX_BODY_CAP
    bid_id = post_bid(chain, [content])
    wait_slot(h, bid_id, "reserved")
    status, text = streamed_upload(proxy, chain, h, bid_id, content)
    assert status == 200, text
    wait_slot(h, bid_id, "filled")

    cid = cid_str(content.cid)
    got: dict[str, bytes] = {}
    with proxy.client() as c, httpx.Client(base_url=h.url, timeout=60) as direct:
        for accept in (RAW, CAR):
            headers = {"Accept": accept, "Accept-Encoding": "gzip"}
            resp, want = c.get(f"/ipfs/{cid}", headers=headers), direct.get(f"/ipfs/{cid}", headers=headers)
            assert resp.status_code == 200, resp.text
            assert "content-encoding" not in resp.headers, f"{accept}: {resp.headers['content-encoding']}"
            assert resp.content == want.content
            got[accept] = resp.content
    verify_block(content.cid, got[RAW])
    roots, blocks = read_car(io.BytesIO(got[CAR]))  # each block checked against its CID
    assert roots == [content.cid]
    assert {b.cid for b in blocks} == {b.cid for b in import_bytes(content.data, cid_version=1)[1]}


#: Spellings of /metrics the hoster answers (it decodes %6D to m): none may pass the proxy.
METRICS_PATHS = ("/metrics", "/metrics?x=1", "/%6Detrics")


def test_metrics_are_private_behind_the_proxy_and_healthz_is_public(
    proxied: tuple[HosterThread, Proxy],
) -> None:
    h, proxy = proxied
    with proxy.client() as c, httpx.Client(base_url=h.url, timeout=60) as direct:
        for path in METRICS_PATHS:
            assert "scatter_hoster_" in direct.get(path).text
            resp = c.get(path)
            assert resp.status_code == 404 and "scatter_hoster_" not in resp.text, (path, resp.status_code)
        health = c.get("/healthz")
    assert health.status_code == 200 and health.json()["address"] == h.hoster.address


# ------------------------------------------------------------ the guide shows the shipped files


def guide_snippets() -> dict[str, str]:
    """The fenced blocks of docs/operators.md that follow a line naming a docker/proxy/ file."""
    text = (REPO / "docs" / "operators.md").read_text()
    found = re.findall(r"`docker/proxy/([\w.-]+)`[^\n]*\n+```[a-z]*\n(.*?)```", text, flags=re.S)
    return dict(found)


def test_the_operators_guide_shows_the_shipped_proxy_configs_as_they_are() -> None:
    snippets = guide_snippets()
    assert set(snippets) == {p.name for p in SHIPPED.values()}
    for path in SHIPPED.values():
        assert snippets[path.name] == path.read_text(), f"docs/operators.md's copy of {path.name} differs"
