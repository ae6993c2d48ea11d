"""Which chain, contracts and account the SDK and CLI use, from arguments, environment and dev.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.errors import ScatterValueError
from scatter.sdk.network import DEV_CLIENT_ACCOUNT, resolve_account, resolve_deployment, resolve_rpc_url

DEV = {
    "rpcUrl": "http://127.0.0.1:18545",
    "chainId": 31337,
    "contracts": {
        "market": "0x" + "11" * 20,
        "fileRegistry": "0x" + "22" * 20,
        "block": 3,
        "deployer": "0x" + "33" * 20,
    },
}


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("SCATTER_RPC_URL", "SCATTER_PRIVATE_KEY", "SCATTER_KEYSTORE", "SCATTER_KEYSTORE_PASSWORD",
                 "SCATTER_DEV_SUMMARY", "SCATTER_DEPLOYMENTS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write_dev(root: Path) -> None:
    (root / ".scatter" / "dev").mkdir(parents=True)
    (root / ".scatter" / "dev" / "dev.json").write_text(json.dumps(DEV))


def test_dev_summary_of_the_working_directory_is_the_default(clean_env: Path) -> None:
    assert resolve_rpc_url() == ("http://127.0.0.1:8545", None)
    _write_dev(clean_env)
    url, summary = resolve_rpc_url()
    assert url == DEV["rpcUrl"] and summary is not None
    deployment = resolve_deployment(31337, summary)
    assert deployment.market == DEV["contracts"]["market"]  # type: ignore[index]


def test_explicit_url_and_environment_win_over_the_dev_summary(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_dev(clean_env)
    assert resolve_rpc_url("http://127.0.0.1:9999") == ("http://127.0.0.1:9999", None)
    monkeypatch.setenv("SCATTER_RPC_URL", "http://127.0.0.1:7777")
    assert resolve_rpc_url() == ("http://127.0.0.1:7777", None)


def test_account_from_key_keystore_dev_index_and_dev_chain_default(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ScatterValueError, match="SCATTER_PRIVATE_KEY"):
        resolve_account()
    assert resolve_account(on_dev_chain=True).address == wallet.dev_account(DEV_CLIENT_ACCOUNT).address
    assert resolve_account(dev_account=7).address == wallet.dev_account(7).address
    key = wallet.dev_account(5)
    keystore = clean_env / "key.json"
    wallet.write_keystore(key, keystore, "pw")
    monkeypatch.setenv("SCATTER_KEYSTORE", str(keystore))
    monkeypatch.setenv("SCATTER_KEYSTORE_PASSWORD", "pw")
    # A configured key wins over the dev default, even on the dev chain.
    assert resolve_account(on_dev_chain=True).address == key.address
    monkeypatch.setenv("SCATTER_PRIVATE_KEY", "0x" + key.key.hex().removeprefix("0x"))
    assert resolve_account().address == key.address
