"""The validator's settings: defaults < TOML file < environment (and ``.env``) < command line.

Every setting has an environment variable ``SCATTER_VALIDATOR_<NAME>`` (upper
case) and a key of the same name in the ``[validator]`` table of a TOML file
(``--config`` or ``SCATTER_VALIDATOR_CONFIG``; a file without that table is
read at its top level). ``SCATTER_RPC_URL`` is also read for ``rpc_url``. The
signing key comes from :func:`scatter.chain.wallet.load_account`
(``SCATTER_PRIVATE_KEY``, or ``SCATTER_KEYSTORE`` + ``SCATTER_KEYSTORE_PASSWORD``)
or, on a local anvil, ``dev_account``; it is never stored here or logged.

Units (parsed the same way by both daemons, :mod:`scatter.daemon.settings`): ``stake``
in ETH (``"1.5"``, or ``"1500000000gwei"``); ``max_bandwidth`` in bytes per second
(``"50MiB"``); times in seconds (``"0.5"``, ``"30s"``, ``"5m"``); booleans ``true``/``false``
(``yes``/``no``, ``on``/``off``, ``1``/``0``); an optional setting is unset by ``none``,
``off`` or an empty value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final

from scatter.daemon.http import HttpLimits
from scatter.daemon.settings import DaemonSettings, Eth, Names, Seconds, Size, Unset
from scatter.errors import ScatterValueError

ENV_PREFIX: Final = "SCATTER_VALIDATOR_"

DEFAULT_SAMPLES: Final = 8
"""c, the leaves fetched per deal per epoch (see docs/validator.md, "Choosing c")."""


class ValidatorConfig(DaemonSettings):
    """The validator's settings, each declared once (name, type with its unit, default)."""

    section: ClassVar[str] = "validator"
    env_prefix: ClassVar[str] = ENV_PREFIX

    state_dir: Path = Path(".scatter/validator")
    rpc_url: str = "http://127.0.0.1:8545"
    host: str = "127.0.0.1"  # where the publishing API listens
    port: int = 0  # 0: a free port, chosen at start
    endpoint: str | None = None  # public URL registered on chain; default http://host:port
    stake: Eth = 10**18  # wei, staked at join (and topped up to) if below
    dev_account: int | None = None  # anvil dev account index (local chains only)
    deployments: Path | None = None  # deployment record; default SCATTER_DEPLOYMENTS or ./.scatter
    market: str | None = None  # Market address; default: from the deployment record
    confirmations: int = 2  # blocks on top before events and randomness are used
    poll_interval: Seconds = 1.0  # seconds between chain polls (shorter for short epochs)
    max_head_age: Seconds = 120.0  # /healthz is 503 when no new block was seen this long (0: never)
    samples: int = DEFAULT_SAMPLES  # c
    deadline: Annotated[Seconds | None, Unset] = None  # seconds for the c leaves; default min(10, epoch / 5)
    # Seconds to learn a DAG's inner nodes; default min(60, epoch / 3).
    learn_timeout: Annotated[Seconds | None, Unset] = None
    attempts: int = 6  # most attempts per deal per epoch (retries with backoff; slow is never fail)
    spread: float = 0.5  # first attempts spread over this fraction of the check window
    concurrency: int = 64  # checks in flight
    max_cpu: Annotated[float | None, Unset] = 0.5  # share of one core the daemon may use (None: no cap)
    max_bandwidth: Annotated[Size | None, Unset] = None  # bytes/s fetched from hosters (None: no cap)
    warmup_epochs: int = 1  # first epochs of a deal that never get a fail verdict
    # Probe each deal about once per this many epochs and attest to the epochs between two ok
    # probes (docs/validator.md, "Sampled probes"); 1: every epoch.
    probe_every: int = 1
    report_faults: bool = True  # send proof requests, missed-proof reports and audits
    exclude: Names = ()  # more addresses of this operator (its hosters, clients)
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

    def deadline_for(self, epoch_seconds: int) -> float:
        return self.deadline if self.deadline is not None else min(10.0, epoch_seconds / 5)

    def learn_timeout_for(self, epoch_seconds: int) -> float:
        return self.learn_timeout if self.learn_timeout is not None else min(60.0, epoch_seconds / 3)


def load_config(
    *,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ValidatorConfig:
    """Merge defaults, the TOML file, the environment and ``overrides`` (None values ignored)."""
    config = ValidatorConfig.load(config_file=config_file, overrides=overrides, environ=environ)
    _validate(config)
    _ = config.http_limits  # a bad limit is an error here, not at start
    return config


def _validate(c: ValidatorConfig) -> None:
    if c.samples < 1:
        raise ScatterValueError("samples (c) must be at least 1")
    if c.attempts < 1:
        raise ScatterValueError("attempts must be at least 1")
    if c.probe_every < 1:
        raise ScatterValueError("probe_every must be at least 1 (1: probe every epoch)")
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
