"""The local marketplace behind ``scatter dev``: anvil, the contracts, hosters, validators, the web node.

Everything runs on 127.0.0.1. Anvil and each daemon are separate processes
(``scatter hoster run`` / ``scatter validator run``, each with its own dev
account, state directory, port and log file); the web node's API runs in this
process. A child that exits unexpectedly is reported and restarted (with a
growing delay if it keeps crashing); :meth:`DevNetwork.stop` stops the children
first and anvil last, so that anvil dumps the chain state for the next start.

Accounts (anvil's public test mnemonic; dev chains only):

=============  ==========================================
index 0        deployer
index 1..9     clients (1 is the CLI's default on the dev chain; 9 pays the web node's /pins)
index 10..49   hosters (hoster i uses 10 + i)
index 50..79   validators (validator j uses 50 + j)
=============  ==========================================

State lives in ``state_dir``: ``anvil-state.json``, ``hosters/<i>/``,
``validators/<j>/``, ``logs/*.log`` and ``dev.json``, the summary for people
and scripts (also what other ``scatter`` commands run in the directory read to
find the dev chain). A restart with the same state dir keeps the chain, the
deployment (Market version 3, the ``devnet`` preset of :mod:`scatter.chain.params`),
the daemons' ports and state, and resumes the chain's clock where it stopped
(see :meth:`DevNetwork._start_anvil`): the downtime costs no epoch, so it
faults nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scatter.chain import deployments, wallet
from scatter.chain.anvil import Anvil, free_port
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import Deployment
from scatter.chain.params import preset
from scatter.errors import ScatterError, ScatterTimeoutError, ScatterValueError

SUMMARY_VERSION = 2
CLIENT_ACCOUNTS = range(1, 10)
PIN_ACCOUNT = 9  # the web node's pinning wallet (/pins): never the CLI's default client
PINS_TOKEN_FILE = "pins-token"  # in state_dir: the dev token of /pins (mode 0600)
HOSTER_BASE = 10
MAX_HOSTERS = 40
VALIDATOR_BASE = 50
MAX_VALIDATORS = 30
ANVIL_ACCOUNTS = 80
DEFAULT_PORT = 8700  # web node; hosters at port + 10 + i, validators at port + 60 + j
ACCOUNT_BALANCE_ETH = 1_000_000  # the SDK default price pays gas of 2 s epochs: bids cost hundreds of ETH
BLOCK_SECONDS = 1
LOG_MAX_BYTES = 16 << 20  # per daemon log: then copied to <name>.log.1 and emptied (rotate_log)
#: Anvil never reorganises and mines a block a second, while an epoch is two seconds:
#: daemons waiting the default two confirmations would see each epoch's randomness only
#: once the epoch is over, and a validator polling once a second would see the end of its
#: checking window only in the next epoch. The dev network trusts its one node and polls
#: faster; the validators' warm-up leaves a hoster that takes a reopened slot the 2-3
#: epochs it needs to fetch k shards and rebuild its own before it is checked. A poll with
#: no new block costs one eth_blockNumber (the hosters poll half as often: nothing of
#: theirs has a sub-second deadline); ``python -m scatter.bench.idle`` measures what an idle
#: network costs. Checking every deal every 2-second epoch by every
#: validator on one 2-core machine: with 8 leaves per check a hundred deals are ~1,200
#: requests a second to Python hosters: the checks of a busy dev network were mostly
#: late (unpaid epochs, never a fault), and the missed quorums that followed asked the hosters for
#: proofs under the same load. The dev network checks 5 leaves with 0.8 s to answer and probes
#: each deal about once in 5 epochs, attesting to the epochs between two ok probes
#: (scatter/validator/probes.py); possession proofs and audits still cover every segment.
DEV_DAEMON_ARGS: dict[str, list[str]] = {
    # hosters keep the default bid filter (break_even): the SDK, the CLI, the dapp and the pinning
    # service all bid 2x the break-even by default (docs/hoster.md)
    "hoster": ["--confirmations", "0", "--poll-interval", "0.5"],
    "validator": [
        "--confirmations",
        "0",
        "--poll-interval",
        "0.25",
        "--warmup-epochs",
        "3",
        "--samples",
        "5",
        "--deadline",
        "0.8",
        "--probe-every",
        "5",
    ],
}


@dataclass
class Child:
    """One supervised daemon process."""

    name: str
    role: str  # hoster | validator
    account: int
    port: int
    state_dir: Path
    log_path: Path
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stopped: bool = False  # stopped on purpose: not restarted
    next_start: float = 0.0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return str(wallet.dev_account(self.account).address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("ab")
        # Own session: a Ctrl-C in the terminal reaches only `scatter dev`, which stops children in order.
        self.proc = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.stopped = False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL and keep it down (a hoster dying, for tests and demos)."""
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": self.account,
            "address": self.address,
            "url": self.url,
            "pid": self.proc.pid if self.proc is not None else None,
            "stateDir": str(self.state_dir),
            "log": str(self.log_path),
            "restarts": self.restarts,
        }


@dataclass
class DevNetwork:
    state_dir: Path
    epoch_seconds: int = 2
    rpc_port: int = 8545
    hosters: int = 8
    validators: int = 3
    port: int = DEFAULT_PORT  # web node; 0: free ports for everything (tests)
    stake_eth: int = 10_000  # a default 30-day slot locks ~36 ETH of collateral at 1 gwei gas
    web: bool = True
    daemon_args: dict[str, list[str]] = field(default_factory=dict)  # extra CLI args per role
    on_event: Callable[[str], object] = lambda _msg: None
    anvil: Anvil | None = None
    deployment: Deployment | None = None
    children: list[Child] = field(default_factory=list)
    _web_server: Any = None
    _pinning: Any = None

    @property
    def summary_path(self) -> Path:
        return self.state_dir / "dev.json"

    @property
    def record_path(self) -> Path:
        return self.state_dir / "deployments.json"  # its own: deploys elsewhere never clobber it

    @property
    def rpc_url(self) -> str:
        assert self.anvil is not None
        return self.anvil.url

    @property
    def web_url(self) -> str | None:
        return self._web_server.url if self._web_server is not None else None

    # ------------------------------------------------------------------ start

    def start(self, *, ready_timeout: float = 120.0) -> DevNetwork:
        if not 0 <= self.hosters <= MAX_HOSTERS:
            raise ScatterValueError(f"--hosters must be between 0 and {MAX_HOSTERS}")
        if not 0 <= self.validators <= MAX_VALIDATORS:
            raise ScatterValueError(f"--validators must be between 0 and {MAX_VALIDATORS}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        saved_ports = self._saved_ports() if self.port == 0 else {}
        resuming = self._start_anvil()
        try:
            w3 = connect(self.rpc_url)
            self.deployment = self._existing_deployment(w3)
            if self.deployment is None:
                if resuming:  # a saved chain without our contracts: deploying needs blocks
                    self._resume_clock()
                    resuming = False
                self.deployment = self._deploy(w3)
            deployments.record_deployment(self.deployment, self.record_path)
            self._write_summary()  # the chain is usable from here on
            self.children = self._plan_children(saved_ports)
            env = self._child_env()
            for child in self.children:
                child.start(env)
            if self.web:
                self._start_web()
            if self.children:
                self.wait_ready(ready_timeout)
        finally:
            if resuming:
                self._resume_clock()
        self._write_summary()
        return self

    def _start_anvil(self) -> bool:
        """Start anvil; returns whether it resumed a saved chain, whose clock is then paused.

        A saved chain resumes at the second it stopped, not at the wall clock: anvil
        would otherwise stamp the first block after a restart with the time of day, and
        every epoch of the downtime would pass at once, with the daemons still starting
        (challenges overdue, epochs without a quorum). So anvil starts without mining,
        the daemons start against the chain as it was, and :meth:`_resume_clock` restarts
        one-second blocks from the last block's timestamp: a restart costs no epoch.
        """
        state = self.state_dir / "anvil-state.json"
        resuming = state.exists() and state.stat().st_size > 0
        if self.anvil is None:
            self.anvil = Anvil(
                port=self.rpc_port,
                accounts=ANVIL_ACCOUNTS,
                balance_eth=ACCOUNT_BALANCE_ETH,
                state_path=state,
            )
        # One-second blocks keep block.timestamp, and so the epoch, moving while idle.
        self.anvil.block_time = None if resuming else BLOCK_SECONDS
        self.anvil.start()
        if resuming:
            self._rpc("evm_setAutomine", [False])
        return resuming

    def _resume_clock(self) -> None:
        """Mine a block a second again, from one second after the last saved block."""
        latest = self._rpc("eth_getBlockByNumber", ["latest", False])
        self._rpc("anvil_setTime", [int(latest["timestamp"], 16) + 1])
        self._rpc("evm_setIntervalMining", [BLOCK_SECONDS])

    def _rpc(self, method: str, params: list[Any]) -> Any:
        import httpx

        assert self.anvil is not None
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        reply = httpx.post(self.anvil.url, json=body, timeout=10.0).json()
        if "error" in reply:
            raise ScatterValueError(f"anvil refused {method}: {reply['error']}")
        return reply.get("result")

    def _existing_deployment(self, w3: Any) -> Deployment | None:
        if not self.summary_path.exists():
            return None
        try:
            known = json.loads(self.summary_path.read_text())
            deployment = Deployment.from_json(int(known["chainId"]), known["contracts"])
        except (ValueError, KeyError):
            return None
        if len(w3.eth.get_code(deployment.market)) == 0:
            return None
        from scatter.chain.market import VERSION, Market

        try:
            version = Market(w3, deployment.market).version()
        except ScatterError:
            version = 0
        if version != VERSION:
            raise ScatterValueError(
                f"{self.state_dir} holds a Market of version {version}, this release speaks version "
                f"{VERSION}: remove {self.state_dir} (or pass another --state-dir) to start afresh"
            )
        return deployment

    def _deploy(self, w3: Any) -> Deployment:
        params = preset("devnet").with_overrides(epoch_seconds=self.epoch_seconds)
        return deploy(w3, wallet.dev_account(0), params)

    def _port_for(self, offset: int) -> int:
        return free_port() if self.port == 0 else self.port + offset

    def _saved_ports(self) -> dict[str, int]:
        """Ports the children had before a restart (kept with ``port=0``: the endpoints
        the hosters registered on chain must keep answering)."""
        try:
            known = json.loads(self.summary_path.read_text())
            return {
                str(c["name"]): int(str(c["url"]).rsplit(":", 1)[1])
                for role in ("hosters", "validators")
                for c in known.get(role, [])
            }
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return {}

    def _plan_children(self, saved: dict[str, int] | None = None) -> list[Child]:
        py = [sys.executable, "-m", "scatter"]
        saved = saved or {}
        children = []
        for role, count, base, offset in (
            ("hoster", self.hosters, HOSTER_BASE, 10),
            ("validator", self.validators, VALIDATOR_BASE, 60),
        ):
            for i in range(count):
                port = saved.get(f"{role}-{i}") or self._port_for(offset + i)
                state = self.state_dir / f"{role}s" / str(i)
                command = [
                    *py, role, "run",
                    "--rpc-url", self.rpc_url,
                    "--dev-account", str(base + i),
                    "--state-dir", str(state),
                    "--port", str(port),
                    "--stake", str(self.stake_eth),
                    "--deployments", str(self.record_path),
                    *DEV_DAEMON_ARGS.get(role, []),
                    *self.daemon_args.get(role, []),
                ]  # fmt: skip
                children.append(
                    Child(
                        name=f"{role}-{i}",
                        role=role,
                        account=base + i,
                        port=port,
                        state_dir=state,
                        log_path=self.state_dir / "logs" / f"{role}-{i}.log",
                        command=command,
                    )
                )
        return children

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
        env["SCATTER_DEPLOYMENTS"] = str(self.record_path)
        env["SCATTER_RPC_URL"] = self.rpc_url
        env["PYTHONUNBUFFERED"] = "1"
        # every daemon dials from 127.0.0.1 here: three validators' check pools (128 connections
        # each) must not look like one client over its cap to a hoster
        env["SCATTER_HOSTER_HTTP_MAX_CONNECTIONS_PER_CLIENT"] = "1024"
        return env

    def _start_web(self) -> None:
        from scatter.client import Scatter
        from scatter.ipfs.gateway.server import GatewayServer
        from scatter.sdk.network import Network
        from scatter.web.app import create_app, settings_from_env

        assert self.deployment is not None
        network = Network(connect(self.rpc_url), self.rpc_url, self.deployment, True)
        sdk = Scatter(network, wallet.dev_account(CLIENT_ACCOUNTS[0]), state_root=self.state_dir / "web")
        web = settings_from_env()
        self._pinning = self._start_pinning(network)
        app = create_app(
            sdk,
            allowed_hosts=web["allowed_hosts"],
            allowed_origins=web["allowed_origins"],
            pinning=self._pinning,
        )
        self._web_server = GatewayServer(app, "127.0.0.1", self._port_for(0)).start()

    def _start_pinning(self, network: Any) -> Any:
        """The Pinning Service API's store and worker (wallet: dev account PIN_ACCOUNT; loopback
        origins allowed; SCATTER_PINS_* apply), and the dev token in ``state_dir/pins-token``."""
        from scatter.client import Scatter
        from scatter.web.pinning import PinningService, PinSettings
        from scatter.web.pinning.settings import DEV_DB

        raw = {
            "db": str(self.state_dir / DEV_DB),
            "allow_private_origins": "true",
            "spend_cap": "10000eth",  # dev accounts hold 1,000,000 ETH; a 30-day pin of 2 s epochs ~200 ETH
            **PinSettings.raw_settings(),
        }
        pin_sdk = Scatter(network, wallet.dev_account(PIN_ACCOUNT), state_root=self.state_dir / "web")
        service = PinningService(PinSettings.parse(raw), pin_sdk)
        token_file = self.state_dir / PINS_TOKEN_FILE
        known = token_file.read_text().strip() if token_file.exists() else ""
        if not known or service.store.token_for(known) is None:
            _token, secret = service.store.create_token("dev", service.settings.spend_cap)
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secret + "\n")
        return service.start()

    def wait_ready(self, timeout: float) -> None:
        """Until every daemon has joined the market with its endpoint and answers on its port."""
        from scatter.chain.market import Market, NodeStatus, Role

        assert self.deployment is not None
        market = Market(connect(self.rpc_url), self.deployment.market)
        deadline = time.monotonic() + timeout
        pending = list(self.children)
        while pending:
            for child in list(pending):
                if not child.running():
                    self._restart_if_crashed(child)
                    continue
                role = Role.HOSTER if child.role == "hoster" else Role.VALIDATOR
                node = market.node(role, child.address)
                if node.status == NodeStatus.ACTIVE and _answers(child.url):
                    pending.remove(child)
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{c.name} (log: {c.log_path})" for c in pending)
                raise ScatterTimeoutError(f"not ready within {timeout:.0f}s: {names}")
            time.sleep(0.5)

    # ------------------------------------------------------------------ run

    def summary(self) -> dict[str, Any]:
        assert self.anvil is not None and self.deployment is not None
        hosters = [c.summary() for c in self.children if c.role == "hoster"]
        validators = [c.summary() for c in self.children if c.role == "validator"]
        return {
            "version": SUMMARY_VERSION,
            "rpcUrl": self.anvil.url,
            "chainId": self.deployment.chain_id,
            "epochSeconds": self.deployment.params.get("epoch_seconds"),
            "contracts": self.deployment.to_json(),
            "web": {"url": self.web_url, "api": f"{self.web_url}/api" if self.web_url else None},
            "pins": {
                "url": self.web_url,
                "tokenFile": str(self.state_dir / PINS_TOKEN_FILE) if self._pinning is not None else None,
            },
            "hosters": hosters,
            "validators": validators,
            "clients": [
                {"index": i, "address": wallet.dev_account(i).address, "balanceEth": ACCOUNT_BALANCE_ETH}
                for i in CLIENT_ACCOUNTS
            ],
            "defaultClient": CLIENT_ACCOUNTS[0],
            # Kept for scripts written against version 1 of this file.
            "accounts": [
                {"index": i, "address": wallet.dev_account(i).address, "balanceEth": ACCOUNT_BALANCE_ETH}
                for i in range(10)
            ],
            "note": "dev accounts use anvil's public test mnemonic: never send real funds to them",
            "stakeEth": self.stake_eth,
            "stateDir": str(self.state_dir),
        }

    def _write_summary(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.state_dir, delete=False, suffix=".tmp") as tmp:
            json.dump(self.summary(), tmp, indent=2)
            tmp.write("\n")
        Path(tmp.name).replace(self.summary_path)

    def child(self, name: str) -> Child:
        for c in self.children:
            if c.name == name:
                return c
        raise ScatterValueError(f"no child named {name!r}")

    def _restart_if_crashed(self, child: Child) -> bool:
        if child.stopped or child.running() or time.monotonic() < child.next_start:
            return False
        code = child.proc.returncode if child.proc is not None else None
        child.restarts += 1
        delay = min(30.0, 0.5 * 2 ** min(child.restarts, 6))
        self.on_event(
            f"{child.name} exited with code {code}; restarting it "
            f"(restart {child.restarts}, log: {child.log_path})"
        )
        child.start(self._child_env())
        child.next_start = time.monotonic() + delay  # a child that keeps crashing is restarted less often
        self._write_summary()
        return True

    def supervise_once(self) -> None:
        """Restart anvil or any daemon that died (unless stopped on purpose); keep logs bounded."""
        if self.anvil is not None and not self.anvil.running():
            self.on_event("anvil exited; restarting it from its last saved state")
            if self._start_anvil():
                self._resume_clock()
        for child in self.children:
            self._restart_if_crashed(child)
            rotate_log(child.log_path)

    def wait(self) -> None:
        """Supervise until interrupted."""
        while True:
            self.supervise_once()
            time.sleep(1.0)

    def stop(self) -> None:
        """Stop the web node and the daemons (SIGTERM, then SIGKILL after 15 s), then anvil."""
        if self._web_server is not None:
            self._web_server.stop()
            self._web_server = None
        if self._pinning is not None:
            self._pinning.stop()
            self._pinning = None
        for child in self.children:
            child.stopped = True
            child.terminate()
        for child in self.children:
            child.wait_stopped(15.0)
            child.close()
        if self.anvil is not None:
            self.anvil.stop()

    def __enter__(self) -> DevNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rotate_log(path: Path, max_bytes: int = LOG_MAX_BYTES) -> bool:
    """Copy-truncate ``path`` to ``path.1`` once it exceeds ``max_bytes`` (as logrotate's
    ``copytruncate``): the daemon keeps its file descriptor, opened for appending, and writes on
    at the start of the emptied file. A log and its one predecessor: at most twice ``max_bytes``."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
        shutil.copyfile(path, path.with_name(path.name + ".1"))
        os.truncate(path, 0)
    except OSError:
        return False
    return True


def _die_with_parent() -> None:
    """In the child: get SIGTERM if `scatter dev` dies without stopping us (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _answers(url: str) -> bool:
    import httpx

    try:
        httpx.get(url + "/healthz", timeout=1.0)
    except httpx.HTTPError:
        return False
    return True
