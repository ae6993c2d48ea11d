"""A process killed (SIGKILL) in the middle of a CAR import leaves no pinned
partial DAG and no corrupt block in the embedded store."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scatter.ipfs import EmbeddedBlockStore, import_bytes, verify_block, write_car

pytestmark = pytest.mark.integration

IMPORTER = """
import sys
from scatter.ipfs import EmbeddedBlockStore
EmbeddedBlockStore(sys.argv[1], durable=True).import_car(sys.stdin.buffer)
"""


def test_sigkill_mid_import_leaves_no_pin_and_no_corrupt_block(tmp_path: Path) -> None:
    data = os.urandom(40 * 262144)
    root, blocks = import_bytes(data)
    car = io.BytesIO()
    write_car(car, [root], blocks)
    raw = car.getvalue()
    store_dir = tmp_path / "store"
    child = subprocess.Popen([sys.executable, "-c", IMPORTER, str(store_dir)], stdin=subprocess.PIPE)
    assert child.stdin is not None
    child.stdin.write(raw[: len(raw) // 2])  # half the CAR, then the importer waits for more
    child.stdin.flush()
    deadline = time.monotonic() + 120  # bounds a failure only: a loaded machine starts the child slowly
    blocks_dir = store_dir / "blocks"
    while time.monotonic() < deadline:
        if blocks_dir.exists() and sum(len(files) for _, _, files in os.walk(blocks_dir)) >= 10:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdin.close()

    store = EmbeddedBlockStore(store_dir)
    assert store.pins() == []
    held = list(store.iter_cids())
    assert len(held) >= 10
    by_digest = {bytes(b.cid.digest): b.cid for b in blocks}
    for cid in held:  # every block file present is complete and correct
        verify_block(by_digest[bytes(cid.digest)], store.get(cid))
    assert store.gc().removed_blocks == len(held)
    assert store.stat().block_count == 0
    assert list((store_dir / "tmp").iterdir()) == []


ADDER = """
import sys
import scatter.ipfs._blockwriter as bw
from scatter.ipfs import EmbeddedBlockStore
bw.COMMIT_BYTES = 262144  # a batch per block: renames happen while the input still flows
EmbeddedBlockStore(sys.argv[1], durable=True).add_file(sys.argv[2])
"""


def test_sigkill_mid_add_file_leaves_no_pin_and_no_corrupt_block(tmp_path: Path) -> None:
    """``scatter ipfs add``'s path (batched writes on a thread), killed with half its input read."""
    data = os.urandom(40 * 262144)
    _, blocks = import_bytes(data)
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    store_dir = tmp_path / "store"
    child = subprocess.Popen([sys.executable, "-c", ADDER, str(store_dir), str(fifo)])
    with fifo.open("wb") as feed:
        feed.write(data[: len(data) // 2])  # then the adder waits for more
        feed.flush()
        deadline = time.monotonic() + 120  # bounds a failure only: a loaded machine starts the child slowly
        blocks_dir = store_dir / "blocks"
        while time.monotonic() < deadline:
            if blocks_dir.exists() and sum(len(files) for _, _, files in os.walk(blocks_dir)) >= 10:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)

    store = EmbeddedBlockStore(store_dir)
    assert store.pins() == []
    held = list(store.iter_cids())
    assert len(held) >= 10
    by_digest = {bytes(b.cid.digest): b.cid for b in blocks}
    for cid in held:  # every block file present is complete and correct
        verify_block(by_digest[bytes(cid.digest)], store.get(cid))
    assert store.gc().removed_blocks == len(held)
    assert list((store_dir / "tmp").iterdir()) == []
