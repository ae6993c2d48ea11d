"""Market parameters (Market VERSION 3), fixed at deployment, with presets per kind of network.

:class:`MarketParams` mirrors ``IMarket.Params`` by *name*: the struct is encoded
and decoded through the ABI's component names (``epochSeconds`` <-> ``epoch_seconds``),
so a reordering of the Solidity struct cannot silently swap two numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from scatter.errors import ScatterValueError

ETHER = 10**18


def snake(name: str) -> str:
    """``epochSeconds`` -> ``epoch_seconds`` (ABI names to Python names)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    """``epoch_seconds`` -> ``epochSeconds``."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass(frozen=True)
class MarketParams:
    """Mirror of ``IMarket.Params`` (genesis is set by the contract at deployment).

    See docs/trust.md, "Lifecycle", for what each one does.
    """

    epoch_seconds: int
    quorum: int  # ok/fail signatures of committee members needed
    committee_size: int  # expected committee members per deal and period
    period_epochs: int  # committee rotation
    reserve_epochs: int  # how long a reservation holds a slot while the client pushes
    proof_window_epochs: int  # w: a challenge is due at the end of epoch requested + w
    missed_quorum_epochs: int  # g: epochs without an ok quorum before anyone may request a proof
    audit_bps: int  # chance (of 10,000) that an audit seed block draws a deal
    audit_every_blocks: int  # audit seed blocks are multiples of this
    max_faults: int  # m: missed proofs that end a deal
    collateral_bps: int
    validator_fee_bps: int
    slash_client_bps: int
    min_hoster_stake: int
    min_validator_stake: int
    proof_bond: int  # wei posted with a fail-quorum proof request
    validator_slash: int  # wei a validator loses for equivocation / a false ok
    exit_delay: int  # seconds
    validator_bonding_seconds: int  # a validator is drawn only this long after joining
    genesis: int = 0

    def validate(self) -> MarketParams:
        if self.epoch_seconds <= 0:
            raise ScatterValueError("epoch_seconds must be positive")
        if not 1 <= self.quorum <= 32:
            raise ScatterValueError("quorum must be between 1 and 32")
        if self.committee_size < self.quorum:
            raise ScatterValueError("committee_size must be at least the quorum")
        for name in ("collateral_bps", "validator_fee_bps", "slash_client_bps", "audit_bps"):
            if not 0 <= getattr(self, name) <= 10_000:
                raise ScatterValueError(f"{name} must be between 0 and 10000 basis points")
        for name in ("period_epochs", "reserve_epochs", "proof_window_epochs", "missed_quorum_epochs",
                     "audit_every_blocks", "max_faults"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ScatterValueError(f"{name} must be positive")
        return self

    def as_struct(self, components: Sequence[Mapping[str, Any]] | None = None) -> tuple[int, ...]:
        """The constructor argument ``IMarket.Params``, in the order of the ABI's ``components``
        (default: the shipped Market's constructor)."""
        if components is None:
            components = params_components()
        values = asdict(self)
        try:
            return tuple(int(values[snake(c["name"])]) for c in components)
        except KeyError as exc:
            raise ScatterValueError(
                f"the Market ABI has a parameter {exc.args[0]!r} that MarketParams lacks: "
                "update scatter/chain/params.py"
            ) from None

    @classmethod
    def from_struct(cls, values: Any, components: Sequence[Mapping[str, Any]] | None = None) -> MarketParams:
        """From the ``params()`` view's tuple (or a mapping of ABI names)."""
        if isinstance(values, Mapping):
            named = {snake(str(k)): int(v) for k, v in values.items()}
        else:
            if components is None:
                components = params_components()
            named = {snake(c["name"]): int(v) for c, v in zip(components, list(values), strict=True)}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in named.items() if k in known})

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    def with_overrides(self, **changes: int | None) -> MarketParams:
        unknown = {k for k, v in changes.items() if v is not None} - {f.name for f in fields(self)}
        if unknown:
            raise ScatterValueError(f"unknown market parameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    # ------------------------------------------------------------ arithmetic

    def epoch_at(self, timestamp: int) -> int:
        """The Market's ``currentEpoch()`` in a block stamped ``timestamp``."""
        return max(0, (timestamp - self.genesis) // self.epoch_seconds)

    def period_of(self, epoch: int) -> int:
        """The committee period of ``epoch``."""
        return epoch // self.period_epochs

    def period_bounds(self, period: int) -> tuple[int, int]:
        """First and last epoch of ``period``."""
        return period * self.period_epochs, (period + 1) * self.period_epochs - 1

    def collateral(self, price_per_epoch: int, epochs: int) -> int:
        """What ``fill`` locks for a slot of ``epochs`` left at ``price_per_epoch``."""
        return price_per_epoch * epochs * self.collateral_bps // 10_000


def params_components() -> list[dict[str, Any]]:
    """The ABI components of ``IMarket.Params`` as the shipped Market's ``params()`` returns them."""
    from scatter.chain.artifacts import load_artifact

    for item in load_artifact("Market").abi:
        if item.get("type") == "function" and item.get("name") == "params":
            out = item["outputs"][0]
            return list(out.get("components", item["outputs"]))
    raise ScatterValueError("the shipped Market ABI has no params() view; rebuild with `make artifacts`")


PRESETS: dict[str, MarketParams] = {
    # Two-second epochs for a laptop; small stakes so dev accounts can play every role.
    "devnet": MarketParams(
        epoch_seconds=2,
        quorum=2,
        committee_size=3,
        period_epochs=30,  # a minute per committee
        reserve_epochs=30,  # a minute for the client to push
        proof_window_epochs=15,  # thirty seconds to answer a challenge
        missed_quorum_epochs=30,
        audit_bps=100,  # 1 % of deals per audit seed block
        audit_every_blocks=30,
        max_faults=3,
        collateral_bps=5_000,
        validator_fee_bps=500,
        slash_client_bps=5_000,
        min_hoster_stake=1 * ETHER,
        min_validator_stake=1 * ETHER,
        proof_bond=ETHER // 100,
        validator_slash=ETHER // 2,
        exit_delay=60,
        validator_bonding_seconds=0,
    ),
    # Sepolia and other public chains: one-hour epochs, a day per committee, a week to exit.
    "testnet": MarketParams(
        epoch_seconds=3_600,
        quorum=2,
        committee_size=3,
        period_epochs=24,
        reserve_epochs=2,
        proof_window_epochs=6,
        missed_quorum_epochs=12,
        audit_bps=50,  # 0.5 % of deals per audit seed block (one an hour)
        audit_every_blocks=300,  # ~1 h of 12 s blocks
        max_faults=3,
        collateral_bps=5_000,
        validator_fee_bps=500,
        slash_client_bps=5_000,
        min_hoster_stake=ETHER // 20,
        min_validator_stake=ETHER // 20,
        proof_bond=ETHER // 1_000,
        validator_slash=ETHER // 40,
        exit_delay=7 * 24 * 3_600,
        validator_bonding_seconds=24 * 3_600,
    ),
}


def preset(name: str) -> MarketParams:
    try:
        return PRESETS[name]
    except KeyError:
        raise ScatterValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
