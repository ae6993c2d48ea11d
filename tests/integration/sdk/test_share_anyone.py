"""A share link opened by a stranger: no wallet, no deployment record, no ``.env``, no repository.

``scatter download LINK`` runs from an empty directory with an empty HOME and no
``SCATTER_*`` variable; it finds the hosters from the link's hints, or from the
Market the link names when given an RPC URL of the link's chain. A link tampered
with (shards swapped, too many CIDs changed, another key) fails with one line and
leaves nothing behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scatter.chain.anvil import Anvil
from scatter.client import Scatter
from scatter.formats.sharelink import parse_share_link
from tests.integration.sdk.conftest import StoredFile

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture()
def stranger(tmp_path: Path) -> tuple[Run, Path]:
    """``scatter ...`` run by someone with nothing set up: an empty working directory and HOME."""
    home, cwd = tmp_path / "home", tmp_path / "empty"
    home.mkdir()
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
    env["HOME"] = str(home)

    def scatter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scatter", *args], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    return scatter, cwd


def _without_hosts(link: str) -> str:
    query, fragment = link.split("#")
    return "&".join(p for p in query.split("&") if not p.startswith("hosts=")) + "#" + fragment


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _nothing_written(cwd: Path) -> None:
    assert list(cwd.iterdir()) == []  # no file, no .scatter-dl-* temp directory


def test_share_link_v2_names_chain_market_and_the_live_hosters(sdk: Scatter, stored_file: StoredFile) -> None:
    link = parse_share_link(sdk.share(stored_file.file_id))
    assert (link.version, link.chain_id, link.market) == (2, sdk.network.chain_id, sdk.deployment.market)
    assert sorted(link.hosts) == sorted(s.url for s in stored_file.servers)


def test_download_link_from_an_empty_directory_with_no_env_uses_the_hints(
    sdk: Scatter, stored_file: StoredFile, stranger: tuple[Run, Path]
) -> None:
    run, cwd = stranger
    got = run("download", sdk.share(stored_file.file_id))
    assert got.returncode == 0, got.stderr
    assert (cwd / "report.bin").read_bytes() == stored_file.data


def test_download_link_without_hints_reads_the_links_market_through_rpc(
    sdk: Scatter, stored_file: StoredFile, stranger: tuple[Run, Path], anvil: Anvil
) -> None:
    run, cwd = stranger
    link = _without_hosts(sdk.share(stored_file.file_id))
    blind = run("download", link)
    _one_line_error(blind, "no hoster to ask", f"chain {sdk.network.chain_id}")
    _nothing_written(cwd)
    got = run("download", link, "--rpc-url", anvil.url, "-o", "copy.bin")
    assert got.returncode == 0, got.stderr
    assert (cwd / "copy.bin").read_bytes() == stored_file.data


def test_download_link_refuses_an_rpc_of_another_chain(
    sdk: Scatter, stored_file: StoredFile, stranger: tuple[Run, Path], anvil: Anvil
) -> None:
    run, cwd = stranger
    link = sdk.share(stored_file.file_id).replace(f"chain={sdk.network.chain_id}&", "chain=5&")
    _one_line_error(run("download", link, "--rpc-url", anvil.url), "the link is for chain 5")
    nowhere = "0x" + "00" * 19 + "01"  # a precompile: no contract code
    elsewhere = _without_hosts(sdk.share(stored_file.file_id).replace(sdk.deployment.market, nowhere))
    _one_line_error(run("download", elsewhere, "--rpc-url", anvil.url), "no contract at the link's Market")
    _nothing_written(cwd)


def test_tampered_links_fail_in_one_line_and_write_nothing(
    sdk: Scatter, stored_file: StoredFile, stranger: tuple[Run, Path]
) -> None:
    run, cwd = stranger
    good = sdk.share(stored_file.file_id)
    cids = stored_file.cids
    gone = good
    for cid in cids[:4]:  # n - k + 1 shards no hoster holds: fewer than k left
        gone = gone.replace(cid, _cid_of(cid))
    _one_line_error(run("download", gone), "need 3")
    _nothing_written(cwd)
    key = good.split("#key=")[1].split("&")[0]
    wrong = good.replace(f"#key={key}", "#key=" + ("A" if key[0] != "A" else "B") + key[1:])
    _one_line_error(run("download", wrong), "key")
    _nothing_written(cwd)


def test_swapped_shard_cids_still_give_the_right_bytes(
    sdk: Scatter, stored_file: StoredFile, stranger: tuple[Run, Path]
) -> None:
    """Each shard's header names its index: the order of the CIDs in a link cannot mix shards up."""
    run, cwd = stranger
    good, (a, b) = sdk.share(stored_file.file_id), stored_file.cids[:2]
    swapped = good.replace(a, "@").replace(b, a).replace("@", b)
    assert run("download", swapped).returncode == 0
    assert (cwd / "report.bin").read_bytes() == stored_file.data


def _cid_of(cid: str) -> str:
    """Another CIDv1 (raw, sha2-256) that no hoster holds, derived from ``cid``."""
    import hashlib

    from multiformats import CID, multihash

    digest = hashlib.sha256(b"not " + cid.encode()).digest()
    return str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))
