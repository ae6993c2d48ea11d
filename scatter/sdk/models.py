"""What the SDK returns: frozen dataclasses with a ``to_json()`` for the CLI and the web API.

One JSON style everywhere: snake_case keys (the field names), bytes as 0x-hex, and
amounts of wei as JSON integers under the field's name plus ``_wei`` (each class
lists its wei fields in ``WEI``): ``BidInfo.escrow`` is ``"escrow_wei"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Protocol


def jsonable(value: Any) -> Any:
    """Plain JSON types: bytes as 0x-hex, paths as strings, enums by name, big ints as they are;
    a dataclass's wei fields (its ``WEI``) named ``<field>_wei``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        wei: frozenset[str] = getattr(value, "WEI", frozenset())
        return {
            f"{f.name}_wei" if f.name in wei else f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.name.lower()
    return value


class _Json:
    #: The fields holding amounts of wei: ``<name>_wei`` in JSON.
    WEI: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        data = jsonable(self)
        assert isinstance(data, dict)
        return data


@dataclass(frozen=True)
class DealInfo(_Json):
    WEI = frozenset({"collateral"})

    deal_id: int
    bid_id: int
    slot: int
    hoster: str
    endpoint: str
    status: str  # active | finished | faulted
    start_epoch: int
    end_epoch: int  # last paid epoch, fixed at fill
    paid_through: int
    paid_epochs: int
    collateral: int
    faults: int = 0  # missed proofs so far (maxFaults of them end the deal)
    live: bool = False  # active and not past its end: it holds a shard now
    pinned: bool | None = None  # the hoster's answer, when asked


@dataclass(frozen=True)
class FileHealth(_Json):
    """How many of a file's shards are held by live deals (filled, not faulted or ended)."""

    live: int
    total: int  # n
    needed: int  # k: any k shards rebuild the file
    state: str  # healthy | at-risk (live <= k) | lost (live < k) | expired (every deal ran out) | uploading
    label: str  # "6/6 live", "3/6 AT RISK", "2/6 LOST", "0/6 expired"
    warning: str | None = None  # one line for people when at risk or lost


@dataclass(frozen=True)
class BidInfo(_Json):
    WEI = frozenset({"price_per_epoch", "escrow"})

    bid_id: int
    client: str
    size: int
    slot_count: int
    price_per_epoch: int
    duration_epochs: int
    open_slots: tuple[int, ...]
    closed_slots: tuple[int, ...]
    escrow: int
    cids: tuple[str, ...]
    origins: tuple[str, ...]
    posted_block: int
    reserved_slots: tuple[int, ...] = ()  # open slots a hoster holds while the content is pushed
    roots: tuple[str, ...] = ()  # possession roots (0x-hex bytes32), one or one per slot


@dataclass(frozen=True)
class FileInfo(_Json):
    file_id: int
    name: str
    media_type: str
    size: int
    sha256: bytes
    shards: str  # "k/n"
    bid_id: int | None
    versions: int
    created: int
    owner: str
    health: FileHealth | None = None  # None: no bid (or not asked)


@dataclass(frozen=True)
class FileStatus(_Json):
    file: FileInfo
    bid: BidInfo | None
    deals: tuple[DealInfo, ...]
    current_epoch: int
    healthy_slots: int  # live slots: an active deal not past its end
    needed: int  # k
    health: FileHealth | None = None


@dataclass(frozen=True)
class UploadResult(_Json):
    WEI = frozenset({"price_per_epoch", "escrow"})

    file_id: int
    bid_id: int
    name: str
    size: int
    sha256: bytes
    shards: str
    cids: tuple[str, ...]
    deals: tuple[DealInfo, ...]
    price_per_epoch: int
    duration_epochs: int
    escrow: int
    seconds: float
    resumed: bool


@dataclass(frozen=True)
class DownloadResult(_Json):
    path: Path
    name: str
    size: int
    sha256: bytes
    shards_used: tuple[int, ...]
    seconds: float


@dataclass(frozen=True)
class PinResult(_Json):
    WEI = frozenset({"price_per_epoch", "escrow"})

    bid_id: int
    cid: str
    replicas: int
    size: int
    price_per_epoch: int
    duration_epochs: int
    escrow: int
    deals: tuple[DealInfo, ...] = ()
    root: str = ""  # the possession root the bid commits to (0x-hex bytes32)


@dataclass(frozen=True)
class CancelResult(_Json):
    WEI = frozenset({"refund"})

    bid_id: int
    cancelled_slots: tuple[int, ...]
    refund: int
    active_deals: tuple[int, ...]  # deals that keep running (and keep being paid) until their end
    reserved_slots: tuple[int, ...] = ()  # open slots a hoster holds now: cancellable once it expires
    withdrawn_file: int | None = None  # the entry an unfinished upload of the bid had recorded, taken back


@dataclass(frozen=True)
class RemoveResult(_Json):
    file_id: int
    cancelled: tuple[CancelResult, ...]


@dataclass(frozen=True)
class ExtendResult(_Json):
    WEI = frozenset({"paid"})

    bid_id: int
    extra_epochs: int
    slots: tuple[int, ...]  # the open, unreserved slots whose budget grew
    paid: int
    unchanged_deals: tuple[int, ...] = ()  # live deals: their terms are fixed at fill


@dataclass(frozen=True)
class Balance(_Json):
    WEI = frozenset({"wallet", "withdrawable", "escrow"})

    address: str
    wallet: int  # ETH in the account
    withdrawable: int  # credited by the Market (refunds, earnings), taken out with withdraw
    escrow: int  # still locked in this account's bids


@dataclass(frozen=True)
class WithdrawResult(_Json):
    WEI = frozenset({"amount"})

    address: str
    to: str
    amount: int
    tx_hash: str


@dataclass(frozen=True)
class MarketStatus(_Json):
    WEI = frozenset({"contract_balance"})

    chain_id: int
    rpc_url: str
    market: str
    file_registry: str
    block: int
    current_epoch: int
    epoch_seconds: int
    bids: int
    deals: int
    hosters: int
    validators: int
    contract_balance: int


@dataclass(frozen=True)
class NodeInfo(_Json):
    WEI = frozenset({"stake", "locked"})

    role: str
    address: str
    endpoint: str
    status: str
    stake: int
    locked: int
    capacity: int


@dataclass(frozen=True)
class WatchEvent(_Json):
    path: str
    action: str  # uploaded | new-version | unchanged | failed
    file_id: int | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Reporter(Protocol):
    """Where the SDK reports progress: the CLI draws bars, scripts pass nothing. ``step`` may be
    called from another thread than the upload's (the metadata entry's), while a bar is open."""

    def step(self, message: str) -> None: ...

    def bar(self, label: str, total: int) -> AbstractContextManager[Callable[[int], object]]: ...


class SilentReporter:
    def step(self, message: str) -> None:
        pass

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], object]]:
        yield lambda _n: None
