"""The price a bid names: the caller's, or a default that pays the hosters' gas.

On chain a price is wei per slot per epoch; people give it per GiB of slot per
epoch (:mod:`scatter.sdk.units`). With no price given, the SDK bids per slot-epoch,
for the bid's slot size and duration::

    max(DEFAULT_PRICE_PER_GIB_EPOCH x size / GiB,  MARGIN x break-even per slot-epoch)

The break-even is :func:`scatter.chain.economics.break_even_price` at the chain's
current gas price and block time, with the hoster daemon's default
``settle_every`` and ``batch``: the price below which the hosters' default bid
filter (``break_even``) refuses a slot, because its gas (reserve, fill,
settlements, audit proofs) would cost the hoster more than the slot pays. The
first term is the floor when gas is nearly free (1 gwei per GiB-epoch).

``MARGIN`` is 2:

- hosters re-read the gas price at each pass while a bid is open; an EIP-1559
  base fee rises up to 12.5 % a full block, so a bid at 1x the break-even falls
  under every hoster's filter at the first busy block. At 2x it is still taken
  after the gas price doubles (six full blocks in a row);
- the model counts gas only. At 1x a hoster works for nothing: disk,
  bandwidth and the collateral it locks are paid from the other half;
- the model's small approximations (the daemon assumes 12-second blocks unless
  told, the SDK measures them; a proof of a small shard costs less than the
  1 GiB figure) stay well inside a factor of 2.

An explicit price is used as given. Below the break-even the SDK warns
(:class:`PriceWarning`, a yellow line in the CLI) rather than refuses: a client
may know hosters that take it (``--no-break-even`` or their own ``min_price``).
A dead RPC or a failed gas read raises (a one-line :class:`scatter.errors.ScatterError`):
never a silently cheap bid.

A hoster locks ``collateralBps`` of a slot's whole pay as collateral when it fills
the slot, so a price that pays the gas of a long bid on a chain of short epochs
also asks for a large stake (on the devnet, 30 days at 1 gwei gas: ~36 ETH a
slot). :func:`warn_if_short_of_collateral` warns when fewer hosters than the bid
has slots have that much free stake: such a bid waits for hosters that may never come.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from scatter.chain.economics import (
    DEFAULT_BATCH,
    DEFAULT_SETTLE_EVERY,
    block_seconds_of,
    break_even_price,
    current_gas_price,
)
from scatter.errors import ScatterValueError
from scatter.sdk.units import DEFAULT_PRICE_PER_GIB_EPOCH, GIB, GWEI, format_eth, slot_price

if TYPE_CHECKING:
    from web3 import Web3

    from scatter.chain.market import Market
    from scatter.chain.params import MarketParams

__all__ = [
    "MARGIN",
    "BidPrice",
    "CollateralWarning",
    "PriceWarning",
    "bid_price",
    "break_even_slot_price",
    "default_slot_price",
    "positive_price",
    "price_bid",
    "warn_if_short_of_collateral",
]

#: The default price is this many times the hosters' break-even (see the module's docstring).
MARGIN = 2


class PriceWarning(UserWarning):
    """An explicit price pays less than the hosters' gas: hosters with the default filter skip it."""


class CollateralWarning(PriceWarning):
    """Fewer hosters than the bid has slots have the free stake a slot's collateral locks."""


def positive_price(per_gib_epoch: int) -> int:
    """``per_gib_epoch`` if it is positive (checked before any work: a typo should cost nothing)."""
    if per_gib_epoch <= 0:
        raise ScatterValueError("price must be positive, e.g. 2gwei; leave it out for the default")
    return per_gib_epoch


def break_even_slot_price(
    params: MarketParams, *, size: int, duration: int, gas_price: int, block_seconds: float
) -> int:
    """The lowest price per slot-epoch a hoster with the default filter takes, for a slot of
    ``size`` bytes held ``duration`` epochs at ``gas_price`` (its check: ``price x GiB >=
    break-even per GiB-epoch x size``)."""
    per_gib = break_even_price(
        params,
        size=size,
        duration=duration,
        gas_price=gas_price,
        settle_every=DEFAULT_SETTLE_EVERY,
        batch=DEFAULT_BATCH,
        block_seconds=block_seconds,
    )
    return -(-per_gib * size // GIB)


def default_slot_price(
    params: MarketParams, *, size: int, duration: int, gas_price: int, block_seconds: float
) -> int:
    """The SDK's default price per slot-epoch: the larger of 1 gwei per GiB-epoch and
    ``MARGIN`` times the break-even (:func:`break_even_slot_price`)."""
    floor = slot_price(DEFAULT_PRICE_PER_GIB_EPOCH, size)
    gas = break_even_slot_price(
        params, size=size, duration=duration, gas_price=gas_price, block_seconds=block_seconds
    )
    return max(floor, MARGIN * gas)


@dataclass(frozen=True)
class BidPrice:
    """The price of one bid, and what it was measured against."""

    per_slot_epoch: int  # wei: what the bid names
    break_even: int  # wei per slot-epoch: the hosters' default filter takes no less
    gas_price: int  # wei per gas, read from the chain
    default: bool  # no price was given

    @property
    def below_break_even(self) -> bool:
        return self.per_slot_epoch < self.break_even

    def escrow(self, slots: int, epochs: int) -> int:
        """What the bid locks: price x slots x epochs."""
        return self.per_slot_epoch * slots * epochs

    def below_break_even_message(self) -> str:
        """What a :class:`PriceWarning` says about this price."""
        return (
            f"price {self.per_slot_epoch} wei/slot/epoch is below the hosters' break-even ({self.break_even} "
            f"at {self.gas_price / GWEI:.3g} gwei gas): hosters with the default filter will not take it; "
            "leave out the price for the default"
        )

    def describe(self) -> str:
        """``"1200 wei/slot/epoch (default: 2x the hosters' break-even at 1 gwei gas)"``."""
        gas = f"{self.gas_price / GWEI:.3g} gwei gas"
        if self.default and self.per_slot_epoch > self.break_even * MARGIN:
            why = f"default: the 1 gwei/GiB-epoch floor, above {MARGIN}x the break-even at {gas}"
        elif self.default:
            why = f"default: {MARGIN}x the hosters' break-even at {gas}"
        else:
            why = f"as given; break-even {self.break_even} at {gas}"
        return f"{self.per_slot_epoch} wei/slot/epoch ({why})"


def bid_price(
    w3: Web3, params: MarketParams, *, size: int, duration: int, per_gib_epoch: int | None
) -> BidPrice:
    """:func:`price_bid`, and a :class:`PriceWarning` when a given price is below the break-even."""
    price = price_bid(w3, params, size=size, duration=duration, per_gib_epoch=per_gib_epoch)
    if price.below_break_even:
        warnings.warn(price.below_break_even_message(), PriceWarning, stacklevel=3)
    return price


def price_bid(
    w3: Web3, params: MarketParams, *, size: int, duration: int, per_gib_epoch: int | None
) -> BidPrice:
    """The price of a bid of ``size``-byte slots held ``duration`` epochs: ``per_gib_epoch``
    (wei per GiB-epoch) when given, else :func:`default_slot_price` at the chain's gas price.

    Reads the gas price and block time (a failed read raises, one line)."""
    from scatter.chain.tx import rpc_guard

    head = rpc_guard("reading the gas price", lambda: w3.eth.get_block("latest"))
    gas_price = current_gas_price(w3, head=head)
    block_seconds = block_seconds_of(w3, head=head)
    floor = break_even_slot_price(
        params, size=size, duration=duration, gas_price=gas_price, block_seconds=block_seconds
    )
    if per_gib_epoch is None:
        per_slot = default_slot_price(
            params, size=size, duration=duration, gas_price=gas_price, block_seconds=block_seconds
        )
    else:
        per_slot = slot_price(per_gib_epoch, size)
    return BidPrice(
        per_slot_epoch=per_slot, break_even=floor, gas_price=gas_price, default=per_gib_epoch is None
    )


def warn_if_short_of_collateral(
    market: Market, params: MarketParams, *, per_slot_epoch: int, duration: int, slots: int
) -> int:
    """How many hosters can lock the collateral of one slot (price x duration x collateralBps)
    from their free stake, counting up to ``slots``; warns (:class:`CollateralWarning`) when fewer
    than ``slots`` can, since a hoster holds at most one live slot of a bid."""
    from scatter.chain.market import Role
    from scatter.chain.tx import rpc_guard

    need = params.collateral(per_slot_epoch, duration)
    hosters = rpc_guard("listing hosters", lambda: market.nodes(Role.HOSTER))
    able = 0
    for hoster in hosters:
        if rpc_guard("reading a hoster's stake", partial(market.free_stake, Role.HOSTER, hoster)) >= need:
            able += 1
            if able >= slots:
                return able
    if not hosters:
        message = (
            f"no hoster is registered on this market yet: the bid's {slots} slots stay open until some join"
        )
    else:
        message = (
            f"each slot locks {format_eth(need)} of its hoster's stake as collateral and only {able} of "
            f"{len(hosters)} hosters have that much free, fewer than the bid's {slots} slots: the slots may "
            "stay open; shorten the duration"
        )
    warnings.warn(message, CollateralWarning, stacklevel=3)
    return able
