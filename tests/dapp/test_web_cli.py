"""`scatter web`: the dapp and the web node API for a chain, served by one process, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.dapp.conftest import DappEnv

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_scatter_web_serves_the_dapp_and_its_deployment(dapp_env: DappEnv) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env["SCATTER_DEPLOYMENTS"] = str(dapp_env.net.record_path)
    command = [sys.executable, "-m", "scatter", "web", "--rpc-url", dapp_env.rpc_url, "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"scatter web exited with {proc.poll()}"
            match = re.match(r"dapp\s+(http://127\.0\.0\.1:\d+)/", line)
            url = match.group(1) if match else None
        assert url is not None
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 200 and "<title>Scatter</title>" in page.text
        chain = httpx.get(url + "/deployment.json", timeout=30).json()["chains"][str(dapp_env.chain_id)]
        assert chain["rpcUrl"] == dapp_env.rpc_url  # a loopback RPC is handed to the page
        assert chain["market"] == dapp_env.net.deployment.market  # type: ignore[union-attr]
        assert httpx.get(url + "/api/status", timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
