"""The ipfs/gateway-conformance trustless gateway cases, replayed against our gateway.

Fixtures: tests/testdata/gateway-conformance (CARs copied from the suite). Each case
below transcribes one test of the suite's ``tests/trustless_gateway_car_test.go`` or
``tests/trustless_gateway_raw_test.go``: the request, and the expected status,
headers and blocks (exactly, in order, where the Go test says ``Exactly().InThatOrder()``).
As the suite's ``StandardCARTestTransforms`` does, every ``format=car`` case is run
twice (with ``?format=car`` and with ``Accept: application/vnd.ipld.car``) and each
200 CAR response must carry the standard CAR headers. Names inside a fixture are
resolved here by scanning link names (HAMT shards included), independently of the
gateway's own path resolution, as the suite's fixture helpers do.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from scatter.ipfs import MemoryBlockStore, read_car
from scatter.ipfs.block import Block
from scatter.ipfs.cid import cid_bytes
from scatter.ipfs.dagpb import UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "testdata" / "gateway-conformance"


class Fixture:
    """One fixture CAR: its blocks, and the suite's ``MustGetCid``/``MustGetDescendantsCids``."""

    def __init__(self, name: str) -> None:
        with (FIXTURES / name).open("rb") as f:
            roots, blocks = read_car(f)
            self.blocks = {cid_bytes(b.cid): b for b in blocks}
        self.root = str(roots[0])

    def _block(self, cid: str) -> Block:
        from scatter.ipfs.cid import parse_cid

        return self.blocks[cid_bytes(parse_cid(cid))]

    def _entry(self, directory: str, name: str) -> str:
        node = decode_node(self._block(directory).data)
        assert node.data is not None
        if decode_unixfs(node.data).type is UnixFSType.HAMT_SHARD:
            for link in node.links:
                if link.name is not None and len(link.name) > 2 and link.name[2:] == name:
                    return str(link.cid)
            for link in node.links:  # sub-shards
                if link.name is not None and len(link.name) == 2:
                    try:
                        return self._entry(str(link.cid), name)
                    except KeyError:
                        continue
            raise KeyError(name)
        for link in node.links:
            if link.name == name:
                return str(link.cid)
        raise KeyError(name)

    def _shard_links(self, cid: str) -> list[str]:
        node = decode_node(self._block(cid).data)
        return [str(link.cid) for link in node.links if link.name is not None and len(link.name) == 2]

    def shards(self, *names: str) -> list[str]:
        """The sub-shards of a HAMT directory, depth-first (the suite's MustGetCidsInHAMT)."""
        out: list[str] = []

        def walk(cid: str) -> None:
            for shard in self._shard_links(cid):
                out.append(shard)
                walk(shard)

        walk(self.cid(*names))
        return out

    def shards_to(self, name: str) -> list[str]:
        """The sub-shards walked from the root to ``name`` (MustGetCIDsInHAMTTraversal), found by
        search, not by hashing."""

        def find(cid: str) -> list[str] | None:
            node = decode_node(self._block(cid).data)
            if any(link.name is not None and link.name[2:] == name for link in node.links):
                return []
            for shard in self._shard_links(cid):
                below = find(shard)
                if below is not None:
                    return [shard, *below]
            return None

        path = find(self.root)
        assert path is not None, name
        return path

    def cbor_field(self, cid: str, *keys: str) -> str:
        """The link at ``keys`` inside the dag-cbor block ``cid`` (MustGetCid through DAG-CBOR)."""
        from scatter.ipfs.car import decode_dag_cbor

        value = decode_dag_cbor(self._block(cid).data)
        for key in keys:
            assert isinstance(value, dict)
            value = value[key]
        return str(value)

    def cid(self, *names: str) -> str:
        cid = self.root
        for name in names:
            cid = self._entry(cid, name)
        return cid

    def descendants(self, *names: str) -> list[str]:
        """Every block below the node (not itself), depth-first, in link order."""
        out: list[str] = []

        def walk(cid: str) -> None:
            block = self._block(cid)
            if block.cid.codec.name != "dag-pb":
                return
            for link in decode_node(block.data).links:
                out.append(str(link.cid))
                walk(str(link.cid))

        walk(self.cid(*names))
        return out

    def raw(self, *names: str) -> bytes:
        return self._block(self.cid(*names)).data


TWO = Fixture("subdir-with-two-single-block-files.car")
MIXED = Fixture("subdir-with-mixed-block-files.car")
HAMT = Fixture("single-layer-hamt-with-multi-block-files.car")
DUPS = Fixture("dir-with-duplicate-files.car")
MISSING = Fixture("file-3k-and-3-blocks-missing-block.car")
RAW = Fixture("gateway-raw-block.car")
CBOR = Fixture("dir-with-dag-cbor-with-links.car")
FIXTURE_SET = (TWO, MIXED, HAMT, DUPS, MISSING, RAW, CBOR)
IDENTITY = "bafkqaf3imvwgy3zaneqgc3janfxgy2lomvscay3jmqfa"
# "defined at the SPEC level" in the suite (the recipe of dir-with-duplicate-files.car)
MULTIBLOCK = [
    "bafkreie5noke3mb7hqxukzcy73nl23k6lxszxi5w3dtmuwz62wnvkpsscm",
    "bafkreih4ephajybraj6wnxsbwjwa77fukurtpl7oj7t7pfq545duhot7cq",
    "bafkreigu7buvm3cfunb35766dn7tmqyh2um62zcio63en2btvxuybgcpue",
    "bafkreicll3huefkc3qnrzeony7zcfo7cr3nbx64hnxrqzsixpceg332fhe",
    "bafkreifst3pqztuvj57lycamoi7z34b4emf7gawxs74nwrc2c7jncmpaqm",
]


@dataclass
class Case:
    name: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    status: tuple[int, ...] = (200,)
    blocks: list[str] | None = None  # exactly these, in this order
    block_set: list[str] | None = None  # all of these, any order (the suite's order=unk smoke test)
    unordered: bool = False  # Exactly() without InThatOrder()
    expect_headers: dict[str, str] = field(default_factory=dict)  # name -> regex the value must match
    body: bytes | None = None
    standard_car: bool = False  # run with ?format=car and with Accept, check the standard CAR headers


def _car(name: str, path: str, blocks: list[str] | None, **query: str) -> Case:
    status = (200, 404) if blocks is None else (200,)  # the suite's AnyOf for a missing path
    return Case(name, path, {"format": "car", **query}, status=status, blocks=blocks, standard_car=True)


DFS_DUPS = "application/vnd.ipld.car; version=1; order=dfs; dups=y"
M = MIXED.cid("subdir", "multiblock.txt")
M_LEAVES = MIXED.descendants("subdir", "multiblock.txt")
CASES = [
    # TestTrustlessCarPathing
    _car("pathing through a UnixFS directory", f"/ipfs/{TWO.root}/subdir/ascii.txt",
         [TWO.root, TWO.cid("subdir"), TWO.cid("subdir", "ascii.txt")]),
    _car("file on a path through a HAMT-sharded directory", f"/ipfs/{HAMT.root}/685.txt",
         [HAMT.root, *HAMT.shards_to("685.txt"), HAMT.cid("685.txt"), *HAMT.descendants("685.txt")]),
    _car("file on a path with DAG-CBOR as the root CID", f"/ipfs/{CBOR.cid('document')}/files/single",
         [CBOR.cid("document"), CBOR.cbor_field(CBOR.cid("document"), "files", "single")]),
    _car("non-existing file: a partial CAR up to the parent, or 404",
         f"/ipfs/{TWO.root}/subdir/i-do-not-exist", None),
    # TestTrustlessCarDagScopeBlock
    _car("dag-scope=block of a directory on a path", f"/ipfs/{TWO.root}/subdir",
         [TWO.root, TWO.cid("subdir")], **{"dag-scope": "block"}),
    _car("dag-scope=block of a file on a path", f"/ipfs/{TWO.root}/subdir/ascii.txt",
         [TWO.root, TWO.cid("subdir"), TWO.cid("subdir", "ascii.txt")], **{"dag-scope": "block"}),
    _car("dag-scope=block of a file under a sharded directory", f"/ipfs/{HAMT.root}/1.txt",
         [HAMT.root, *HAMT.shards_to("1.txt"), HAMT.cid("1.txt")], **{"dag-scope": "block"}),
    # TestTrustlessCarDagScopeEntity
    _car("dag-scope=entity of a directory", f"/ipfs/{TWO.root}", [TWO.root], **{"dag-scope": "entity"}),
    _car("dag-scope=entity of a sharded directory", f"/ipfs/{HAMT.root}", [HAMT.root, *HAMT.shards()],
         **{"dag-scope": "entity"}),
    _car("dag-scope=entity of a file", f"/ipfs/{MIXED.root}/subdir/ascii.txt",
         [MIXED.root, MIXED.cid("subdir"), MIXED.cid("subdir", "ascii.txt")], **{"dag-scope": "entity"}),
    _car("dag-scope=entity of a chunked file", f"/ipfs/{MIXED.root}/subdir/multiblock.txt",
         [MIXED.root, MIXED.cid("subdir"), M, *M_LEAVES], **{"dag-scope": "entity"}),
    _car("dag-scope=entity of DAG-CBOR with links", f"/ipfs/{CBOR.root}/document",
         [CBOR.root, CBOR.cid("document")], **{"dag-scope": "entity"}),
    # TestTrustlessCarDagScopeAll
    _car("dag-scope=all of a directory with files", f"/ipfs/{MIXED.root}/subdir",
         [MIXED.root, MIXED.cid("subdir"), *MIXED.descendants("subdir")], **{"dag-scope": "all"}),
    _car("dag-scope=all of a chunked file", f"/ipfs/{MIXED.root}/subdir/multiblock.txt",
         [MIXED.root, MIXED.cid("subdir"), M, *M_LEAVES], **{"dag-scope": "all"}),
    # TestTrustlessCarEntityBytes
    _car("entity-bytes: a missing block after the range", f"/ipfs/{MISSING.root}",
         [MISSING.root, "QmPKt7ptM2ZYSGPUc8PmPT2VBkLDK3iqpG9TBJY7PCE9rF"],
         **{"dag-scope": "entity", "entity-bytes": "0:1000"}),
    _car("entity-bytes: a missing block before the range", f"/ipfs/{MISSING.root}",
         [MISSING.root, "QmWXY482zQdwecnfBsj78poUUuPXvyw2JAFAEMw4tzTavV"],
         **{"dag-scope": "entity", "entity-bytes": "2200:*"}),
    _car("entity-bytes of a full file", f"/ipfs/{MIXED.root}/subdir/multiblock.txt",
         [MIXED.root, MIXED.cid("subdir"), M, *M_LEAVES], **{"dag-scope": "entity", "entity-bytes": "0:*"}),
    _car("entity-bytes of a directory is ignored", f"/ipfs/{HAMT.root}", [HAMT.root, *HAMT.shards()],
         **{"dag-scope": "entity", "entity-bytes": "0:*"}),
    _car("entity-bytes from the middle to the end", f"/ipfs/{M}", [M, *M_LEAVES[2:]],
         **{"dag-scope": "entity", "entity-bytes": "512:*"}),
    _car("entity-bytes in the middle", f"/ipfs/{M}", [M, *M_LEAVES[2:4]],
         **{"dag-scope": "entity", "entity-bytes": "512:1023"}),
    _car("entity-bytes in the middle, negative end", f"/ipfs/{M}", [M, *M_LEAVES[2:4]],
         **{"dag-scope": "entity", "entity-bytes": "512:-256"}),
    _car("entity-bytes suffix", f"/ipfs/{M}", [M, *M_LEAVES[3:]],
         **{"dag-scope": "entity", "entity-bytes": "-5:*"}),
    _car("entity-bytes: negative range past the start", f"/ipfs/{M}", [M, *MULTIBLOCK],
         **{"dag-scope": "entity", "entity-bytes": "-9999:*"}),
    _car("entity-bytes: negative range past the start, explicit end", f"/ipfs/{M}", [M, *MULTIBLOCK[:4]],
         **{"dag-scope": "entity", "entity-bytes": "-9999:-3"}),
    _car("entity-bytes: the first byte", f"/ipfs/{M}", [M, M_LEAVES[0]],
         **{"dag-scope": "entity", "entity-bytes": "0:0"}),
    # TestTrustlessCarOrderAndDuplicates
    Case("order=dfs dups=y of a directory with duplicate files", f"/ipfs/{DUPS.root}",
         headers={"Accept": "application/vnd.ipld.car; version=1; order=dfs; dups=y"},
         blocks=[DUPS.root, DUPS.cid("ascii.txt"), DUPS.cid("ascii-copy.txt"), DUPS.cid("hello.txt"),
                 DUPS.cid("multiblock.txt"), *MULTIBLOCK],
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*order=dfs.*dups=y"}),
    Case("order=dfs dups=n of a directory with duplicate files", f"/ipfs/{DUPS.root}",
         headers={"Accept": "application/vnd.ipld.car; version=1; order=dfs; dups=n"},
         blocks=[DUPS.root, DUPS.cid("ascii.txt"), DUPS.cid("hello.txt"), DUPS.cid("multiblock.txt"),
                 *MULTIBLOCK],
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*order=dfs.*dups=n"}),
    Case("order=unk smoke test", f"/ipfs/{DUPS.root}",
         headers={"Accept": "application/vnd.ipld.car; version=1; order=unk"},
         block_set=[DUPS.root, DUPS.cid("ascii.txt"), DUPS.cid("hello.txt"), DUPS.cid("multiblock.txt"),
                    *MULTIBLOCK],
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*order="}),
    Case("identity CID: no block in the CAR, even with dups=y", f"/ipfs/{IDENTITY}",
         headers={"Accept": "application/vnd.ipld.car; dups=y"}, blocks=[],
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*dups=y"}),
    Case("?format=car respects the Accept header's order and dups", f"/ipfs/{DUPS.root}",
         query={"format": "car"}, headers={"Accept": DFS_DUPS},
         blocks=[DUPS.root, DUPS.cid("ascii.txt"), DUPS.cid("ascii-copy.txt"), DUPS.cid("hello.txt"),
                 DUPS.cid("multiblock.txt"), *MULTIBLOCK],
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*order=dfs.*dups=y"}),
    Case("?car-order=dfs takes precedence over order=unk in Accept", f"/ipfs/{DUPS.root}",
         query={"format": "car", "car-order": "dfs"},
         headers={"Accept": "application/vnd.ipld.car; order=unk"},
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*order=dfs"}),
    Case("?car-dups=y takes precedence over dups=n in Accept", f"/ipfs/{DUPS.root}",
         query={"format": "car", "car-dups": "y"}, headers={"Accept": "application/vnd.ipld.car; dups=n"},
         expect_headers={"content-type": r"application/vnd\.ipld\.car.*dups=y"}),
    # TestTrustlessCarFormatPrecedence
    Case("format=car takes precedence over the Accept header", f"/ipfs/{RAW.cid('dir')}",
         query={"format": "car"}, headers={"Accept": "application/vnd.ipld.raw"},
         expect_headers={"content-type": r"application/vnd\.ipld\.car"}),
    Case("format=raw takes precedence over the Accept header", f"/ipfs/{RAW.cid('dir')}",
         query={"format": "raw"}, headers={"Accept": "application/vnd.ipld.car"},
         expect_headers={"content-type": r"^application/vnd\.ipld\.raw$"}),
    # TestTrustlessRaw
    Case("format=raw returns a raw block", f"/ipfs/{RAW.cid('dir')}", query={"format": "raw"},
         body=RAW.raw("dir")),
    Case("Accept raw returns a raw block", f"/ipfs/{RAW.cid('dir')}",
         headers={"Accept": "application/vnd.ipld.raw"}, body=RAW.raw("dir")),
    Case("raw block response headers", f"/ipfs/{RAW.cid('dir', 'ascii.txt')}",
         headers={"Accept": "application/vnd.ipld.raw"}, body=RAW.raw("dir", "ascii.txt"),
         expect_headers={"content-type": r"^application/vnd\.ipld\.raw$",
                         "content-length": f"^{len(RAW.raw('dir', 'ascii.txt'))}$",
                         "content-disposition": "attachment;", "x-content-type-options": "^nosniff$"}),
    Case("raw block with ?filename=", f"/ipfs/{RAW.cid('dir', 'ascii.txt')}",
         query={"filename": "foobar.bin"},
         headers={"Accept": "application/vnd.ipld.raw"},
         expect_headers={"content-disposition": r'attachment;.*filename="foobar\.bin'}),
    Case("raw block caching headers", f"/ipfs/{RAW.cid('dir', 'ascii.txt')}",
         headers={"Accept": "application/vnd.ipld.raw"},
         expect_headers={"etag": ".", "x-ipfs-path": f"^/ipfs/{RAW.cid('dir', 'ascii.txt')}$",
                         "x-ipfs-roots": RAW.cid("dir", "ascii.txt"),
                         "cache-control": r"public.*max-age=29030400.*immutable|immutable.*public"}),
]  # fmt: skip

_STANDARD_CAR_HEADERS = {  # the suite's carResponseHeaders()
    "x-content-type-options": "^nosniff$",
    "accept-ranges": "^none$",
    "content-type": r"application/vnd\.ipld\.car",
    "content-disposition": r'attachment; filename=".*\.car"',
    "etag": ".",
}


def _variants() -> Iterator[tuple[str, Case, dict[str, str], dict[str, str]]]:
    for case in CASES:
        if case.standard_car:
            yield f"{case.name} (format=car)", case, case.query, case.headers
            accept_query = {k: v for k, v in case.query.items() if k != "format"}
            yield f"{case.name} (Accept)", case, accept_query, {"Accept": "application/vnd.ipld.car"}
        else:
            yield case.name, case, case.query, case.headers


VARIANTS = list(_variants())


@pytest.fixture(scope="module")
def gateway() -> Iterator[httpx.Client]:
    store = MemoryBlockStore()
    for fixture in FIXTURE_SET:
        store.put_many(fixture.blocks.values())
    with GatewayServer(create_gateway_app(store)) as server, httpx.Client(base_url=server.url) as client:
        yield client


@pytest.mark.parametrize(
    ("case", "query", "headers"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS]
)
def test_conformance_case(
    gateway: httpx.Client, case: Case, query: dict[str, str], headers: dict[str, str]
) -> None:
    r = gateway.get(case.path, params=query, headers=headers)
    assert r.status_code in case.status, r.text
    if r.status_code != 200:
        return
    expected = dict(case.expect_headers)
    if case.standard_car:
        expected.update(_STANDARD_CAR_HEADERS)
    for name, pattern in expected.items():
        assert re.search(pattern, r.headers.get(name, "")), f"{name}: {r.headers.get(name)!r} !~ {pattern!r}"
    if case.body is not None:
        assert r.content == case.body
    if case.blocks is None and case.block_set is None:
        return
    _roots, it = read_car(io.BytesIO(r.content))
    got = [str(b.cid) for b in it]
    if case.blocks is not None:
        assert got == case.blocks
    if case.block_set is not None:
        assert set(case.block_set) <= set(got)


def test_the_identity_cid_as_a_raw_block_is_its_digest(gateway: httpx.Client) -> None:
    from multiformats import CID

    r = gateway.get(f"/ipfs/{IDENTITY}", headers={"Accept": "application/vnd.ipld.raw"})
    assert r.status_code == 200
    assert r.content == bytes(CID.decode(IDENTITY).digest)


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({}, {}, 400),  # no Accept: the spec's strict trustless mode answers 400
        ({"Accept": "text/html"}, {}, 406),
        ({"Accept": "application/vnd.ipld.car; version=2"}, {}, 406),  # only CAR v1 is served
        ({"Accept": "application/vnd.ipld.car"}, {"car-version": "2"}, 406),
    ],
    ids=["no Accept", "unsupported Accept", "CAR v2 in Accept", "car-version=2"],
)
def test_negotiation_failures_get_the_spec_status(
    gateway: httpx.Client, headers: dict[str, str], query: dict[str, str], status: int
) -> None:
    request = gateway.build_request("GET", f"/ipfs/{TWO.root}", params=query, headers=headers)
    if "Accept" not in headers:
        del request.headers["Accept"]  # httpx sends */* unless told otherwise
    r = gateway.send(request)
    assert r.status_code == status, r.text
