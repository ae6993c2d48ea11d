"""Load the account that signs: a private key from the environment or ``.env``,
an encrypted keystore (Web3 Secret Storage v3 JSON, as geth, cast and ape write), or an
anvil dev account. Keys are never logged or echoed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import cast

from eth_account import Account
from eth_account.signers.local import LocalAccount

from scatter.errors import ScatterValueError

# anvil's default mnemonic; its accounts exist only on local dev chains.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def dev_account(index: int) -> LocalAccount:
    """The ``index``-th account of anvil's default mnemonic (dev chains only)."""
    Account.enable_unaudited_hdwallet_features()
    return cast(LocalAccount, Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"))


def from_private_key(key: str) -> LocalAccount:
    try:
        return cast(LocalAccount, Account.from_key(key.strip()))
    except (ValueError, TypeError) as exc:
        raise ScatterValueError("invalid private key: expected 32 bytes of hex (0x...)") from exc


def from_keystore(path: Path, password: str) -> LocalAccount:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ScatterValueError(f"keystore not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ScatterValueError(f"keystore {path} is not JSON") from exc
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        raise ScatterValueError(f"cannot decrypt keystore {path}: wrong password?") from exc
    return cast(LocalAccount, Account.from_key(key))


def write_keystore(account: LocalAccount, path: Path, password: str) -> None:
    """Encrypt ``account``'s key into a keystore file readable only by its owner."""
    data = Account.encrypt(account.key, password)
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def load_account(
    *, private_key: str | None = None, keystore: Path | None = None, password: str | None = None
) -> LocalAccount:
    """The signing account from explicit arguments, else the environment.

    Environment: ``SCATTER_PRIVATE_KEY``, or ``SCATTER_KEYSTORE`` with
    ``SCATTER_KEYSTORE_PASSWORD``.
    """
    private_key = private_key or os.environ.get("SCATTER_PRIVATE_KEY")
    if private_key:
        return from_private_key(private_key)
    keystore_env = os.environ.get("SCATTER_KEYSTORE")
    keystore = keystore or (Path(keystore_env) if keystore_env else None)
    if keystore is not None:
        password = password if password is not None else os.environ.get("SCATTER_KEYSTORE_PASSWORD")
        if password is None:
            raise ScatterValueError("keystore given without a password: set SCATTER_KEYSTORE_PASSWORD")
        return from_keystore(keystore, password)
    raise ScatterValueError(
        "no signing key: set SCATTER_PRIVATE_KEY, or SCATTER_KEYSTORE and SCATTER_KEYSTORE_PASSWORD "
        "(in the environment or .env)"
    )
