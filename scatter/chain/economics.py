"""Whether a slot pays: the gas a hoster spends on it against what it earns, and the break-even price.

A hoster that takes a slot sends, in gas (each figure the execution gas of
``docs/gas.md`` / ``contracts/snapshots/GasTest.json`` plus calldata and the
21 000 base of its transaction):

- ``reserve`` once (pushed content; a fetched pin skips it, counted anyway);
- ``fill`` once, with its first possession proof (1 GiB shard: the largest proof);
- one ``settleMany`` item per ``settle_every`` epochs, the transaction's fixed part
  shared by the ``batch`` deals settled together;
- a proof sent alone for each audit that picks the deal (``audit_bps`` of the deals
  every ``audit_every_blocks`` blocks).

It earns ``price * size / GiB`` per epoch, less the validators' fee. The break-even
price per GiB-epoch is the one at which the two are equal; below it, every slot
taken costs the hoster more in gas than it pays.

One model, two users: the hoster daemon's default bid filter refuses slots below
the break-even price (``break_even``, :class:`scatter.hoster.config.BidFilter`;
``scatter hoster quote`` prints it), and the SDK's default price bids a margin
above it (:mod:`scatter.sdk.pricing`). It lives in ``scatter.chain`` because it is
a model of the Market's transactions, and both sides import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scatter.chain.params import MarketParams

if TYPE_CHECKING:
    from web3 import Web3
    from web3.types import BlockData

GIB = 1 << 30
#: Base cost of a transaction.
TX_BASE = 21_000
#: ``reserve`` execution (GasTest ``reserve``) plus its calldata (~4 words).
RESERVE = 64_968 + 1_000 + TX_BASE
#: ``fill`` with its first proof of a 1 GiB shard: execution + calldata (GasTest ``fill_1GiB_first_proof*``).
FILL = 143_674 + 45_936 + TX_BASE
#: ``settleMany`` per deal: the slope between GasTest's 10- and 50-deal batches
#: ((2 256 991 - 471 415) / 40), plus an item's calldata (ids, range, two 65-byte signatures).
SETTLE_ITEM = 44_639 + 3_500
#: ``settleMany``'s fixed part (471 415 - 10 x 44 639) and the transaction's base.
SETTLE_FIXED = 25_025 + TX_BASE
#: A proof of a 1 GiB shard sent alone: execution + calldata (GasTest ``prove_many_10_deals_1GiB*``) + base.
PROVE_ALONE = 28_115 + 45_668 + TX_BASE
#: Seconds per block when the chain does not say (Ethereum and Sepolia).
BLOCK_SECONDS = 12.0
#: Deals settled in one ``settleMany`` when the operator does not say.
DEFAULT_BATCH = 10
#: The hoster daemon's default ``settle_every`` (``HosterConfig.settle_every`` is this).
DEFAULT_SETTLE_EVERY = 2


@dataclass(frozen=True)
class SlotGas:
    """The gas one slot costs its hoster over ``duration`` epochs, by operation."""

    reserve: int
    fill: int
    settlements: int
    proofs: int

    @property
    def total(self) -> int:
        return self.reserve + self.fill + self.settlements + self.proofs


def settle_range_epochs(params: MarketParams, settle_every: int) -> int:
    """The hoster's ``settle_every`` as the daemon applies it: at least 1, and short enough that
    a range is settled before ``missedQuorumEpochs`` without pay open a proof request."""
    return max(1, min(settle_every, params.missed_quorum_epochs - 2))


def slot_gas(
    params: MarketParams,
    *,
    duration: int,
    settle_every: int,
    batch: int = DEFAULT_BATCH,
    block_seconds: float = BLOCK_SECONDS,
) -> SlotGas:
    """The gas of taking one slot held ``duration`` epochs, settled every ``settle_every`` epochs
    in batches of ``batch`` deals (the hoster's ``settle_every`` is capped as the daemon caps it)."""
    every = settle_range_epochs(params, settle_every)
    settlements = -(-max(duration, 1) // every)
    per_settlement = SETTLE_ITEM + -(-SETTLE_FIXED // max(batch, 1))
    blocks = max(duration, 1) * params.epoch_seconds / max(block_seconds, 1e-9)
    audits = blocks / max(params.audit_every_blocks, 1) * params.audit_bps / 10_000
    return SlotGas(
        reserve=RESERVE,
        fill=FILL,
        settlements=settlements * per_settlement,
        proofs=round(audits * PROVE_ALONE),
    )


def break_even_price(
    params: MarketParams,
    *,
    size: int,
    duration: int,
    gas_price: int,
    settle_every: int,
    batch: int = DEFAULT_BATCH,
    block_seconds: float = BLOCK_SECONDS,
) -> int:
    """The lowest price in wei per GiB-epoch at which a slot of ``size`` bytes held ``duration``
    epochs earns (after the validators' fee) at least the gas it costs at ``gas_price``; rounded up."""
    gas = slot_gas(
        params, duration=duration, settle_every=settle_every, batch=batch, block_seconds=block_seconds
    )
    cost = gas.total * gas_price
    keep = 10_000 - params.validator_fee_bps
    paid_units = max(size, 1) * max(duration, 1) * keep  # byte-epochs x bps
    return -(-cost * GIB * 10_000 // paid_units)


#: Slot sizes a quote shows when none is asked for.
QUOTE_SIZES = (1 << 20, 64 << 20, GIB)


@dataclass(frozen=True)
class QuoteRow:
    size: int
    duration_epochs: int
    gas: SlotGas
    break_even_wei_per_gib_epoch: int

    def to_json(self) -> dict[str, int]:
        return {
            "size_bytes": self.size,
            "duration_epochs": self.duration_epochs,
            "gas_reserve": self.gas.reserve,
            "gas_fill": self.gas.fill,
            "gas_settlements": self.gas.settlements,
            "gas_proofs": self.gas.proofs,
            "gas_total": self.gas.total,
            "break_even_wei_per_gib_epoch": self.break_even_wei_per_gib_epoch,
        }


def quote(
    params: MarketParams,
    *,
    gas_price: int,
    sizes: tuple[int, ...],
    duration: int,
    settle_every: int,
    batch: int = DEFAULT_BATCH,
    block_seconds: float = BLOCK_SECONDS,
) -> list[QuoteRow]:
    """The break-even price of a slot of each size held ``duration`` epochs at ``gas_price``."""
    gas = slot_gas(
        params, duration=duration, settle_every=settle_every, batch=batch, block_seconds=block_seconds
    )
    return [
        QuoteRow(
            size=size,
            duration_epochs=duration,
            gas=gas,
            break_even_wei_per_gib_epoch=break_even_price(
                params,
                size=size,
                duration=duration,
                gas_price=gas_price,
                settle_every=settle_every,
                batch=batch,
                block_seconds=block_seconds,
            ),
        )
        for size in sizes
    ]


def block_seconds_of(w3: Web3, span: int = 100, *, head: BlockData | None = None) -> float:
    """The chain's mean seconds per block over the ``span`` blocks before ``head`` (default: the
    latest block; BLOCK_SECONDS if the chain is too young)."""
    from scatter.chain.tx import rpc_guard

    if head is None:
        head = rpc_guard("reading blocks", lambda: w3.eth.get_block("latest"))
    number = int(head["number"])
    if number < 2:
        return BLOCK_SECONDS
    then = rpc_guard("reading blocks", lambda: w3.eth.get_block(max(0, number - span)))
    blocks = number - int(then["number"])
    return max(float(int(head["timestamp"]) - int(then["timestamp"])) / blocks, 1.0)


def current_gas_price(w3: Web3, *, head: BlockData | None = None) -> int:
    """What a transaction pays per gas now: the base fee of ``head`` (default: the latest block)
    plus the suggested tip."""
    from scatter.chain.tx import rpc_guard

    block = (
        head if head is not None else rpc_guard("reading the gas price", lambda: w3.eth.get_block("latest"))
    )
    tip = int(rpc_guard("reading the gas price", lambda: w3.eth.max_priority_fee))
    return int(block.get("baseFeePerGas") or 0) + tip
