"""The dapp's TypeScript formats (dapp/src/formats, dapp/src/pipeline) against the Python ones.

``make test`` runs the vitest suite (the committed vectors, in Node) through
:func:`test_vitest_suite`, and :func:`test_ts_and_python_pipelines_agree` encodes one random file
with both pipelines (same key and salt) and decodes each one's CARs with the other: the shard
bytes, CIDs, CARs and possession roots must be identical, and both decodes must give the file back.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scatter.formats.carshard import open_car_shard
from scatter.formats.params import ErasureParams
from scatter.formats.pipeline import ShardSink, decrypt_shards, encode_stream
from scatter.ipfs.cid import cid_str
from scatter.protocol.upload import CarUpload
from tests.wasm_build import needs_clang_14

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

DAPP = Path(__file__).resolve().parents[2] / "dapp"
VITEST = DAPP / "node_modules" / ".bin" / "vitest"
K, N, BLOCK, SEGMENT = 3, 6, 256 * 1024, 64 * 1024
#: anvil's first dev account, and a Market address: only to sign and recover a push here.
PUSH_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PUSH_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
MARKET, CHAIN_ID = "0x5FbDB2315678afecb367f032d93F642f64180aa3", 31337


def _vitest(*args: str, env: dict[str, str] | None = None) -> str:
    if not VITEST.exists():
        pytest.fail(f"{VITEST} is missing: run `npm ci` in dapp/ (make test installs it)")
    proc = subprocess.run(
        [str(VITEST), "run", "--testTimeout=300000", *args],
        cwd=DAPP,
        env={**os.environ, "NO_COLOR": "1", "CI": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=1500,  # a bound only: a loaded machine runs Node slowly
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def test_vitest_suite() -> None:
    """Every TypeScript format against the committed vectors (tests/testdata), in Node."""
    output = _vitest()
    assert " failed" not in output


@needs_clang_14
def test_committed_dapp_wasm_is_what_build_sh_builds(tmp_path: Path) -> None:
    """dapp/wasm/scatter.wasm (zfec + the SIMD possession tree) is reproducible from its sources."""
    built = tmp_path / "scatter.wasm"
    env = {**os.environ, "SCATTER_WASM_OUT": str(built)}
    subprocess.run([str(DAPP / "wasm" / "build.sh")], env=env, check=True, timeout=300)
    assert built.read_bytes() == (DAPP / "wasm" / "scatter.wasm").read_bytes(), "stale: run make dapp-wasm"


def _bench_data(size: int) -> bytes:
    """dapp/test/bench/bench.ts's generate(): xorshift32 words, little-endian, the tail zero."""
    words = []
    x = 0x9E3779B9
    for _ in range(size // 4):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        words.append(x)
    body = struct.pack(f"<{len(words)}I", *words)
    return body + bytes(size - len(body))


def test_chromium_encodes_as_python_in_workers_and_on_one_thread(tmp_path: Path, browser: Any) -> None:
    """encodeFile in Chromium (WebCrypto, wasm; shards hashed in Web Workers, then on the page's
    thread) gives the shards, CIDs, CARs and possession roots of the Python pipeline."""
    from scatter.bench.dapp import bench_page

    with bench_page(browser) as page:
        result = page.evaluate("() => window.checkWorkers()")
    assert result["used"] == 2, "the shards were not hashed in Web Workers"
    assert result["same"], result
    data = _bench_data(3 * 1024 * 1024 + 12345)
    erasure = ErasureParams(k=3, n=5, block_size=256 * 1024)
    with contextlib.ExitStack() as stack:
        cars = [stack.enter_context((tmp_path / f"{i}.car").open("w+b")) for i in range(erasure.n)]
        sinks = [ShardSink(car=car) for car in cars]
        py = encode_stream(
            io.BytesIO(data),
            len(data),
            sinks,
            key=bytes([7]) * 32,
            erasure=erasure,
            segment_size=64 * 1024,
            salt=bytes([9]) * 16,
        )
    expected = [
        f"{i} {cid_str(cid)} 0x{(py.roots[i] or b'').hex()} {py.shard_sizes[i]} "
        f"{hashlib.sha256((tmp_path / f'{i}.car').read_bytes()).hexdigest()}"
        for i, cid in enumerate(py.cids)
    ]
    assert result["local"] == expected


def test_ts_and_python_pipelines_agree(tmp_path: Path) -> None:
    data = secrets.token_bytes(3 * 1024 * 1024 + 4321)
    (tmp_path / "input.bin").write_bytes(data)
    key, salt = secrets.token_bytes(32), secrets.token_bytes(16)
    erasure = ErasureParams(k=K, n=N, block_size=BLOCK)

    with contextlib.ExitStack() as stack:
        cars = [stack.enter_context((tmp_path / f"py-{i}.car").open("w+b")) for i in range(N)]
        sinks = [ShardSink(car=car) for car in cars]
        with (tmp_path / "input.bin").open("rb") as f:
            py = encode_stream(f, len(data), sinks, key=key, erasure=erasure, segment_size=SEGMENT, salt=salt)
    py_cids = [cid_str(c) for c in py.cids]
    # The TS side decodes from two parity shards and one data shard of the Python's CARs.
    use = [0, 4, 5]
    spec = {
        "k": K,
        "n": N,
        "block_size": BLOCK,
        "segment_size": SEGMENT,
        "key": key.hex(),
        "salt": salt.hex(),
        "python": [{"index": i, "cid": py_cids[i]} for i in use],
        "push": {"private_key": PUSH_KEY, "chain_id": CHAIN_ID, "market": MARKET},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    _vitest("test/crosscheck.test.ts", env={"SCATTER_XCHECK_DIR": str(tmp_path)})

    ts = json.loads((tmp_path / "ts-encoded.json").read_text())
    assert ts["sha256"] == hashlib.sha256(data).hexdigest()
    assert ts["ciphertext_length"] == py.ciphertext_length
    assert [s["cid"] for s in ts["shards"]] == py_cids
    assert [s["root"] for s in ts["shards"]] == ["0x" + r.hex() for r in py.roots if r is not None]
    assert [s["size"] for s in ts["shards"]] == list(py.shard_sizes)
    for i in range(N):
        py_car = (tmp_path / f"py-{i}.car").read_bytes()
        assert (tmp_path / f"ts-{i}.car").read_bytes() == py_car, f"CAR of shard {i} differs"
        assert ts["shards"][i]["car_sha256"] == hashlib.sha256(py_car).hexdigest()
    assert (tmp_path / "ts-decoded.bin").read_bytes() == data

    # A push signed in TS is the CarUpload the hoster checks in Python.
    push = ts["push"]
    upload = CarUpload(
        bid_id=push["bid_id"],
        slot=push["slot"],
        root=bytes(py.cids[2]),
        car_sha256=bytes.fromhex(ts["shards"][2]["car_sha256"]),
        car_size=push["car_size"],
        expires=push["expires"],
    )
    assert upload.signer(bytes.fromhex(push["signature"][2:]), CHAIN_ID, MARKET) == PUSH_ADDRESS

    # The Python decodes the TS CARs from the parity shards only.
    with contextlib.ExitStack() as stack:
        streams = [
            stack.enter_context(open_car_shard(tmp_path / f"ts-{i}.car", py_cids[i])) for i in (3, 4, 5)
        ]
        out = stack.enter_context((tmp_path / "py-decoded.bin").open("wb"))
        decrypt_shards(streams, key, out, expected_sha256=hashlib.sha256(data).digest())
    assert (tmp_path / "py-decoded.bin").read_bytes() == data
