"""Deploy Market (VERSION 3) and FileRegistry with web3.py (used by ``scatter deploy``,
``scatter dev`` and the ape script alike)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from scatter.chain.artifacts import load_artifact
from scatter.chain.deployments import Deployment
from scatter.chain.params import MarketParams
from scatter.chain.tx import Transactor, rpc_guard
from scatter.errors import ContractError, ScatterValueError


@dataclass(frozen=True)
class NetworkSpec:
    """A chain ``scatter deploy --network NAME`` knows: its chain id and parameter preset."""

    name: str
    chain_id: int
    preset: str


#: ``--network`` names. The RPC URL always comes from ``--rpc-url`` or ``SCATTER_RPC_URL`` (.env).
NETWORKS = {
    "sepolia": NetworkSpec("sepolia", 11155111, "testnet"),
    "holesky": NetworkSpec("holesky", 17000, "testnet"),
    "local": NetworkSpec("local", 31337, "devnet"),
}


def network_spec(name: str) -> NetworkSpec:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ScatterValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}") from None


def check_network(w3: Web3, spec: NetworkSpec) -> None:
    """Refuse to deploy when the RPC endpoint serves another chain than ``spec`` names."""
    chain_id = int(rpc_guard("reading chain id", lambda: w3.eth.chain_id))
    if chain_id != spec.chain_id:
        raise ScatterValueError(
            f"the RPC endpoint serves chain {chain_id}, not {spec.name} ({spec.chain_id}): "
            "check SCATTER_RPC_URL (or --rpc-url)"
        )


def connect(rpc_url: str, *, timeout: float = 30.0) -> Web3:
    """A Web3 over HTTP; fails with one line if the endpoint does not answer."""
    if not rpc_url.startswith(("http://", "https://")):
        raise ScatterValueError(f"RPC URL must start with http:// or https://, got {rpc_url!r}")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    rpc_guard(f"connecting to {rpc_url}", lambda: w3.eth.chain_id)
    return w3


def deploy(w3: Web3, account: LocalAccount, params: MarketParams) -> Deployment:
    """Deploy both contracts from ``account``; returns where they are (not yet recorded)."""
    params.validate()
    chain_id = rpc_guard("reading chain id", lambda: w3.eth.chain_id)
    balance = rpc_guard("reading balance", lambda: w3.eth.get_balance(account.address))
    if balance == 0:
        raise ScatterValueError(f"deployer {account.address} has no ETH on chain {chain_id}: fund it first")
    tx = Transactor(w3, account)
    market_art = load_artifact("Market")
    files_art = load_artifact("FileRegistry")
    market = tx.deploy(market_art.abi, market_art.bytecode, params.as_struct(), what="deploying Market")
    files = tx.deploy(files_art.abi, files_art.bytecode, what="deploying FileRegistry")
    market_address = market["contractAddress"]
    files_address = files["contractAddress"]
    if market_address is None or files_address is None:
        raise ContractError("deployment receipt carries no contract address")
    return deployed(
        w3, str(market_address), str(files_address), int(market["blockNumber"]), str(account.address)
    )


def deployed(w3: Web3, market: str, file_registry: str, block: int, deployer: str) -> Deployment:
    """The record of contracts just deployed (by :func:`deploy`, or by an ape account in
    ``scripts/deploy.py``), their version and parameters read back from the chain."""
    from scatter.chain.market import VERSION, Market

    chain_id = rpc_guard("reading chain id", lambda: w3.eth.chain_id)
    bound = Market(w3, market)
    version = rpc_guard("reading Market.VERSION", bound.version) if bound.has("VERSION") else VERSION
    if version != VERSION:
        raise ContractError(f"the shipped Market is version {version}, these bindings speak {VERSION}")
    return Deployment(
        chain_id=chain_id,
        market=market,
        file_registry=file_registry,
        block=block,
        deployer=deployer,
        params=bound.params().to_json(),
        contracts_version=version,
    )
