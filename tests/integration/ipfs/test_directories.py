"""Directories as Kubo's `ipfs add -r`: CIDs checked against two independent implementations
(ipfs-unixfs-importer configured as Kubo, and Helia's @helia/unixfs), HAMT sharding over
256 KiB included; and exported back (the CLI's `scatter ipfs get -o DIR`, the gateway's CARs)."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from scatter.cli import app
from scatter.ipfs import MemoryBlockStore, read_car
from scatter.ipfs.dagpb import UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.directory import import_directory
from scatter.ipfs.exporter import export_tree, iter_directory
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location("ipfs_it_conftest", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)

runner = CliRunner()
SHARDED_ENTRIES = 7000  # name (10 bytes) + CID (34 or 36 bytes) each: over 256 KiB in both versions


def _theirs(tree: Path, version: int, via: str = "importer") -> str:
    args = ["node", str(_conf.JS / "unixfs_dir_cids.mjs"), str(tree), str(version)]
    proc = subprocess.run(
        [*args, "helia"] if via == "helia" else args,
        capture_output=True, text=True, env=_conf.node_env(), cwd=_conf.REPO, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def _small(root: Path) -> Path:
    tree = root / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "empty-dir").mkdir()
    (tree / "index.html").write_text("<h1>hello</h1>\n")
    (tree / "css" / "style.css").write_text("h1 { color: red }\n")
    (tree / "css" / "empty.css").write_bytes(b"")
    (tree / "big.bin").write_bytes(os.urandom(3 * 262144 + 17))  # a multi-block file
    (tree / ".hidden").write_text("skipped, as ipfs add -r skips it\n")
    return tree


def _sharded(root: Path) -> Path:
    tree = root / "many"
    (tree / "sub").mkdir(parents=True)
    for i in range(SHARDED_ENTRIES):
        (tree / "sub" / f"f{i:05d}.txt").write_text(str(i))
    (tree / "readme.txt").write_text("a directory large enough that Kubo shards it\n")
    return tree


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trees")
    return {"small": _small(root), "sharded": _sharded(root)}


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("tree", ["small", "sharded"])
def test_directory_cids_match_ipfs_unixfs_importer(trees: dict[str, Path], tree: str, version: int) -> None:
    _conf.require_node_package("ipfs-unixfs-importer")
    ours = import_directory(trees[tree], cid_version=version).root
    assert str(ours) == _theirs(trees[tree], version)


@pytest.mark.parametrize("version", [0, 1])
def test_directory_cids_match_helia(trees: dict[str, Path], version: int) -> None:
    _conf.require_node_package("@helia/unixfs")
    for tree in trees.values():
        assert str(import_directory(tree, cid_version=version).root) == _theirs(tree, version, "helia")


def test_a_large_directory_is_a_hamt_and_a_small_one_is_not(trees: dict[str, Path]) -> None:
    store = MemoryBlockStore()
    root = import_directory(trees["sharded"], store.put).root
    entries = dict(iter_directory(root, store))
    sub = decode_node(store.get(entries["sub"]))
    assert decode_unixfs(sub.data or b"").type is UnixFSType.HAMT_SHARD
    assert decode_unixfs(sub.data or b"").fanout == 256
    assert len(dict(iter_directory(entries["sub"], store))) == SHARDED_ENTRIES
    top = decode_node(store.get(root))
    assert decode_unixfs(top.data or b"").type is UnixFSType.DIRECTORY


def _same_tree(a: Path, b: Path) -> None:
    proc = subprocess.run(["diff", "-r", "-x", ".hidden", str(a), str(b)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[:2000]


@pytest.mark.parametrize("tree", ["small", "sharded"])
def test_cli_adds_a_directory_like_kubo_and_gets_it_back(
    trees: dict[str, Path], tree: str, tmp_path: Path
) -> None:
    store = ["--store", str(tmp_path / "store")]
    refused = runner.invoke(app, ["ipfs", "add", str(trees[tree]), *store])
    assert refused.exit_code != 0 and "-r" in str(refused.exception)
    added = runner.invoke(
        app, ["ipfs", "add", "-r", str(trees[tree]), "--cid-version", "0", *store, "--json"]
    )
    assert added.exit_code == 0, added.output
    cid = json.loads(added.stdout)["cid"]
    assert cid == str(import_directory(trees[tree], cid_version=0).root)
    shown = runner.invoke(app, ["cid", str(trees[tree]), "--cid-version", "0"])
    assert shown.stdout.strip() == cid
    got = runner.invoke(app, ["ipfs", "get", cid, "-o", str(tmp_path / "back"), *store])
    assert got.exit_code == 0, got.output
    _same_tree(trees[tree], tmp_path / "back")


def test_the_gateway_serves_a_directory_dag_that_exports_back(trees: dict[str, Path], tmp_path: Path) -> None:
    store = MemoryBlockStore()
    root = import_directory(trees["small"], store.put).root
    with GatewayServer(create_gateway_app(store)) as server:
        r = httpx.get(f"{server.url}/ipfs/{root}", params={"format": "car"}, timeout=30)
        css = httpx.get(f"{server.url}/ipfs/{root}/css/style.css", params={"format": "car"}, timeout=30)
    assert r.status_code == 200 and css.status_code == 200
    fetched = MemoryBlockStore()
    _roots, blocks = read_car(io.BytesIO(r.content))
    fetched.put_many(blocks)
    export_tree(root, fetched, tmp_path / "out")
    _same_tree(trees["small"], tmp_path / "out")


def test_get_archive_streams_a_directory_as_a_tar_to_stdout(trees: dict[str, Path], tmp_path: Path) -> None:
    import sys
    import tarfile

    store = ["--store", str(tmp_path / "store")]
    added = runner.invoke(app, ["ipfs", "add", "-r", str(trees["small"]), *store, "--json"])
    cid = json.loads(added.stdout)["cid"]
    cmd = [sys.executable, "-m", "scatter.cli", "ipfs", "get", cid, "-a", "-o", "-", *store]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(proc.stdout), mode="r|") as tar:
        tar.extractall(tmp_path / "untarred", filter="data")
    _same_tree(trees["small"], tmp_path / "untarred" / cid)
