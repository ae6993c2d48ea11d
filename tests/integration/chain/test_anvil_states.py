"""anvil's on-disk history of old states stays in a directory of ours, removed on stop.

By default anvil writes old blocks' states under ~/.foundry/anvil/tmp and never removes them:
a day of dev runs and test suites filled a 250 GB disk with 71 GB of them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from scatter.chain.anvil import Anvil
from scatter.errors import ToolchainError


def _mine(url: str, blocks: int) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(blocks)]}
    assert httpx.post(url, json=body, timeout=30).json().get("result") is None


def test_states_go_to_our_directory_and_are_removed_on_stop(tmp_path: Path) -> None:
    node = Anvil(state_path=tmp_path / "dev" / "anvil-state.json", max_persisted_states=8)
    with node:
        cache = node._cache_dir
        assert cache is not None and cache.parent == tmp_path / "dev"
        _mine(node.url, 2000)  # more blocks than anvil keeps in memory
        written = [path for path in cache.rglob("*") if path.is_file()]
        assert written, "anvil wrote no state to the directory it was given"
        assert len(written) <= 8  # --max-persisted-states bounds the disk
    assert not cache.exists()
    assert node._cache_dir is None


def test_a_failed_start_leaves_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scatter.chain.anvil.anvil_path", lambda: tmp_path / "no-such-anvil")
    with pytest.raises(ToolchainError, match="cannot start anvil"):
        Anvil(state_path=tmp_path / "dev" / "state.json").start()
    assert list((tmp_path / "dev").iterdir()) == []
