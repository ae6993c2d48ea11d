"""`scatter deploy --network sepolia`, rehearsed on a local anvil with Sepolia's chain id: the
record it writes loads from a file, a URL and the Market's address alone; the saved
standard-JSON input is what Etherscan needs; deploys never write a `scatter dev` record."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.artifacts import load_artifact
from scatter.chain.deploy import connect
from scatter.chain.deployments import find_deployment, from_chain
from scatter.chain.market import Market
from scatter.chain.params import preset
from scatter.errors import ScatterNotFoundError, ScatterValueError
from tests.integration.toolchain.conftest import DEPLOYER, SEPOLIA_CHAIN_ID, SepoliaDeploy, clean_env, scatter

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def test_deploy_network_sepolia_takes_rpc_and_key_from_dotenv(sepolia_deploy: SepoliaDeploy) -> None:
    out = sepolia_deploy.out
    assert out["chain_id"] == SEPOLIA_CHAIN_ID
    assert out["deployer"] == wallet.dev_account(DEPLOYER).address
    assert sepolia_deploy.record == sepolia_deploy.workdir / ".scatter" / "deployments.json"
    market = Market(connect(sepolia_deploy.node.url), out["market"])
    assert market.params().epoch_seconds == preset("testnet").epoch_seconds


def test_deploy_network_sepolia_refuses_another_chain(anvil: Anvil, tmp_path: Path) -> None:
    key = wallet.dev_account(9).key.hex()
    env = clean_env(SCATTER_RPC_URL=anvil.url, SCATTER_PRIVATE_KEY=key)
    done = scatter("deploy", "--network", "sepolia", cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "not sepolia (11155111)" in done.stderr
    assert not (tmp_path / ".scatter").exists()


def test_verification_constructor_arguments_rebuild_the_creation_input(sepolia_deploy: SepoliaDeploy) -> None:
    info = json.loads((sepolia_deploy.record.parent / "verify" / "11155111" / "verify.json").read_text())
    assert info["compilerVersion"].startswith("v0.8.30+commit.")
    w3 = connect(sepolia_deploy.node.url)
    block = w3.eth.get_block(sepolia_deploy.out["block"], full_transactions=True)
    txs = [tx for tx in block["transactions"] if not isinstance(tx, bytes)]  # full transactions
    created = {w3.eth.get_transaction_receipt(tx["hash"])["contractAddress"]: tx["input"] for tx in txs}
    market = next(c for c in info["contracts"] if c["name"] == "Market")
    assert market["address"] == sepolia_deploy.out["market"]
    expected = load_artifact("Market").bytecode.removeprefix("0x") + market["constructorArguments"]
    assert created[market["address"]].hex().removeprefix("0x") == expected


@pytest.mark.slow
def test_standard_input_compiles_alone_to_the_shipped_bytecode(
    sepolia_deploy: SepoliaDeploy, tmp_path: Path
) -> None:
    """Every source is inline: solc, run where no contract file exists, yields the shipped code."""
    request = json.loads(
        (sepolia_deploy.record.parent / "verify" / "11155111" / "standard-input.json").read_text()
    )
    assert any(name.startswith("node_modules/@openzeppelin/") for name in request["sources"])
    request["settings"]["outputSelection"] = {
        "contracts/Market.sol": {"Market": ["evm.bytecode.object"]},
        "contracts/FileRegistry.sol": {"FileRegistry": ["evm.bytecode.object"]},
    }
    done = subprocess.run([str(REPO / "tools" / "solc"), "--standard-json"], input=json.dumps(request),
                          capture_output=True, text=True, cwd=tmp_path, timeout=900)  # fmt: skip
    output = json.loads(done.stdout)
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"], output["errors"]
    for source, name in (("contracts/Market.sol", "Market"), ("contracts/FileRegistry.sol", "FileRegistry")):
        compiled = output["contracts"][source][name]["evm"]["bytecode"]["object"]
        assert "0x" + compiled == load_artifact(name).bytecode, name


# ------------------------------------------------------------- loading the record


@pytest.fixture()
def served(sepolia_deploy: SepoliaDeploy) -> Iterator[str]:
    """The record at an http:// URL (a static file server on loopback)."""
    directory = str(sepolia_deploy.record.parent)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=directory, **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/deployments.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_record_loads_from_a_file_and_from_a_url(
    sepolia_deploy: SepoliaDeploy, served: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCATTER_MARKET", raising=False)
    from_file = find_deployment(SEPOLIA_CHAIN_ID, [sepolia_deploy.record])
    monkeypatch.setenv("SCATTER_DEPLOYMENTS", served)
    from_url = find_deployment(SEPOLIA_CHAIN_ID)
    assert from_url == from_file and from_file.market == sepolia_deploy.out["market"]
    monkeypatch.setenv("SCATTER_DEPLOYMENTS", served.replace("deployments.json", "missing.json"))
    with pytest.raises(Exception, match="HTTP 404"):
        find_deployment(SEPOLIA_CHAIN_ID)


def test_the_market_address_alone_is_enough(
    sepolia_deploy: SepoliaDeploy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no record anywhere
    monkeypatch.delenv("SCATTER_DEPLOYMENTS", raising=False)
    w3 = connect(sepolia_deploy.node.url)
    recorded = find_deployment(SEPOLIA_CHAIN_ID, [sepolia_deploy.record])
    monkeypatch.setenv("SCATTER_MARKET", recorded.market.lower())
    monkeypatch.setenv("SCATTER_FILE_REGISTRY", recorded.file_registry)
    found = find_deployment(SEPOLIA_CHAIN_ID, w3=w3)
    assert (found.market, found.file_registry, found.params) == (recorded.market, recorded.file_registry,
                                                                 recorded.params)  # fmt: skip
    # the event scan starts no later than the deployment, and not before the Market's genesis
    genesis = recorded.params["genesis"]
    assert found.block <= recorded.block
    assert found.block == 0 or w3.eth.get_block(found.block - 1)["timestamp"] < genesis
    with pytest.raises(ScatterValueError, match="nothing connected"):
        find_deployment(SEPOLIA_CHAIN_ID)


def test_a_market_address_that_holds_no_market_is_refused(sepolia_deploy: SepoliaDeploy) -> None:
    w3 = connect(sepolia_deploy.node.url)
    with pytest.raises(ScatterNotFoundError, match="no contract"):
        from_chain(w3, "0x" + "12" * 20)
    registry = find_deployment(SEPOLIA_CHAIN_ID, [sepolia_deploy.record]).file_registry
    with pytest.raises(ScatterValueError, match="not a Scatter Market"):
        from_chain(w3, registry)


def test_the_sdk_connects_with_the_record(
    sepolia_deploy: SepoliaDeploy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scatter import Scatter

    monkeypatch.chdir(tmp_path)
    for name, value in {"SCATTER_RPC_URL": sepolia_deploy.node.url,
                        "SCATTER_DEPLOYMENTS": str(sepolia_deploy.record),
                        "SCATTER_PRIVATE_KEY": wallet.dev_account(7).key.hex()}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SCATTER_MARKET", raising=False)
    client = Scatter.connect()
    assert client.network.deployment.market == sepolia_deploy.out["market"]
    assert client.network.chain_id == SEPOLIA_CHAIN_ID


# ------------------------------------------------------------- a dev network's record


def _dev_record(workdir: Path) -> Path:
    """What `scatter dev` leaves in a directory: its summary and its own record."""
    dev = workdir / ".scatter" / "dev"
    dev.mkdir(parents=True)
    (dev / "dev.json").write_text(json.dumps({"rpcUrl": "http://127.0.0.1:1", "chainId": 31337}))
    record = dev / "deployments.json"
    record.write_text(json.dumps({"version": 1, "chains": {"31337": {"market": "0x" + "ab" * 20}}}))
    return record


def test_scatter_deploy_leaves_a_dev_record_alone(anvil: Anvil, tmp_path: Path) -> None:
    record = _dev_record(tmp_path)
    before = record.read_bytes()
    done = scatter("deploy", "--rpc-url", anvil.url, "--network", "local", "--dev-account", "9", "--json",
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["record"] == str(tmp_path / ".scatter" / "deployments.json")
    assert record.read_bytes() == before


def test_a_deploy_into_a_dev_record_is_refused_before_any_transaction(anvil: Anvil, tmp_path: Path) -> None:
    record = _dev_record(tmp_path)
    before = record.read_bytes()
    w3 = connect(anvil.url)
    deployer = wallet.dev_account(9).address
    nonce = w3.eth.get_transaction_count(deployer)
    env = clean_env(SCATTER_DEPLOYMENTS=str(record))
    done = scatter("deploy", "--rpc-url", anvil.url, "--dev-account", "9", cwd=tmp_path, env=env)
    assert done.returncode == 1 and "scatter dev" in done.stderr, done.stderr
    assert record.read_bytes() == before
    assert w3.eth.get_transaction_count(deployer) == nonce


APE = Path(sys.executable).parent / "ape"


@pytest.mark.slow
@pytest.mark.skipif(not APE.exists(), reason="eth-ape not installed")
@pytest.mark.parametrize(
    ("signer", "deployer"),
    [({"SCATTER_DEV_ACCOUNT": "0"}, 0), ({"SCATTER_APE_ACCOUNT": "TEST::2"}, 2)],
    ids=["scatter-key", "ape-account"],
)
def test_ape_run_deploy_writes_the_local_record_and_leaves_the_dev_record_alone(
    tmp_path: Path, signer: dict[str, str], deployer: int
) -> None:
    """The ape script in a project of its own (the repository's ape-config and script); signed
    by a key as `scatter deploy` loads it, or by an ape account (what a Ledger plugin provides)."""
    shutil.copy(REPO / "ape-config.yaml", tmp_path / "ape-config.yaml")
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "deploy.py", tmp_path / "scripts" / "deploy.py")
    record = _dev_record(tmp_path)
    before = record.read_bytes()
    with Anvil() as node:
        done = subprocess.run(
            [str(APE), "run", "deploy", "--network", f"ethereum:local:{node.url}"],
            cwd=tmp_path, env=clean_env(**signer), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        written = json.loads((tmp_path / ".scatter" / "deployments.json").read_text())["chains"]["31337"]
        assert Web3.is_address(written["market"]) and Web3.is_address(written["fileRegistry"])
        assert written["deployer"] == wallet.dev_account(deployer).address
        market = Market(connect(node.url), written["market"])
        assert market.params().epoch_seconds == 2  # devnet preset
        assert (
            connect(node.url).eth.get_block(written["block"])["timestamp"] >= written["params"]["genesis"] - 2
        )
    assert record.read_bytes() == before
