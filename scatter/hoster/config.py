"""The hoster's settings: defaults < TOML file < environment (and ``.env``) < command line.

Every setting has an environment variable ``SCATTER_HOSTER_<NAME>`` (upper case),
and a key of the same name in the ``[hoster]`` table of a TOML file (or at its top
level). ``SCATTER_RPC_URL`` is also read for ``rpc_url``. Keys come from
:func:`scatter.chain.wallet.load_account` (``SCATTER_PRIVATE_KEY`` or an encrypted
keystore) or, on a local anvil, ``dev_account``; they are never stored here.

Amounts: ``stake`` in ETH (``"1.5"``), ``withdraw_threshold`` in ETH,
``min_price`` in wei per GiB per epoch (``"2gwei"`` also works), ``max_fee_gwei``
(the most any transaction, fee-bumped ones too, offers per gas) in gwei; sizes in bytes or
with a unit (``"10GiB"``, ``"512MiB"``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scatter.daemon.settings import layered_settings
from scatter.errors import ScatterValueError
from scatter.units import parse_amount, parse_size

ENV_PREFIX = "SCATTER_HOSTER_"
GIB = 1 << 30


@dataclass(frozen=True)
class BidFilter:
    """Which slots this hoster takes (as scatter.online's hoster filter)."""

    max_size: int | None = None  # bytes per slot
    min_price: int = 0  # wei per GiB per epoch
    min_duration: int = 1  # epochs
    max_duration: int | None = None
    allow_cids: frozenset[str] = frozenset()  # empty: any CID
    deny_cids: frozenset[str] = frozenset()
    allow_clients: frozenset[str] = frozenset()  # lower-case addresses; empty: any client
    deny_clients: frozenset[str] = frozenset()

    def rejects(self, *, size: int, price_per_epoch: int, duration: int, client: str,
                cid: str) -> str | None:  # fmt: skip
        """Why a slot does not match, or None when it does."""
        if self.max_size is not None and size > self.max_size:
            return f"size {size} > max {self.max_size}"
        if price_per_epoch * GIB < self.min_price * size:
            return "price per GiB-epoch below minimum"
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


@dataclass(frozen=True)
class HosterConfig:
    state_dir: Path
    rpc_url: str = "http://127.0.0.1:8545"
    host: str = "127.0.0.1"  # where the HTTP endpoint listens
    port: int = 0  # 0: a free port, chosen at start
    endpoint: str | None = None  # public URL registered on chain; default http://host:port
    ipfs_api: str | None = None  # Kubo RPC URL; None: the embedded store in state_dir/blocks
    stake: int = 10**18  # wei, staked at join if not registered yet
    capacity: int = 10 * GIB  # bytes offered in total
    filter: BidFilter = field(default_factory=BidFilter)
    dev_account: int | None = None  # anvil dev account index (local chains only)
    deployments: Path | None = None  # deployment record; default: SCATTER_DEPLOYMENTS or ./.scatter
    confirmations: int = 2
    poll_interval: float = 1.0  # seconds between chain polls
    settle_every: int = 2  # epochs per settlement range: settlement lag <= 2 epochs (capped below grace)
    withdraw_threshold: int | None = None  # wei; withdraw when the balance reaches it
    payout_address: str | None = None  # default: the hoster's own address
    max_fee_gwei: float | None = None  # cap on maxFeePerGas of every transaction, replacements included
    fetch_gateways: tuple[str, ...] = ()  # Trustless Gateways for public pins (besides origins)
    upload_timeout: float = 300.0  # seconds for a whole upload
    upload_idle_timeout: float = 20.0  # seconds without a byte before an upload is cut
    max_parallel_uploads: int = 8
    heal: bool = True  # take reopened slots of erasure-coded bids and rebuild the shard
    content_attempts: int = 20  # fetches/heals of a slot's content before the slot is given up
    log_level: str = "info"

    @property
    def public_endpoint(self) -> str | None:
        return self.endpoint.rstrip("/") if self.endpoint else None

    @property
    def max_fee_per_gas_cap(self) -> int | None:
        """``max_fee_gwei`` in wei, or None (no cap)."""
        return None if self.max_fee_gwei is None else round(self.max_fee_gwei * 10**9)


_LIST_FIELDS = {"allow_cids", "deny_cids", "allow_clients", "deny_clients", "fetch_gateways"}
_FILTER_FIELDS = {f.name for f in dataclasses.fields(BidFilter)}


def _coerce(name: str, value: Any) -> Any:
    """Turn a TOML value, env string or CLI value into the field's type."""
    if value is None:
        return None
    if name in _LIST_FIELDS:
        items = value.split(",") if isinstance(value, str) else list(value)
        items = [str(i).strip() for i in items if str(i).strip()]
        if name in ("allow_clients", "deny_clients"):
            return frozenset(i.lower() for i in items)
        return tuple(items) if name == "fetch_gateways" else frozenset(items)
    if name in ("max_size", "capacity"):
        return parse_size(value)
    if name == "stake" or name == "withdraw_threshold":
        return parse_amount(value, "eth")
    if name == "min_price":
        return parse_amount(value, "wei")
    if name in ("state_dir", "deployments"):
        return Path(value)
    if name in ("port", "confirmations", "settle_every", "min_duration", "max_duration", "dev_account",
                "max_parallel_uploads", "content_attempts"):  # fmt: skip
        return int(value)
    if name in ("poll_interval", "upload_timeout", "upload_idle_timeout"):
        return float(value)
    if name == "max_fee_gwei":
        if str(value).strip() == "":
            return None  # an empty SCATTER_HOSTER_MAX_FEE_GWEI= line: no cap
        gwei = float(value)
        if not gwei > 0:
            raise ValueError(f"max_fee_gwei must be a positive number of gwei, not {value!r}")
        return gwei
    if name == "heal":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    return str(value)


def load_config(
    *, config_file: Path | None = None, overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> HosterConfig:  # fmt: skip
    """Merge defaults, the TOML file, the environment and ``overrides`` (None values ignored)."""
    values = layered_settings(
        section="hoster",
        env_prefix=ENV_PREFIX,
        known={f.name for f in dataclasses.fields(HosterConfig)} | _FILTER_FIELDS,
        config_file=config_file,
        overrides=overrides,
        environ=environ,
    )
    try:
        coerced = {k: _coerce(k, v) for k, v in values.items()}
    except (TypeError, ValueError) as exc:
        raise ScatterValueError(f"bad hoster setting: {exc}") from None
    filt = BidFilter(**{k: v for k, v in coerced.items() if k in _FILTER_FIELDS})
    rest = {k: v for k, v in coerced.items() if k not in _FILTER_FIELDS}
    if "state_dir" not in rest:
        rest["state_dir"] = Path(".scatter/hoster")
    return HosterConfig(filter=filt, **rest)
