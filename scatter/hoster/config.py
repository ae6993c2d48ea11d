"""The hoster's settings: defaults < TOML file < environment (and ``.env``) < command line.

Every setting has an environment variable ``SCATTER_HOSTER_<NAME>`` (upper case),
and a key of the same name in the ``[hoster]`` table of a TOML file (or at its top
level). ``SCATTER_RPC_URL`` is also read for ``rpc_url``. Keys come from
:func:`scatter.chain.wallet.load_account` (``SCATTER_PRIVATE_KEY`` or an encrypted
keystore) or, on a local anvil, ``dev_account``; they are never stored here.

Amounts: ``stake`` in ETH (``"1.5"``), ``withdraw_threshold`` in ETH,
``min_price`` in wei per GiB per epoch (``"2gwei"`` also works; ``break_even``, on by
default, also refuses any slot paying less than its gas at the current gas price:
``scatter hoster quote``), ``max_fee_gwei``
(the most any transaction, fee-bumped ones too, offers per gas) in gwei; sizes in bytes or
with a unit (``"10GiB"``, ``"512MiB"``); times in seconds (``"0.5"``, ``"30s"``, ``"5m"``);
booleans ``true``/``false`` (``yes``/``no``, ``on``/``off``, ``1``/``0``); an optional
setting is unset by ``none``, ``off`` or an empty value. Both daemons parse them the same
way (:mod:`scatter.daemon.settings`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, PositiveFloat

from scatter.chain.economics import DEFAULT_SETTLE_EVERY
from scatter.daemon.http import HttpLimits
from scatter.daemon.settings import (
    DaemonSettings,
    Eth,
    Names,
    Seconds,
    Size,
    Unset,
    Wei,
    split_names,
    with_units,
)

ENV_PREFIX = "SCATTER_HOSTER_"
GIB = 1 << 30


def _cids(value: Any) -> Any:
    return frozenset(split_names(value)) if isinstance(value, str | list | tuple) else value


def _addresses(value: Any) -> Any:
    return (
        frozenset(n.lower() for n in split_names(value)) if isinstance(value, str | list | tuple) else value
    )


#: CIDs: a list, or one comma-separated string.
CidSet = Annotated[frozenset[str], BeforeValidator(_cids)]
#: Client addresses (compared in lower case): a list, or one comma-separated string.
Addresses = Annotated[frozenset[str], BeforeValidator(_addresses)]


@dataclass(frozen=True)
class BidFilter:
    """Which slots this hoster takes (as scatter.online's hoster filter)."""

    max_size: Annotated[Size | None, Unset] = None  # bytes per slot
    min_price: Wei = 0  # wei per GiB per epoch
    min_duration: int = 1  # epochs
    max_duration: Annotated[int | None, Unset] = None
    allow_cids: CidSet = frozenset()  # empty: any CID
    deny_cids: CidSet = frozenset()
    allow_clients: Addresses = frozenset()  # lower-case addresses; empty: any client
    deny_clients: Addresses = frozenset()
    # refuse slots paying less than their gas at the current gas price (scatter.chain.economics)
    break_even: bool = True

    def rejects(self, *, size: int, price_per_epoch: int, duration: int, client: str,
                cid: str, break_even: int = 0) -> str | None:  # fmt: skip
        """Why a slot does not match, or None when it does; ``break_even``: the slot's break-even
        price in wei per GiB-epoch (refused below it when ``self.break_even``)."""
        if self.max_size is not None and size > self.max_size:
            return f"size {size} > max {self.max_size}"
        if price_per_epoch * GIB < self.min_price * size:
            return "price per GiB-epoch below minimum"
        if self.break_even and price_per_epoch * GIB < break_even * size:
            return f"price per GiB-epoch below break-even ({break_even} wei at the current gas price)"
        if duration < self.min_duration:
            return f"duration {duration} < min {self.min_duration}"
        if self.max_duration is not None and duration > self.max_duration:
            return f"duration {duration} > max {self.max_duration}"
        who = client.lower()
        if who in self.deny_clients or (self.allow_clients and who not in self.allow_clients):
            return "client not allowed"
        if cid in self.deny_cids or (self.allow_cids and cid not in self.allow_cids):
            return "CID not allowed"
        return None


class HosterConfig(DaemonSettings):
    """The hoster's settings, each declared once (name, type with its unit, default)."""

    section: ClassVar[str] = "hoster"
    env_prefix: ClassVar[str] = ENV_PREFIX

    state_dir: Path = Path(".scatter/hoster")
    rpc_url: str = "http://127.0.0.1:8545"
    host: str = "127.0.0.1"  # where the HTTP endpoint listens
    port: int = 0  # 0: a free port, chosen at start
    endpoint: str | None = None  # public URL registered on chain; default http://host:port
    ipfs_api: str | None = None  # Kubo RPC URL; None: the embedded store in state_dir/blocks
    stake: Eth = 10**18  # wei, staked at join if not registered yet
    capacity: Size = 10 * GIB  # bytes offered in total
    filter: BidFilter = Field(default_factory=BidFilter)  # from the settings of BidFilter's names
    dev_account: int | None = None  # anvil dev account index (local chains only)
    deployments: Path | None = None  # deployment record; default: SCATTER_DEPLOYMENTS or ./.scatter
    confirmations: int = 2
    poll_interval: Seconds = 1.0  # seconds between chain polls
    max_head_age: Seconds = 120.0  # /healthz is 503 when no new block was seen this long (0: never)
    # epochs per settlement range: settlement lag <= 2 epochs (capped below grace)
    settle_every: int = DEFAULT_SETTLE_EVERY
    withdraw_threshold: Annotated[Eth | None, Unset] = None  # wei; withdraw when the balance reaches it
    payout_address: str | None = None  # default: the hoster's own address
    # Cap on maxFeePerGas of every transaction, replacements included (gwei).
    max_fee_gwei: Annotated[PositiveFloat | None, Unset] = None
    fetch_gateways: Names = ()  # Trustless Gateways for public pins (besides origins)
    upload_timeout: Seconds = 300.0  # seconds for a whole upload
    upload_idle_timeout: Seconds = 20.0  # seconds without a byte before an upload is cut
    max_parallel_uploads: int = 8
    heal: bool = True  # take reopened slots of erasure-coded bids and rebuild the shard
    content_attempts: int = 20  # fetches/heals of a slot's content before the slot is given up
    # seconds between place groups of a fetched or healed slot's queue; None: 5 epochs in [10, 300]
    queue_step: Annotated[Seconds | None, Unset] = None
    log_level: str = "info"
    http_header_timeout: Seconds = 10.0  # seconds for a request's headers (slowloris), docs/operations.md
    http_body_timeout: Seconds = 30.0  # seconds without a byte of a request body
    http_max_connections_per_client: int = 256  # open connections per client IP address
    http_max_connections: int = 4096  # open connections in all

    @property
    def public_endpoint(self) -> str | None:
        return self.endpoint.rstrip("/") if self.endpoint else None

    @property
    def http_limits(self) -> HttpLimits:
        return HttpLimits(self.http_header_timeout, self.http_body_timeout,
                          self.http_max_connections_per_client, self.http_max_connections)  # fmt: skip

    @property
    def max_fee_per_gas_cap(self) -> int | None:
        """``max_fee_gwei`` in wei, or None (no cap)."""
        return None if self.max_fee_gwei is None else round(self.max_fee_gwei * 10**9)

    @classmethod
    def setting_names(cls) -> set[str]:
        """The bid filter's settings are flat names (``max_size``, ``deny_clients``, ...)."""
        return (set(cls.model_fields) - {"filter"}) | _FILTER_FIELDS

    @classmethod
    def prepare(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        rest = super().prepare({k: v for k, v in values.items() if k not in _FILTER_FIELDS})
        rest["filter"] = with_units(BidFilter, {k: v for k, v in values.items() if k in _FILTER_FIELDS})
        return rest


_FILTER_FIELDS = {f.name for f in dataclasses.fields(BidFilter)}


def load_config(
    *, config_file: Path | None = None, overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> HosterConfig:  # fmt: skip
    """Merge defaults, the TOML file, the environment and ``overrides`` (None values ignored)."""
    config = HosterConfig.load(config_file=config_file, overrides=overrides, environ=environ)
    _ = config.http_limits  # a bad limit is an error here, not at start
    return config
