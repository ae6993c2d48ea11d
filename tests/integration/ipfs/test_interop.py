"""Interop with independent IPFS implementations on Node 22 (npm): Helia 7 fetching
from our gateway, the `ipfs-car` tool reading our CARs and writing CARs we read,
and `ipfs-unixfs-importer` computing the same CIDs as our importer.

Everything runs on 127.0.0.1; Helia has no libp2p, bootstrap or delegated routing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from scatter.ipfs import CarWriter, EmbeddedBlockStore, UnixFSImporter, export_bytes, import_bytes, read_car
from scatter.ipfs.gateway.server import GatewayServer

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location("ipfs_it_conftest", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)


def _node(script: str, *args: str, stdin: str | None = None, timeout: float = 90) -> str:
    proc = subprocess.run(
        ["node", str(_conf.JS / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_conf.node_env(),
        cwd=_conf.REPO,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _ipfs_car(*args: str) -> str:
    proc = subprocess.run(
        [str(_conf.NODE_BIN / "ipfs-car"), *args],
        capture_output=True,
        text=True,
        env=_conf.node_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("version", [1, 0])
def test_helia_fetches_a_multi_block_file_from_our_gateway(
    embedded_store: EmbeddedBlockStore, gateway: GatewayServer, version: int
) -> None:
    _conf.require_node_package("helia")
    data = os.urandom(5 * 262144 + 4321)
    root, blocks = import_bytes(data, cid_version=version)
    embedded_store.put_many(blocks)
    embedded_store.pin(root)
    out = json.loads(_node("helia_fetch.mjs", str(root), gateway.url))
    assert out == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_helia_fetches_again_after_idling_on_kept_alive_connections(
    embedded_store: EmbeddedBlockStore, gateway: GatewayServer
) -> None:
    """Repeated fetches across an idle gap longer than uvicorn's default 5 s keep-alive
    (Helia's `other side closed` under load came from the server closing pooled connections)."""
    _conf.require_node_package("helia")
    data = os.urandom(12 * 262144 + 1)
    root, blocks = import_bytes(data)
    embedded_store.put_many(blocks)
    embedded_store.pin(root)
    out = json.loads(_node("helia_fetch.mjs", "--repeat", "3", "--idle-ms", "6000", str(root), gateway.url))
    assert out == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_ipfs_car_unpacks_a_car_we_wrote_root_last(tmp_path: Path) -> None:
    _conf.require_node_package("ipfs-car")
    data = os.urandom(3 * 262144 + 99)
    car = tmp_path / "ours.car"
    with car.open("w+b") as f:  # root unknown until the end: placeholder header, rewritten
        writer = CarWriter(f)
        imp = UnixFSImporter()
        writer.write_blocks(imp.write(data))
        writer.write_blocks(imp.finish())
        writer.finish([imp.root])
    assert _ipfs_car("roots", str(car)).split() == [str(imp.root)]
    _ipfs_car("unpack", str(car), "--output", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == data


def test_we_read_a_car_that_ipfs_car_packed(tmp_path: Path) -> None:
    _conf.require_node_package("ipfs-car")
    data = os.urandom(2_500_000)
    src = tmp_path / "input.bin"
    src.write_bytes(data)
    car = tmp_path / "theirs.car"
    _ipfs_car("pack", str(src), "--no-wrap", "--output", str(car))
    store = EmbeddedBlockStore(tmp_path / "store", durable=False)
    with car.open("rb") as f:
        roots, blocks = read_car(f)
        assert sum(1 for _ in blocks) > 1  # every block verified while counting
    with car.open("rb") as f:
        assert store.import_car(f) == roots
    assert export_bytes(roots[0], store) == data


def test_the_npm_importer_computes_our_cids_live() -> None:
    _conf.require_node_package("ipfs-unixfs-importer")
    specs = [
        {"length": n, "pattern": "counter", "chunkSize": chunk, "maxLinks": links, "cidVersion": v}
        for (n, chunk, links) in [
            (0, 262144, 174),
            (262145, 262144, 174),
            (3 * 7 * 7 + 1, 7, 7),
            (1000, 3, 5),
        ]
        for v in (0, 1)
    ]
    theirs = json.loads(_node("unixfs_cids.mjs", stdin=json.dumps(specs)))
    pattern = bytes(i % 251 for i in range(251))
    for spec, cid in zip(specs, theirs, strict=True):
        keys = ("length", "cidVersion", "chunkSize", "maxLinks")
        length, version, chunk, links = (int(spec[k]) for k in keys)
        data = (pattern * (length // 251 + 1))[:length]
        ours, _ = import_bytes(data, version, chunk, links)
        assert str(ours) == cid, spec
