"""Key loading and market parameter presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.chain.params import PRESETS, preset
from scatter.errors import ScatterValueError


def test_keystore_round_trip_and_wrong_password(tmp_path: Path) -> None:
    account = wallet.from_private_key("0x" + "42" * 32)
    path = tmp_path / "key.json"
    wallet.write_keystore(account, path, "correct horse")
    assert path.stat().st_mode & 0o777 == 0o600
    assert wallet.from_keystore(path, "correct horse").address == account.address
    with pytest.raises(ScatterValueError, match="wrong password"):
        wallet.from_keystore(path, "wrong")


def test_load_account_prefers_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCATTER_PRIVATE_KEY", "0x" + "43" * 32)
    assert wallet.load_account().address == wallet.from_private_key("0x" + "43" * 32).address


def test_missing_key_explains_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SCATTER_PRIVATE_KEY", "SCATTER_KEYSTORE", "SCATTER_KEYSTORE_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ScatterValueError, match="SCATTER_PRIVATE_KEY"):
        wallet.load_account()


def test_invalid_private_key_does_not_echo_it() -> None:
    with pytest.raises(ScatterValueError) as info:
        wallet.from_private_key("0xdeadbeef-secret")
    assert "secret" not in str(info.value)


def test_dev_account_zero_is_anvils_first_account() -> None:
    assert wallet.dev_account(0).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_presets_validate_and_reject_bad_values() -> None:
    for params in PRESETS.values():
        params.validate()
    with pytest.raises(ScatterValueError, match="epoch_seconds"):
        preset("devnet").with_overrides(epoch_seconds=0).validate()
    with pytest.raises(ScatterValueError, match="basis points"):
        preset("devnet").with_overrides(validator_fee_bps=10_001).validate()
    with pytest.raises(ScatterValueError, match="unknown preset"):
        preset("mainnet-please")
