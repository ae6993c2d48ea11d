"""What a block explorer needs to verify a deployment: the standard-JSON compiler input.

Etherscan's "Solidity (Standard-Json-Input)" form (and its API's
``codeformat=solidity-standard-json-input``) takes one JSON file holding every
source inline with the exact settings the shipped bytecode was compiled with
(:data:`scatter.chain.compile.SETTINGS`). :func:`standard_input` builds it from the
checkout: the production sources plus everything they import (the list solc's own
metadata gives), so it compiles with no file system and yields the shipped bytecode
(a test recompiles it). :func:`write_verification` saves it beside what else the form
asks for: addresses, contract names, the compiler's long version, constructor
arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_abi.abi import encode

from scatter.chain.deployments import Deployment
from scatter.chain.params import MarketParams, params_components

#: Contract name as Etherscan asks for it (``path:Name``), per deployable contract.
CONTRACTS = {
    "Market": "contracts/Market.sol:Market",
    "FileRegistry": "contracts/FileRegistry.sol:FileRegistry",
}


def standard_input() -> dict[str, Any]:
    """The standard-JSON input of the shipped contracts, every source inline (needs the checkout's solc)."""
    import solcx

    from scatter.chain.compile import SETTINGS, contract_sources
    from scatter.chain.toolchain import repo_root, solc_path

    root = repo_root()
    own = {str(p.relative_to(root)): p for p in contract_sources(root)}
    settings = {**SETTINGS, "outputSelection": {"*": {"*": ["metadata"]}}}
    request = {"language": "Solidity", "sources": {n: {"content": p.read_text()} for n, p in own.items()},
               "settings": settings}  # fmt: skip
    output = solcx.compile_standard(
        request, base_path=str(root), allow_paths=[str(root)], solc_binary=str(solc_path())
    )
    names = set(own)
    for contracts in output["contracts"].values():
        for data in contracts.values():
            names.update(json.loads(data["metadata"])["sources"])
    return {
        "language": "Solidity",
        "sources": {name: {"content": (root / name).read_text()} for name in sorted(names)},
        "settings": SETTINGS,
    }


def compiler_long_version() -> str:
    """``v0.8.30+commit.73712a01``: the compiler version as Etherscan lists it."""
    import subprocess

    from scatter.chain.toolchain import solc_path

    out = subprocess.run([str(solc_path()), "--version"], capture_output=True, text=True, check=True).stdout
    version = out.strip().splitlines()[-1].removeprefix("Version: ")
    return "v" + version.split(".Linux")[0].split(".Emscripten")[0]


def constructor_arguments(deployment: Deployment) -> dict[str, str]:
    """ABI-encoded constructor arguments (hex, no 0x) per contract: Market takes its Params."""
    params = MarketParams(**{k: v for k, v in deployment.params.items() if k != "genesis"})
    types = "(" + ",".join(str(c["type"]) for c in params_components()) + ")"
    return {"Market": encode([types], [params.as_struct()]).hex(), "FileRegistry": ""}


def write_verification(deployment: Deployment, directory: Path) -> Path:
    """Save ``standard-input.json`` and ``verify.json`` (what the explorer's form asks) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "standard-input.json").write_text(json.dumps(standard_input(), indent=1, sort_keys=True))
    args = constructor_arguments(deployment)
    addresses = {"Market": deployment.market, "FileRegistry": deployment.file_registry}
    info = {
        "chainId": deployment.chain_id,
        "compilerVersion": compiler_long_version(),
        "standardInput": "standard-input.json",
        "contracts": [
            {
                "name": name,
                "contractName": CONTRACTS[name],
                "address": addresses[name],
                "constructorArguments": args[name],
            }
            for name in CONTRACTS
        ],
    }
    path = directory / "verify.json"
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path
