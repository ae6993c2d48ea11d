"""Follow contract events from a checkpoint, only as deep as the confirmation depth.

The daemons treat events as *triggers*, not as truth: an event says "deal 7
changed", and the daemon reads the deal through a view at the confirmed
block. Replaying a range is therefore harmless, and a reorg deeper than the
confirmation depth is survived by rewinding the checkpoint and replaying.

A checkpoint is ``(block_number, block_hash)`` of the last block whose events
were handled. Each poll first checks that hash is still canonical; if not,
the chain reorganised below the confirmation depth and the poll returns a
rewind to ``block - rewind_depth`` instead of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from scatter.chain._abi import abi_type
from scatter.chain.tx import block_hash_of, head_number, raw_call, rpc_guard


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

    def confirmed_head(self) -> int:
        return max(-1, head_number(self.w3) - self.confirmations)

    def block_hash(self, number: int) -> bytes:
        """The hash of block ``number``; empty when the chain has no such block (a reorg to a
        shorter chain), which no checkpoint matches."""
        return block_hash_of(self.w3, number)

    def poll(self, checkpoint: Checkpoint) -> Batch | Rewind | None:
        """Events after ``checkpoint`` up to the confirmed head (at most ``max_range`` blocks).

        Returns None when there is nothing new, a :class:`Rewind` after a reorg.
        """
        known = checkpoint.block >= 0 and checkpoint.block_hash
        if known and self.block_hash(checkpoint.block) != checkpoint.block_hash:
            back = max(-1, checkpoint.block - self.rewind_depth)
            restart = Checkpoint(back, self.block_hash(back) if back >= 0 else b"")
            return Rewind(restart, f"block {checkpoint.block} was reorganised away")
        head = self.confirmed_head()
        if head <= checkpoint.block:
            return None
        first = checkpoint.block + 1
        last = min(head, checkpoint.block + self.max_range)
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
        return Batch(events, Checkpoint(last, self.block_hash(last)))

    @staticmethod
    def genesis(start_block: int) -> Checkpoint:
        """The checkpoint before ``start_block`` (e.g. the deployment block)."""
        return Checkpoint(start_block - 1, b"")
