"""``SCATTER_PINS_MAX_SIZE`` bounds the read, not only the bid: the node stops reading a DAG from
its origin once more than ``max_size`` bytes of blocks came, and the pin fails (``DAG_TOO_BIG``).
The origin is a real Trustless Gateway on loopback; the SDK's read is the real one."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from scatter.ipfs import Block, EmbeddedBlockStore, MemoryBlockStore, import_bytes
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.sdk.pin import DagTooBigError, Pinning
from scatter.web.pinning.models import Pin
from scatter.web.pinning.settings import PinSettings
from scatter.web.pinning.store import PinStore
from scatter.web.pinning.worker import PinWorker, SdkBackend

DATA = random.Random(14).randbytes(4 << 20)
ROOT, BLOCKS = import_bytes(DATA)
BOUND = 1 << 20


@pytest.fixture(scope="module")
def origin() -> Iterator[GatewayServer]:
    store = MemoryBlockStore()
    store.put_many(BLOCKS)
    with GatewayServer(create_gateway_app(store)) as server:
        yield server


@pytest.fixture()
def kept(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the blocks the node's read kept (in its temporary block store)."""
    sizes: list[int] = []
    put = EmbeddedBlockStore.put

    def counted(self: EmbeddedBlockStore, block: Block) -> None:
        sizes.append(len(block.data))
        put(self, block)

    monkeypatch.setattr(EmbeddedBlockStore, "put", counted)
    return sizes


def _possession_of() -> Any:
    return functools.partial(Pinning.possession_of, cast(Pinning, None))  # it reads over HTTP only


def test_the_read_stops_past_max_size(origin: GatewayServer, kept: list[int]) -> None:
    with pytest.raises(DagTooBigError, match=f"over {BOUND} bytes"):
        _possession_of()(ROOT, [origin.url], max_size=BOUND)
    assert BOUND < sum(kept) <= BOUND + max(kept), f"the node read {sum(kept)} of {len(DATA)} bytes"


def test_a_dag_within_max_size_is_read_whole(origin: GatewayServer) -> None:
    size, root = _possession_of()(ROOT, [origin.url], max_size=len(DATA) + (64 << 10))
    assert size == len(DATA) and len(root) == 32


def test_a_pin_of_a_dag_over_max_size_fails_with_one_line(
    origin: GatewayServer, kept: list[int], tmp_path: Path
) -> None:
    pins = PinStore(tmp_path / "pins.sqlite")
    try:
        token, _ = pins.create_token("t", 10**18)
        rid = pins.add(token.id, Pin(cid=str(ROOT), origins=(origin.url,)), max_pending=10).requestid
        settings = PinSettings(db=pins.path, max_size=BOUND, allow_private_origins=True)
        sdk = cast(Any, SimpleNamespace(possession_of=_possession_of()))  # the market is never reached
        PinWorker(pins, SdkBackend(sdk), settings).run_once(now_ms=10**13)
        rec = pins.get(token.id, rid)
        details = rec.info["status_details"]
        assert rec.status == "failed" and details.startswith("DAG_TOO_BIG: ") and "\n" not in details
        assert rec.bid_id is None and pins.token(token.id).spent == 0
        assert sum(kept) <= BOUND + max(kept)
    finally:
        pins.close()
