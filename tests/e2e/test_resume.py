"""An upload interrupted in the middle of pushing resumes with the same bid and pushes only what is missing.

Real processes: anvil and three hoster daemons (no validators: nothing here needs settlement).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.chain.deploy import connect
from scatter.client import Scatter
from scatter.dev import DevNetwork
from scatter.sdk.network import Network

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Interrupt(KeyboardInterrupt):
    pass


class InterruptAfterFirstPush:
    """A reporter that stops the upload (as Ctrl-C would) once the first shard is pushed."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, message: str) -> None:
        self.steps.append(message)

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], object]]:
        def advance(n: int) -> None:
            if label.startswith("pushing") and n > 0:
                raise Interrupt

        yield advance


def test_interrupted_upload_resumes_pushes_the_rest_and_records_once(tmp_path: Path) -> None:
    net = DevNetwork(
        state_dir=tmp_path / ".scatter" / "dev", hosters=3, validators=0, port=0, rpc_port=free_port()
    )
    with net:
        assert net.deployment is not None
        network = Network(connect(net.rpc_url), net.rpc_url, net.deployment, True)
        sdk = Scatter(network, wallet.dev_account(2), state_root=tmp_path / "client")
        src = tmp_path / "notes.bin"
        data = os.urandom(3 << 20)
        src.write_bytes(data)
        with pytest.raises(Interrupt):
            sdk.upload(src, shards="2/3", duration="1h", reporter=InterruptAfterFirstPush())
        [session] = sdk.pending_uploads()
        # The entry went out with the pushes (it needs only the bid id), and was waited for.
        assert session.stage == "recorded" and session.bid_id is not None and session.file_id is not None
        pushed_before = {s for s, st in session.slots.items() if st.pushed}
        assert len(pushed_before) == 1
        result = sdk.upload(src, shards="2/3", duration="1h")
        assert result.resumed and result.bid_id == session.bid_id
        assert sdk.market.bid_count() == 1
        assert sdk.pending_uploads() == []
        assert [f.file_id for f in sdk.ls()] == [result.file_id]
        assert sdk.download(result.file_id, tmp_path / "copy.bin").path.read_bytes() == data
