"""Each image's command line (its Dockerfile's ENTRYPOINT), run as the container runs it: the
package installed the way the Dockerfile installs it (``pip install .`` of what it COPYs) into a
fresh venv, the image's ENV, the env example's values with only what an operator fills in
(RPC URL, key, deployment) -- against a local anvil with Sepolia's chain id. The daemon must
join the market.

The fresh venv holds the package (not editable: what the image ships, artifacts and wasm
included); its dependencies come from the project's .venv through a ``.pth`` line, as
downloading them again would take minutes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.chain.deploy import connect
from scatter.chain.deployments import find_deployment
from scatter.chain.market import Market, NodeStatus, Role
from tests.integration.toolchain.conftest import SEPOLIA_CHAIN_ID, SepoliaDeploy, clean_env
from tests.integration.toolchain.docker_files import REPO, dockerfile, env_file, exec_form, image_env, stage

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HOSTER_KEY, VALIDATOR_KEY = 11, 12


@pytest.fixture(scope="module")
def image_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh venv holding the package as the Dockerfile builds it."""
    root = tmp_path_factory.mktemp("image")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):  # the Dockerfile's COPY lines
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    shutil.copytree(REPO / "scatter", src / "scatter", ignore=ignore)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (Path(site) / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", str(src)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin"


def container_env(role: str, state: Path, **filled: str) -> dict[str, str]:
    """The image's ENV, then the env example, then what the operator fills in; listening on
    loopback with a free port (the container's 0.0.0.0:8080 is not for a test)."""
    prefix = f"SCATTER_{role.upper()}_"
    env = {
        **image_env(stage(dockerfile(role), -1)),
        **env_file(REPO / "docker" / role / f"{role}.env.example"),
    }
    env.update(filled)
    env.update({prefix + "STATE_DIR": str(state), prefix + "HOST": "127.0.0.1", prefix + "PORT": "0"})
    return clean_env(**env)


@pytest.fixture()
def run_entrypoint(image_bin: Path, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def run(role: str, env: dict[str, str]) -> subprocess.Popen[str]:
        argv = exec_form(stage(dockerfile(role), -1), "ENTRYPOINT")
        argv[0] = str(image_bin / argv[0])
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)  # fmt: skip
        started.append(proc)
        return proc

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_joined(market: Market, role: Role, address: str, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        node = market.node(role, address)
        if node.status == NodeStatus.ACTIVE:
            return node.endpoint
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the daemon exited ({proc.returncode}): {out[-3000:]}")
        time.sleep(0.5)
    raise AssertionError("the daemon did not join")


def test_hoster_image_joins_given_rpc_key_and_market_address(
    sepolia_deploy: SepoliaDeploy, run_entrypoint: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    account = wallet.dev_account(HOSTER_KEY)
    filled = {"SCATTER_RPC_URL": sepolia_deploy.node.url, "SCATTER_PRIVATE_KEY": account.key.hex(),
              "SCATTER_MARKET": sepolia_deploy.out["market"]}  # fmt: skip
    refused_then_joined("hoster", filled, sepolia_deploy, run_entrypoint, tmp_path)


def test_validator_image_joins_given_rpc_key_and_a_mounted_record(
    sepolia_deploy: SepoliaDeploy, run_entrypoint: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    account = wallet.dev_account(VALIDATOR_KEY)
    config = tmp_path / "config"  # the compose file's ./config:/config:ro
    config.mkdir()
    shutil.copy(sepolia_deploy.record, config / "deployments.json")
    assert (
        find_deployment(SEPOLIA_CHAIN_ID, [config / "deployments.json"]).market
        == sepolia_deploy.out["market"]
    )
    filled = {"SCATTER_RPC_URL": sepolia_deploy.node.url, "SCATTER_PRIVATE_KEY": account.key.hex(),
              "SCATTER_MARKET": "", "SCATTER_DEPLOYMENTS": str(config / "deployments.json")}  # fmt: skip
    refused_then_joined("validator", filled, sepolia_deploy, run_entrypoint, tmp_path)


def refused_then_joined(
    role: str,
    filled: dict[str, str],
    deploy: SepoliaDeploy,
    run_entrypoint: Callable[..., subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """The image of ``role`` with the env example's placeholder endpoint is refused on a public chain
    (nothing registered); with the operator's public URL it joins."""
    setting = f"SCATTER_{role.upper()}_ENDPOINT"
    placeholder = run_entrypoint(role, container_env(role, tmp_path / f"{role}-0", **filled))
    out, _ = placeholder.communicate(timeout=240)
    assert placeholder.returncode != 0 and setting in out, out[-2000:]
    market = Market(connect(deploy.node.url), deploy.out["market"])
    node_role = Role.HOSTER if role == "hoster" else Role.VALIDATOR
    address = wallet.from_private_key(filled["SCATTER_PRIVATE_KEY"]).address
    assert market.node(node_role, address).status != NodeStatus.ACTIVE
    endpoint = f"https://{role}.scatter-operator.net"
    proc = run_entrypoint(role, container_env(role, tmp_path / f"{role}-1", **{setting: endpoint}, **filled))
    assert wait_joined(market, node_role, address, proc) == endpoint
