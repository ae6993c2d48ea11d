"""Helpers for the hoster daemon tests: content, signed uploads, real validators, waiting."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from multiformats import CID

from scatter.chain.deployments import record_deployment
from scatter.chain.market import Market, Role
from scatter.chain.params import ETHER
from scatter.daemon.state import StateDB
from scatter.formats.possession import possession_root
from scatter.hoster.config import BidFilter, HosterConfig
from scatter.hoster.daemon import HosterThread
from scatter.ipfs.car import write_car
from scatter.ipfs.cid import cid_bytes, cid_str
from scatter.ipfs.gateway.server import GatewayServer
from scatter.ipfs.unixfs import import_bytes
from scatter.protocol.upload import CarUpload, upload_path
from scatter.validator.challenge import challenge_seed
from scatter.validator.checker import CheckTarget, DealChecker
from scatter.validator.dagcache import LeafCache
from scatter.validator.ledger import SigningLedger, Verdict
from scatter.validator.publish import create_publish_app
from scatter.validator.signer import AttestationSigner
from tests.conftest import Chain
from tests.waiting import wait_until as wait_until

PRICE = 10**12  # wei per slot per epoch
CLIENT = 1
VALIDATORS = (4, 5)


@dataclass(frozen=True)
class Content:
    cid: CID
    car: bytes
    data: bytes
    root: bytes  # possession root

    @property
    def cid_bytes(self) -> bytes:
        return cid_bytes(self.cid)

    @property
    def size(self) -> int:
        return len(self.data)


def make_content(data: bytes) -> Content:
    root, blocks = import_bytes(data, cid_version=1)
    buf = io.BytesIO()
    write_car(buf, [root], blocks)
    return Content(root, buf.getvalue(), data, possession_root(data))


def signed_upload(chain: Chain, url: str, bid_id: int, slot: int, content: Content, *, signer: int = CLIENT,
                  body: bytes | None = None, root: bytes | None = None, expires_in: int = 600,
                  timeout: float = 30.0) -> httpx.Response:  # fmt: skip
    d = chain.deployment
    key = chain.account(signer).key
    return upload_car(url, bid_id, slot, content, key=key, chain_id=d.chain_id, market=d.market, body=body,
                      root=root, expires_in=expires_in, timeout=timeout)  # fmt: skip


def upload_car(url: str, bid_id: int, slot: int, content: Content, *, key: bytes, chain_id: int, market: str,
               body: bytes | None = None, root: bytes | None = None, expires_in: int = 600,
               timeout: float = 30.0) -> httpx.Response:  # fmt: skip
    """PUT the content's CAR (or ``body``) to the hoster, signed with ``key`` as the protocol says."""
    car = content.car if body is None else body
    headers = upload_headers(bid_id, slot, root or content.cid_bytes, car, key=key, chain_id=chain_id,
                             market=market, expires_in=expires_in)  # fmt: skip
    return httpx.put(url + upload_path(bid_id, slot), content=car, headers=headers, timeout=timeout)


def upload_headers(bid_id: int, slot: int, root: bytes, car: bytes, *, key: bytes, chain_id: int, market: str,
                   expires_in: int = 600) -> dict[str, str]:  # fmt: skip
    """The signed headers of an upload of ``car`` to the slot, as the protocol says."""
    import hashlib

    expires = int(time.time()) + expires_in
    upload = CarUpload(bid_id, slot, root, hashlib.sha256(car).digest(), len(car), expires)
    return upload.headers(upload.sign(key, chain_id, market))


def slot_state(h: HosterThread, bid_id: int, slot: int = 0) -> str | None:
    """The hoster's state for the slot (``reserved``, ``filled``, ...), from its state tables."""
    job = h.hoster.state.job(bid_id, slot)
    return job.state if job else None


def wait_slot(h: HosterThread, bid_id: int, state: str, slot: int = 0, timeout: float = 30.0) -> None:
    wait_until(lambda: slot_state(h, bid_id, slot) == state, timeout, f"slot {bid_id}:{slot} to be {state}")


def hoster_config(chain: Chain, tmp_path: Path, account: int, **changes: Any) -> HosterConfig:
    record = tmp_path / "deployments.json"
    if not record.exists():
        record_deployment(chain.deployment, record)
    base: dict[str, Any] = dict(
        state_dir=tmp_path / f"hoster-{account}", rpc_url=chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        dev_account=account, deployments=record, confirmations=0, poll_interval=0.05, stake=5 * ETHER,
        capacity=1 << 30, settle_every=2, filter=BidFilter(break_even=False),
    )  # fmt: skip
    base.update(changes)
    return HosterConfig(**base)


@pytest.fixture()
def start_hoster(chain: Chain, tmp_path: Path) -> Iterator[Callable[..., HosterThread]]:
    started: list[HosterThread] = []

    def start(account: int, **changes: Any) -> HosterThread:
        h = HosterThread(hoster_config(chain, tmp_path, account, **changes)).start()
        started.append(h)
        wait_until(lambda: h.hoster._joined, what=f"hoster {account} to join")
        return h

    yield start
    for h in started:
        h.stop()


def post_bid(chain: Chain, contents: list[Content], *, slots: int = 1, duration: int = 6, price: int = PRICE,
             origins: list[str] | None = None, client: int = CLIENT, size: int | None = None,
             roots: list[bytes] | None = None) -> int:  # fmt: skip
    """A bid for ``contents`` (one for all slots, or one per slot) with their possession roots."""
    return chain.market(client).bid(
        [c.cid_bytes for c in contents], roots=roots or [c.root for c in contents],
        size=contents[0].size if size is None else size, slot_count=slots, price_per_epoch=price,
        duration_epochs=duration, origins=origins or [],
    )  # fmt: skip


# ------------------------------------------------------------ real validators


@dataclass
class ValidatorNode:
    """A validator's real signing ledger and publishing API, fed by the real checker."""

    account: int
    chain: Chain
    tmp: Path
    ledger: SigningLedger = field(init=False)
    server: GatewayServer = field(init=False)

    def start(self) -> ValidatorNode:
        d = self.chain.deployment
        acct = self.chain.account(self.account)
        self.db = StateDB(self.tmp / f"validator-{self.account}.db")
        self.ledger = SigningLedger(self.db, AttestationSigner(acct, d.chain_id, d.market))
        self.server = GatewayServer(create_publish_app(self.ledger)).start()
        market = self.chain.market(self.account)
        if market.node(Role.VALIDATOR, acct.address).status == 0:
            market.join(Role.VALIDATOR, self.server.url, 0, 2 * ETHER)
        return self

    def check(self, deal_id: int, epoch: int, root: CID, gateway: str) -> bool:
        """Run one real check of the hoster's gateway and record the verdict."""
        randomness = bytes(self.chain.w3.eth.get_block("latest")["hash"])

        async def run() -> bool:
            checker = DealChecker(LeafCache(self.db), samples=4, deadline=5.0)
            try:
                seed = challenge_seed(randomness, deal_id, epoch, self.ledger.address)
                outcome = await checker.check(CheckTarget(deal_id, epoch, root, gateway), seed, randomness)
            finally:
                await checker.aclose()
            self.ledger.record(Verdict(deal_id, epoch, outcome.ok, outcome.evidence()))
            return outcome.ok

        return asyncio.run(run())

    def stop(self) -> None:
        self.server.stop()
        self.db.close()


@pytest.fixture()
def validators(chain: Chain, tmp_path: Path) -> Iterator[list[ValidatorNode]]:
    nodes = [ValidatorNode(i, chain, tmp_path).start() for i in VALIDATORS]
    yield nodes
    for n in nodes:
        n.stop()


def deal_of(chain: Chain, bid_id: int, hoster: str) -> int | None:
    market = Market(chain.w3, chain.deployment.market)
    for deal_id in range(1, market.deal_count() + 1):
        d = market.get_deal(deal_id)
        if d.bid_id == bid_id and d.hoster == hoster:
            return deal_id
    return None


__all__ = ["cid_str"]


# ------------------------------------------------------------ subprocesses


class HosterProcess:
    """``python -m scatter hoster run`` as a real subprocess (killed with SIGKILL in crash tests)."""

    def __init__(self, chain: Chain, tmp_path: Path, account: int, *extra: str) -> None:
        import sys

        cfg = hoster_config(chain, tmp_path, account)
        self.state_dir = cfg.state_dir
        self.log_path = tmp_path / f"hoster-{account}.log"
        self.cmd = [
            sys.executable, "-m", "scatter", "hoster", "run", "--rpc-url", cfg.rpc_url,
            "--dev-account", str(account), "--state-dir", str(cfg.state_dir), "--port", "0",
            "--deployments", str(cfg.deployments), "--confirmations", "0", "--poll-interval", "0.05",
            "--stake", "5", "--settle-every", "2", "--no-break-even", *extra,
        ]  # fmt: skip
        self.proc: Any = None
        self.url = ""

    def start(self, crash_at: str | None = None, timeout: float = 30.0) -> HosterProcess:
        import json
        import os
        import subprocess

        env = {k: v for k, v in os.environ.items() if not k.startswith("SCATTER_")}
        if crash_at:
            env["SCATTER_HOSTER_CRASH_AT"] = crash_at
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log, env=env)
        log.close()
        ready = self.state_dir / "hoster.json"

        def up() -> dict[str, Any] | None:
            # ready first: a crash point may kill the process right after it became ready
            exited = self.proc.poll() is not None
            try:
                info: dict[str, Any] = json.loads(ready.read_text())
            except (OSError, ValueError):
                info = {}
            if info.get("pid") == self.proc.pid:
                return info
            if exited:
                raise AssertionError(f"hoster exited at start: {self.log_path.read_text()[-2000:]}")
            return None

        info = wait_until(up, timeout, "the hoster process to be ready")
        assert info is not None
        self.url = info["url"]
        return self

    def wait_killed(self, timeout: float = 30.0) -> int:
        """Wait for a crash point to kill the process; returns its exit code (-9)."""
        return int(self.proc.wait(timeout=timeout))

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture()
def hoster_process(chain: Chain, tmp_path: Path) -> Iterator[Callable[..., HosterProcess]]:
    made: list[HosterProcess] = []

    def make(account: int, *extra: str) -> HosterProcess:
        p = HosterProcess(chain, tmp_path, account, *extra)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()
