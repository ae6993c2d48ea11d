"""Follow contract events from a checkpoint, only as deep as the confirmation depth.

The daemons treat events as *triggers*, not as truth: an event says "deal 7
changed", and the daemon reads the deal through a view at the confirmed
block. Replaying a range is therefore harmless, and a reorg deeper than the
confirmation depth is survived by rewinding the checkpoint and replaying.

A checkpoint is ``(block_number, block_hash)`` of the last block whose events
were handled. A poll that finds new blocks first checks that hash is still
canonical (for one new block: its ``parentHash``); if not, the chain
reorganised below the confirmation depth and the poll returns a rewind to
``block - rewind_depth`` instead of events.

Every daemon polls every block, so the common case is cheap: one new block costs
``eth_getBlockByNumber`` (its hash, parent and ``logsBloom``) and, only when the
bloom may hold one of the followed contracts, ``eth_getLogs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.crypto import keccak
from web3 import Web3

from scatter.chain._abi import abi_type
from scatter.chain.tx import block_hash_of, head_number, raw_call, rpc_guard


def _hex_bytes(value: Any) -> bytes:
    return bytes.fromhex(str(value).removeprefix("0x"))


def bloom_may_hold(logs_bloom: str, addresses: Iterable[str]) -> bool:
    """Whether a block's ``logsBloom`` (hex) may hold a log of one of ``addresses``: the three
    bits of ``keccak256(address)`` the Yellow Paper's M3:2048 sets are all set. False means no
    such log for sure; True may be a false positive (then ``eth_getLogs`` finds nothing). A
    missing or malformed bloom counts as True."""
    try:
        bloom = int(logs_bloom, 16)
    except ValueError:
        return True
    for address in addresses:
        h = keccak(_hex_bytes(address))
        if all(bloom >> (int.from_bytes(h[i : i + 2], "big") & 2047) & 1 for i in (0, 2, 4)):
            return True
    return False


@dataclass(frozen=True)
class Checkpoint:
    block: int
    block_hash: bytes


@dataclass(frozen=True)
class ChainEvent:
    contract: str  # name given to the follower ("Market", "FileRegistry")
    name: str
    args: dict[str, Any]
    block: int
    log_index: int
    tx_hash: bytes


@dataclass(frozen=True)
class Batch:
    """Events of blocks (previous checkpoint, checkpoint], in chain order."""

    events: list[ChainEvent]
    checkpoint: Checkpoint
    head: int | None = None  # the confirmed head the poll saw (caught up when checkpoint.block >= head)


@dataclass(frozen=True)
class Rewind:
    """The checkpoint's block is no longer canonical: resume from ``checkpoint``."""

    checkpoint: Checkpoint
    reason: str


class _EventDecoder:
    """Decodes raw logs of one contract by topic0, without web3's per-log overhead."""

    def __init__(self, contract_name: str, abi: Sequence[dict[str, Any]]) -> None:
        self.contract_name = contract_name
        self._events: dict[bytes, tuple[str, list[dict[str, Any]]]] = {}
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                self._events[bytes(event_abi_to_log_topic(cast(ABIEvent, item)))] = (
                    item["name"],
                    item["inputs"],
                )

    def decode(self, log: Any) -> ChainEvent | None:
        topics = [_bytes(t) for t in log["topics"]]
        if not topics:
            return None
        known = self._events.get(topics[0])
        if known is None:
            return None
        name, inputs = known
        indexed = [i for i in inputs if i["indexed"]]
        plain = [i for i in inputs if not i["indexed"]]
        args: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=True):
            (value,) = abi_decode([abi_type(param)], topic)
            args[param["name"]] = _normalise(param, value)
        values = abi_decode([abi_type(p) for p in plain], _bytes(log["data"]))
        args.update({p["name"]: _normalise(p, v) for p, v in zip(plain, values, strict=True)})
        return ChainEvent(
            contract=self.contract_name,
            name=name,
            args=args,
            block=_int(log["blockNumber"]),
            log_index=_int(log["logIndex"]),
            tx_hash=_bytes(log["transactionHash"]),
        )


def _bytes(value: Any) -> bytes:
    """A log field as bytes: raw JSON-RPC gives ``0x`` hex, web3 gives bytes."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _normalise(param: dict[str, Any], value: Any) -> Any:
    """Checksummed addresses, as web3 returns them."""
    if param["type"] == "address":
        return Web3.to_checksum_address(value)
    return value


class EventFollower:
    """Reads the logs of some contracts in confirmed block ranges."""

    def __init__(
        self,
        w3: Web3,
        contracts: Iterable[tuple[str, str, Sequence[dict[str, Any]]]],
        *,
        confirmations: int = 2,
        max_range: int = 2_000,
        rewind_depth: int = 64,
    ) -> None:
        """``contracts``: (name, address, abi) triples."""
        self.w3 = w3
        self.confirmations = confirmations
        self.max_range = max_range
        self.rewind_depth = rewind_depth
        self._decoders: dict[str, _EventDecoder] = {}
        for name, address, abi in contracts:
            self._decoders[Web3.to_checksum_address(address)] = _EventDecoder(name, abi)

    def block_hash(self, number: int) -> bytes:
        """The hash of block ``number``; empty when the chain has no such block (a reorg to a
        shorter chain), which no checkpoint matches."""
        return block_hash_of(self.w3, number)

    def poll(self, checkpoint: Checkpoint, *, head: int | None = None) -> Batch | Rewind | None:
        """Events after ``checkpoint`` up to the confirmed head (at most ``max_range`` blocks).
        ``head``: the latest block number, when the caller has just read it.

        Returns None when there is nothing new, a :class:`Rewind` after a reorg. A reorg that
        leaves the height unchanged is seen at the next block (by its parent hash).
        """
        known = checkpoint.block >= 0 and bool(checkpoint.block_hash)
        confirmed = max(-1, (head_number(self.w3) if head is None else head) - self.confirmations)
        if confirmed <= checkpoint.block:
            if known and confirmed < checkpoint.block and not self._canonical(checkpoint):
                return self._rewind(checkpoint)  # the chain became shorter than the checkpoint
            return None
        first = checkpoint.block + 1
        last = min(confirmed, checkpoint.block + self.max_range)
        block = rpc_guard(f"reading block {last}",
                          lambda: raw_call(self.w3, "eth_getBlockByNumber", [hex(last), False]))  # fmt: skip
        if not block:
            return None  # a reorg to a shorter chain since the head was read: the next poll sees it
        if known:
            parent_ok = first == last and _hex_bytes(block["parentHash"]) == checkpoint.block_hash
            if not (parent_ok or (first < last and self._canonical(checkpoint))):
                return self._rewind(checkpoint)
        if first == last and not bloom_may_hold(str(block.get("logsBloom") or ""), self._decoders):
            logs: list[dict[str, Any]] = []  # none of the followed contracts logged in that block
        else:
            # raw eth_getLogs: web3's log formatters cost more CPU than decoding (every daemon, every block)
            query = {"fromBlock": hex(first), "toBlock": hex(last), "address": list(self._decoders)}
            logs = rpc_guard(
                f"reading logs of blocks {first}-{last}", lambda: raw_call(self.w3, "eth_getLogs", [query])
            )
        events: list[ChainEvent] = []
        for log in logs:
            decoder = self._decoders.get(Web3.to_checksum_address(log["address"]))
            event = decoder.decode(log) if decoder else None
            if event is not None:
                events.append(event)
        events.sort(key=lambda e: (e.block, e.log_index))
        # the hash read before the logs: a reorg in between is caught by the next poll's parent check
        return Batch(events, Checkpoint(last, _hex_bytes(block["hash"])), head=confirmed)

    def _canonical(self, checkpoint: Checkpoint) -> bool:
        return self.block_hash(checkpoint.block) == checkpoint.block_hash

    def _rewind(self, checkpoint: Checkpoint) -> Rewind:
        back = max(-1, checkpoint.block - self.rewind_depth)
        restart = Checkpoint(back, self.block_hash(back) if back >= 0 else b"")
        return Rewind(restart, f"block {checkpoint.block} was reorganised away")

    @staticmethod
    def genesis(start_block: int) -> Checkpoint:
        """The checkpoint before ``start_block`` (e.g. the deployment block)."""
        return Checkpoint(start_block - 1, b"")
