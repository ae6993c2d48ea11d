"""The pinning service's settings (``SCATTER_PINS_<NAME>``, or a ``[pins]`` table of a TOML file).

Every pin is a bid on the market paid from the node's wallet: these settings are what
one pin buys (``replicas``, ``duration``, ``price``) and what one token may spend
(``spend_cap``) and keep waiting (``max_pending``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from scatter.daemon.settings import DaemonSettings, Names, Seconds, Size, Unset, Wei

DEFAULT_DB = Path(".scatter/pins.sqlite")
DEV_DB = Path("web/pins.sqlite")  # under a `scatter dev` state directory


class PinSettings(DaemonSettings):
    """One field per setting; defaults are final values (wei, bytes, seconds)."""

    section: ClassVar[str] = "pins"
    env_prefix: ClassVar[str] = "SCATTER_PINS_"

    db: Path = DEFAULT_DB
    replicas: int = Field(default=3, ge=1, le=32)
    duration: str = "30d"  # as the SDK reads it: 90s, 12h, 30d, 2w, 100epochs
    # a pinned pin is bid for again this long before its deals end: a share of `duration` (25%)
    # or a duration as the SDK reads it (3d, 100epochs)
    renew_before: str = "25%"
    # per GiB-epoch; None: the SDK's default, 2x the hosters' break-even at the chain's gas price
    price: Annotated[Wei | None, Unset, Field(ge=1)] = None
    spend_cap: Wei = Field(default=10**18, ge=0)  # escrow one token may spend in all (1 ETH)
    max_pending: int = Field(default=50, ge=1)  # queued or pinning pins of one token at once
    max_size: Size = Field(default=1 << 30, ge=1)  # the largest DAG the node reads to compute its root
    gateways: Names = ()  # HTTP gateways tried after a pin's own origins
    allow_private_origins: bool = False  # origins on loopback/private addresses (dev networks only)
    fetch_attempts: int = Field(default=3, ge=1)  # reads of the content before the pin fails
    fill_timeout: Seconds = Field(default=3600.0, gt=0)  # pinning this long with no replica filled: failed
    poll_interval: Seconds = Field(default=2.0, gt=0)  # the worker's pass over pending pins

    @field_validator("renew_before")
    @classmethod
    def _margin(cls, value: str) -> str:
        value = value.strip()
        if value.endswith("%"):
            share = value[:-1].strip()
            if not share.isdigit() or not 1 <= int(share) <= 90:
                raise ValueError("a share of the duration is 1% to 90%")
        else:
            from scatter.sdk.units import parse_duration

            parse_duration(value, 1)  # the epochs it means are known on chain; its form is checked now
        return value

    def renew_margin(self, duration_epochs: int, epochs_of: Callable[[str], int]) -> int:
        """``renew_before`` in epochs: a share of ``duration_epochs`` (rounded up), or
        ``epochs_of(renew_before)``; at least 1 and less than the duration."""
        if self.renew_before.endswith("%"):
            margin = -(-duration_epochs * int(self.renew_before[:-1]) // 100)
        else:
            margin = epochs_of(self.renew_before)
        return max(1, min(margin, duration_epochs - 1))


def default_db(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The pin store a command means: ``SCATTER_PINS_DB``, else the ``scatter dev`` network's
    (``.scatter/dev/web/pins.sqlite``, when ``.scatter/dev/dev.json`` exists here), else
    ``.scatter/pins.sqlite``."""
    env = os.environ if environ is None else environ
    if env.get("SCATTER_PINS_DB"):
        return Path(env["SCATTER_PINS_DB"])
    base = cwd or Path()
    dev = base / ".scatter" / "dev"
    if (dev / "dev.json").exists():
        return dev / DEV_DB
    return base / DEFAULT_DB
