"""Scatter's IPFS layer: Kubo-identical UnixFS import, CAR files, block stores
(embedded and Kubo), and the Trustless Gateway (server and client).

The flow of a shard: :class:`UnixFSImporter` turns bytes into blocks,
:class:`CarWriter` streams them into a CAR, a :class:`BlockStore` imports and
pins it, the gateway serves it, and :func:`export_file` rebuilds the bytes.
"""

from __future__ import annotations

from scatter.ipfs.abc import BlockSource, BlockStore, GcResult, StoreStat
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.car import CarWriter, read_car, write_car
from scatter.ipfs.cid import MAX_BLOCK_SIZE, cid_str, parse_cid
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.exporter import export_bytes, export_file, iter_file
from scatter.ipfs.memory import MemoryBlockStore
from scatter.ipfs.unixfs import ImportResult, UnixFSImporter, import_bytes, import_file, import_stream

__all__ = [
    "MAX_BLOCK_SIZE",
    "Block",
    "BlockSource",
    "BlockStore",
    "CarWriter",
    "EmbeddedBlockStore",
    "GcResult",
    "ImportResult",
    "MemoryBlockStore",
    "StoreStat",
    "UnixFSImporter",
    "cid_str",
    "export_bytes",
    "export_file",
    "import_bytes",
    "import_file",
    "import_stream",
    "iter_file",
    "parse_cid",
    "read_car",
    "verify_block",
    "write_car",
]
