"""Where `ipfs add -r` starts sharding a directory: boxo's BasicDirectory switches to a HAMT
when the estimate (name bytes + CID bytes over all links) *reaches* HAMTShardingSize
(`estimatedSize + change >= HAMTShardingSize` in go-unixfs/boxo io/directory.go), so a
directory whose estimate is exactly 256 KiB is sharded and one byte less is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.ipfs.dagpb import UnixFSType, decode_node, decode_unixfs
from scatter.ipfs.directory import SHARD_THRESHOLD, import_directory

CID_V1_RAW = 36  # version, codec (raw), multihash code and length, 32-byte digest


def _tree(root: Path, shorten_last_by: int) -> Path:
    """1,024 one-byte files whose names are 220 bytes: 1,024 x (220 + 36) = 262,144."""
    count, name_length = 1024, SHARD_THRESHOLD // 1024 - CID_V1_RAW
    root.mkdir()
    for i in range(count):
        length = name_length - (shorten_last_by if i == count - 1 else 0)
        (root / f"{i:04d}".ljust(length, "x")).write_bytes(bytes([i % 256]))
    return root


@pytest.mark.parametrize(("shorten", "sharded"), [(0, True), (1, False)])
def test_a_directory_is_sharded_once_its_estimate_reaches_the_threshold(
    tmp_path: Path, shorten: int, sharded: bool
) -> None:
    blocks: dict[str, bytes] = {}
    tree = _tree(tmp_path / "d", shorten)
    result = import_directory(tree, lambda b: blocks.__setitem__(str(b.cid), b.data))
    node = decode_node(blocks[str(result.root)])
    assert node.data is not None
    kind = decode_unixfs(node.data).type
    assert kind == (UnixFSType.HAMT_SHARD if sharded else UnixFSType.DIRECTORY)
