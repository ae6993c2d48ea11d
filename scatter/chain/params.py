"""Market parameters, fixed at deployment, with presets per kind of network."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from scatter.errors import ScatterValueError

ETHER = 10**18


@dataclass(frozen=True)
class MarketParams:
    """Mirror of ``IMarket.Params`` (genesis is set by the contract at deployment)."""

    epoch_seconds: int
    quorum: int
    grace_epochs: int
    collateral_bps: int
    validator_fee_bps: int
    slash_client_bps: int
    min_hoster_stake: int
    min_validator_stake: int
    exit_delay: int
    genesis: int = 0

    def validate(self) -> MarketParams:
        if self.epoch_seconds <= 0:
            raise ScatterValueError("epoch_seconds must be positive")
        if not 1 <= self.quorum <= 32:
            raise ScatterValueError("quorum must be between 1 and 32")
        for name in ("collateral_bps", "validator_fee_bps", "slash_client_bps"):
            if not 0 <= getattr(self, name) <= 10_000:
                raise ScatterValueError(f"{name} must be between 0 and 10000 basis points")
        if self.grace_epochs <= 0:
            raise ScatterValueError("grace_epochs must be positive")
        return self

    def as_struct(self) -> tuple[int, ...]:
        """The constructor argument: ``IMarket.Params`` in field order."""
        return (
            self.genesis,
            self.epoch_seconds,
            self.quorum,
            self.grace_epochs,
            self.collateral_bps,
            self.validator_fee_bps,
            self.slash_client_bps,
            self.min_hoster_stake,
            self.min_validator_stake,
            self.exit_delay,
        )

    @classmethod
    def from_struct(cls, values: Any) -> MarketParams:
        v = list(values)
        return cls(
            genesis=v[0],
            epoch_seconds=v[1],
            quorum=v[2],
            grace_epochs=v[3],
            collateral_bps=v[4],
            validator_fee_bps=v[5],
            slash_client_bps=v[6],
            min_hoster_stake=v[7],
            min_validator_stake=v[8],
            exit_delay=v[9],
        )

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    def with_overrides(self, **changes: int | None) -> MarketParams:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


PRESETS: dict[str, MarketParams] = {
    # A few-second epoch for a laptop; small stakes so dev accounts can play every role.
    "devnet": MarketParams(
        epoch_seconds=5,
        quorum=2,
        grace_epochs=6,
        collateral_bps=5_000,
        validator_fee_bps=500,
        slash_client_bps=5_000,
        min_hoster_stake=1 * ETHER,
        min_validator_stake=1 * ETHER,
        exit_delay=60,
    ),
    # Sepolia and other public chains: one-hour epochs, a week to exit.
    "testnet": MarketParams(
        epoch_seconds=3_600,
        quorum=2,
        grace_epochs=6,
        collateral_bps=5_000,
        validator_fee_bps=500,
        slash_client_bps=5_000,
        min_hoster_stake=ETHER // 20,
        min_validator_stake=ETHER // 20,
        exit_delay=7 * 24 * 3_600,
    ),
}


def preset(name: str) -> MarketParams:
    try:
        return PRESETS[name]
    except KeyError:
        raise ScatterValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
