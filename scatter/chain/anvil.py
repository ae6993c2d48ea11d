"""Start and stop a real anvil node on a free loopback port (dev network and tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scatter.chain.toolchain import anvil_path
from scatter.chain.wallet import ANVIL_MNEMONIC
from scatter.errors import ScatterTimeoutError, ToolchainError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Anvil:
    """A running anvil; use as a context manager or call :meth:`stop`."""

    port: int = 0
    chain_id: int = 31337
    accounts: int = 20
    balance_eth: int = 10_000
    block_time: float | None = None  # None: mine on every transaction
    state_path: Path | None = None  # dump/load state here to survive restarts
    # anvil keeps old blocks' states on disk (in ~/.foundry/anvil/tmp by default, never
    # removed: gigabytes per long run); ours go to a directory removed on stop, bounded.
    max_persisted_states: int = 1024
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _cache_dir: Path | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Anvil:
        if self.port == 0:
            self.port = free_port()
        cmd = [
            str(anvil_path()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--mnemonic", ANVIL_MNEMONIC,
            "--silent",
            "--cache-path", str(self._new_cache_dir()),
            "--max-persisted-states", str(self.max_persisted_states),
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path)]
        # extra flags for local experiments (e.g. --disable-code-size-limit); unset normally
        cmd += os.environ.get("SCATTER_ANVIL_EXTRA_ARGS", "").split()
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            self.stop()
            raise ToolchainError(f"cannot start anvil: {exc}") from exc
        self._wait_ready(timeout)
        return self

    def _new_cache_dir(self) -> Path:
        parent = self.state_path.parent if self.state_path is not None else None
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self._cache_dir = Path(tempfile.mkdtemp(prefix="anvil-states-", dir=parent))
        return self._cache_dir

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self.stop()
                raise ToolchainError(f"anvil exited at start: {err.strip()[:300]}")
            try:
                if httpx.post(self.url, json=body, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ScatterTimeoutError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None:
            self._stop_process(self._proc)
            self._proc = None
        if self._cache_dir is not None:
            shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._cache_dir = None

    @staticmethod
    def _stop_process(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()  # anvil writes --state on SIGTERM
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
