"""Typed binding of the FileRegistry: encrypted metadata entries per owner.

The ciphertext lives in the event log; storage holds its keccak256 and the
block of the event, so :meth:`FileRegistry.metadata` reads one block's logs
and checks the commitment before returning anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from scatter.chain.artifacts import load_artifact
from scatter.chain.tx import Transactor, rpc_guard
from scatter.errors import ContractError, ScatterIntegrityError, ScatterNotFoundError

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class Entry:
    file_id: int
    owner: str
    updated_block: int
    version: int
    commitment: bytes


class FileRegistry:
    def __init__(self, w3: Web3, address: str, tx: Transactor | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=load_artifact("FileRegistry").abi)
        self._tx = tx

    def entry(self, file_id: int) -> Entry:
        try:
            e = rpc_guard("FileRegistry.entry", self.contract.functions.entry(file_id).call)
        except ContractError as exc:
            if exc.error_name == "UnknownFile":
                raise ScatterNotFoundError(f"no file entry {file_id}") from exc
            raise
        if e[0] == ZERO_ADDRESS:
            raise ScatterNotFoundError(f"no file entry {file_id}")
        return Entry(file_id, e[0], e[1], e[2], bytes(e[3]))

    def file_count(self) -> int:
        return int(rpc_guard("FileRegistry.fileCount", self.contract.functions.fileCount().call))

    def metadata(self, file_id: int) -> bytes:
        """The current ciphertext of an entry, checked against its on-chain commitment."""
        entry = self.entry(file_id)
        events = self.contract.events
        for event in (events.FileAdded, events.FileReplaced, events.FileTransferred):

            def logs_of(ev: Any = event) -> Any:
                block = entry.updated_block
                return ev().get_logs(from_block=block, to_block=block, argument_filters={"fileId": file_id})

            for log in rpc_guard("reading file events", logs_of):
                blob = bytes(log["args"]["metadata"])
                if keccak(blob) == entry.commitment:
                    return blob
        raise ScatterIntegrityError(
            f"file {file_id}: no event at block {entry.updated_block} matches its commitment"
        )

    def _send(self, name: str, *args: object) -> object:
        if self._tx is None:
            raise ContractError(f"FileRegistry.{name} needs a signing account")
        fn = getattr(self.contract.functions, name)(*args)
        return self._tx.send(fn, what=f"FileRegistry.{name}")

    def add(self, metadata: bytes) -> int:
        receipt = self._send("add", metadata)
        logs = self.contract.events.FileAdded().process_receipt(receipt)
        return int(logs[0]["args"]["fileId"])

    def replace(self, file_id: int, metadata: bytes) -> None:
        self._send("replace", file_id, metadata)

    def remove(self, file_id: int) -> None:
        self._send("remove", file_id)

    def transfer(self, file_id: int, to: str, metadata: bytes) -> None:
        self._send("transfer", file_id, Web3.to_checksum_address(to), metadata)
