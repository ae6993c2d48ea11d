"""Shards with their possession roots, and the proofs a hoster sends, for chain-level tests."""

from __future__ import annotations

import io
from dataclasses import dataclass

from multiformats import CID

from scatter.chain.market import Market, fill_seed
from scatter.formats.possession import build_proof, challenge_indices, possession_root
from scatter.ipfs.block import Block
from scatter.ipfs.car import write_car
from scatter.ipfs.cid import cid_bytes
from scatter.ipfs.unixfs import import_bytes


@dataclass(frozen=True)
class Shard:
    data: bytes
    cid: CID
    blocks: list[Block]
    root: bytes  # possession root (bytes32)

    @property
    def cid_bytes(self) -> bytes:
        return cid_bytes(self.cid)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def car(self) -> bytes:
        buf = io.BytesIO()
        write_car(buf, [self.cid], self.blocks)
        return buf.getvalue()

    def proof(self, seed: bytes) -> bytes:
        """The possession proof answering ``seed``."""
        indices = challenge_indices(seed, self.size)
        return build_proof(lambda o, n: self.data[o : o + n], self.size, indices)


def make_shard(data: bytes, *, chunk_size: int = 1 << 18) -> Shard:
    root, blocks = import_bytes(data, cid_version=1, chunk_size=chunk_size)
    return Shard(data, root, blocks, possession_root(data))


def shard_of(label: str, size: int = 1000) -> Shard:
    """A deterministic shard of ``size`` bytes."""
    seed = label.encode()
    data = (seed * (size // max(1, len(seed)) + 1))[:size]
    return make_shard(data)


def fill_args(market: Market, bid_id: int, slot: int, hoster: str, shard: Shard) -> tuple[int, bytes]:
    """``(seedBlock, proof)`` for a fill: the block before the latest as the seed (gas estimation
    runs at the latest block's number, where the seed block must already be in the past)."""
    latest = market.w3.eth.block_number
    block = market.w3.eth.get_block(max(0, latest - 1))
    seed = fill_seed(bytes(block["hash"] or b""), bid_id, slot, hoster)
    return int(block["number"]), shard.proof(seed)


def fill(market: Market, bid_id: int, slot: int, shard: Shard, *, max_collateral: int | None = None) -> int:
    """Fill ``slot`` as ``market``'s signer with a valid proof; returns the deal id."""
    assert market._tx is not None
    seed_block, proof = fill_args(market, bid_id, slot, market._tx.address, shard)
    cap = market.fill_collateral(bid_id, slot) if max_collateral is None else max_collateral
    return market.fill(bid_id, slot, seed_block, cap, proof)


def answer(market: Market, deal_id: int, shard: Shard) -> tuple[int, bytes, bytes]:
    """The ``proveMany`` item answering the deal's open challenge: (deal id, its seed, the proof)."""
    seed = market.challenge_of(deal_id).seed
    return deal_id, seed, shard.proof(seed)
