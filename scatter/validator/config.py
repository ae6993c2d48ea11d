"""The validator's settings: defaults < TOML file < environment (and ``.env``) < command line.

Every setting has an environment variable ``SCATTER_VALIDATOR_<NAME>`` (upper
case) and a key of the same name in the ``[validator]`` table of a TOML file
(``--config`` or ``SCATTER_VALIDATOR_CONFIG``; a file without that table is
read at its top level). ``SCATTER_RPC_URL`` is also read for ``rpc_url``. The
signing key comes from :func:`scatter.chain.wallet.load_account`
(``SCATTER_PRIVATE_KEY``, or ``SCATTER_KEYSTORE`` + ``SCATTER_KEYSTORE_PASSWORD``)
or, on a local anvil, ``dev_account``; it is never stored here or logged.

Units: ``stake`` in ETH (``"1.5"``, or ``"1500000000gwei"``); ``max_bandwidth``
in bytes per second (``"50MiB"``); times in seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scatter.daemon.settings import layered_settings
from scatter.errors import ScatterValueError
from scatter.units import parse_amount, parse_size

ENV_PREFIX: Final = "SCATTER_VALIDATOR_"

DEFAULT_SAMPLES: Final = 8
"""c, the leaves fetched per deal per epoch (see docs/validator.md, "Choosing c")."""


@dataclass(frozen=True)
class ValidatorConfig:
    state_dir: Path = Path(".scatter/validator")
    rpc_url: str = "http://127.0.0.1:8545"
    host: str = "127.0.0.1"  # where the publishing API listens
    port: int = 0  # 0: a free port, chosen at start
    endpoint: str | None = None  # public URL registered on chain; default http://host:port
    stake: int = 10**18  # wei, staked at join (and topped up to) if below
    dev_account: int | None = None  # anvil dev account index (local chains only)
    deployments: Path | None = None  # deployment record; default SCATTER_DEPLOYMENTS or ./.scatter
    market: str | None = None  # Market address; default: from the deployment record
    confirmations: int = 2  # blocks on top before events and randomness are used
    poll_interval: float = 1.0  # seconds between chain polls (shorter for short epochs)
    samples: int = DEFAULT_SAMPLES  # c
    deadline: float | None = None  # seconds for the c leaves; default min(10, epoch / 5)
    learn_timeout: float | None = None  # seconds to learn a DAG's inner nodes; default min(60, epoch / 3)
    attempts: int = 6  # most attempts per deal per epoch (retries with backoff; slow is never fail)
    spread: float = 0.5  # first attempts spread over this fraction of the check window
    concurrency: int = 64  # checks in flight
    max_cpu: float | None = 0.5  # share of one core the daemon may use (None: no cap)
    max_bandwidth: int | None = None  # bytes per second fetched from hosters (None: no cap)
    warmup_epochs: int = 1  # first epochs of a deal that never get a fail verdict
    report_faults: bool = True  # send proof requests, missed-proof reports and audits
    exclude: tuple[str, ...] = ()  # more addresses of this operator (its hosters, clients)
    log_level: str = "info"

    @property
    def public_endpoint(self) -> str | None:
        return self.endpoint.rstrip("/") if self.endpoint else None

    def deadline_for(self, epoch_seconds: int) -> float:
        return self.deadline if self.deadline is not None else min(10.0, epoch_seconds / 5)

    def learn_timeout_for(self, epoch_seconds: int) -> float:
        return self.learn_timeout if self.learn_timeout is not None else min(60.0, epoch_seconds / 3)


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


_INTS = {"port", "dev_account", "confirmations", "samples", "attempts", "concurrency", "warmup_epochs"}
_FLOATS = {"poll_interval", "deadline", "learn_timeout", "spread", "max_cpu"}


def _coerce(name: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")
                         and name in ("max_cpu", "max_bandwidth", "deadline", "learn_timeout")):  # fmt: skip
        return None
    if name == "stake":
        return parse_amount(value, "eth")
    if name == "max_bandwidth":
        return parse_size(value)
    if name in ("state_dir", "deployments"):
        return Path(value)
    if name in _INTS:
        return int(value)
    if name in _FLOATS:
        return float(value)
    if name == "report_faults":
        return _bool(value)
    if name == "exclude":
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(i).strip() for i in items if str(i).strip())
    return str(value)


def load_config(
    *,
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> ValidatorConfig:
    """Merge defaults, the TOML file, the environment and ``overrides`` (None values ignored)."""
    values = layered_settings(
        section="validator",
        env_prefix=ENV_PREFIX,
        known={f.name for f in dataclasses.fields(ValidatorConfig)},
        config_file=config_file,
        overrides=overrides,
        environ=environ,
    )
    try:
        coerced = {k: _coerce(k, v) for k, v in values.items()}
    except (TypeError, ValueError) as exc:
        raise ScatterValueError(f"bad validator setting: {str(exc).splitlines()[0]}") from None
    config = ValidatorConfig(**coerced)
    _validate(config)
    return config


def _validate(c: ValidatorConfig) -> None:
    if c.samples < 1:
        raise ScatterValueError("samples (c) must be at least 1")
    if c.attempts < 1:
        raise ScatterValueError("attempts must be at least 1")
    if not 0 < c.spread <= 1:
        raise ScatterValueError("spread must be in (0, 1]")
    if c.concurrency < 1:
        raise ScatterValueError("concurrency must be at least 1")
    if c.confirmations < 0:
        raise ScatterValueError("confirmations must be >= 0")
    if c.max_cpu is not None and c.max_cpu <= 0:
        raise ScatterValueError("max_cpu must be positive (a share of one core), or none")
    if not c.rpc_url.startswith(("http://", "https://")):
        raise ScatterValueError(f"rpc_url must start with http:// or https://, got {c.rpc_url!r}")
