"""Send transactions from a local account and turn every failure into one clear line.

This is the only place that signs and submits transactions. A revert found
while estimating gas is raised before anything is sent, so a bad call costs
nothing; a mined transaction that reverted is replayed as a call to recover
its custom error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from scatter.chain.revert import decode_revert
from scatter.errors import ContractError, ScatterConnectionError, ScatterTimeoutError

T = TypeVar("T")


def rpc_guard(what: str, call: Callable[[], T]) -> T:
    """Run an RPC call; map transport failures and reverts to Scatter errors."""
    try:
        return call()
    except ContractLogicError as exc:
        raise decode_revert(_revert_data(exc), context=what) from exc
    except (requests.ConnectionError, ConnectionError, OSError) as exc:
        raise ScatterConnectionError(f"RPC endpoint unreachable during {what}: {_first_line(exc)}") from exc
    except requests.Timeout as exc:
        raise ScatterTimeoutError(f"RPC endpoint timed out during {what}") from exc
    except Web3RPCError as exc:
        raise ContractError(f"{what} rejected by the node: {_rpc_message(exc)}") from exc


def raw_call(w3: Web3, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call without web3's middleware and result formatters (a fraction of the CPU):
    for the calls a daemon makes every block whether anything happened or not."""
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise ContractError(f"{method} rejected by the node: {response['error']}")
    return response["result"]


def head_number(w3: Web3) -> int:
    """The latest block number: the one call a daemon's loop makes when nothing changed."""
    return rpc_guard("reading the block number", lambda: int(str(raw_call(w3, "eth_blockNumber", [])), 16))


def on_loopback(rpc_url: str) -> bool:
    """Whether ``rpc_url`` names a node on this machine: there, waiting for a block may poll it
    often (it costs local CPU only); a remote provider is polled at the daemon's interval."""
    host = urlsplit(rpc_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def latest_head(w3: Web3) -> tuple[int, int]:
    """(number, timestamp) of the latest block."""

    def read() -> tuple[int, int]:
        block = raw_call(w3, "eth_getBlockByNumber", ["latest", False])
        return int(str(block["number"]), 16), int(str(block["timestamp"]), 16)

    return rpc_guard("reading the latest block", read)


def block_hash_of(w3: Web3, number: int) -> bytes:
    """The hash of block ``number``; empty when the chain has no such block."""

    def read() -> bytes:
        block = raw_call(w3, "eth_getBlockByNumber", [hex(number), False])
        return bytes.fromhex(str(block["hash"])[2:]) if block else b""

    return rpc_guard(f"reading block {number}", read)


def _revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, str):
        return data
    if isinstance(data, dict):  # some nodes nest it
        inner = data.get("data")
        return inner if isinstance(inner, str) else None
    return None


def _rpc_message(exc: Web3RPCError) -> str:
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, dict) and isinstance(rpc.get("error"), dict):
        return str(rpc["error"].get("message", exc))
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Transactor:
    """Signs and sends transactions for one local account, waiting for receipts."""

    def __init__(self, w3: Web3, account: LocalAccount, *, receipt_timeout: float = 120.0) -> None:
        self.w3 = w3
        self.account = account
        self.receipt_timeout = receipt_timeout

    @property
    def address(self) -> str:
        return str(self.account.address)

    def send(self, fn: ContractFunction, *, value: int = 0, what: str | None = None) -> TxReceipt:
        """Build, sign and send ``fn``; wait for its receipt; raise ContractError on revert."""
        label = what or fn.fn_name
        params: TxParams = {"from": self.account.address, "value": Wei(value)}
        tx = rpc_guard(label, lambda: fn.build_transaction(params))
        return self._sign_send_wait(tx, label, replay=lambda: fn.call(params))

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, what: str) -> TxReceipt:
        """Deploy a contract; the receipt's contractAddress is the new address."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        params: TxParams = {"from": self.account.address}
        tx = rpc_guard(what, lambda: factory.constructor(*args).build_transaction(params))
        return self._sign_send_wait(tx, what, replay=None)

    def _sign_send_wait(self, tx: TxParams, label: str, replay: Callable[[], Any] | None) -> TxReceipt:
        tx = dict(tx)  # type: ignore[assignment]
        tx["nonce"] = rpc_guard(
            label, lambda: self.w3.eth.get_transaction_count(self.account.address, "pending")
        )
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash = rpc_guard(label, lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        try:
            receipt = rpc_guard(
                label, lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout)
            )
        except TimeExhausted as exc:
            raise ScatterTimeoutError(
                f"{label}: transaction {tx_hash.hex()} not mined within {self.receipt_timeout:.0f}s"
            ) from exc
        if receipt["status"] != 1:
            if replay is not None:
                rpc_guard(label, replay)  # raises the decoded custom error
            raise ContractError(f"{label} reverted in transaction {receipt['transactionHash'].hex()}")
        return receipt
