"""Real hoster daemons on loopback, honest and not, checked by two real validator daemons.

One market, seven hosters (each taking one bid of a public CID it fetches from an origin gateway):
honest; honest but slow (within the deadline); missing 10% of its leaf blocks; serving wrong
bytes; holding another deal's data instead of its own; answering after the deadline; down.
Each misbehaviour must be detected as documented and the deal faulted with the hoster slashed;
the honest ones must be settled and never receive a fail verdict.
"""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scatter.chain.anvil import free_port
from scatter.chain.market import DealStatus, Role
from scatter.chain.params import ETHER
from scatter.daemon.logs import JsonFormatter
from scatter.hoster.config import BidFilter, HosterConfig
from scatter.hoster.daemon import HosterThread
from scatter.ipfs.cid import cid_bytes, cid_str
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.memory import MemoryBlockStore
from scatter.protocol.attestations import attestations_path, from_json
from scatter.protocol.hoster_api import deal_path
from tests.integration.validator.conftest import EPOCH_SECONDS, LiveMarket, wait_until
from tests.integration.validator.helpers import DelayProxy, Shard, make_shard

pytestmark = pytest.mark.integration

CLIENT = 1
V1, V2 = 5, 6
KINDS = ("honest", "slow", "missing", "wrong", "other", "late", "down")
HOSTERS = dict(zip(KINDS, range(10, 17), strict=True))
DEADLINE = EPOCH_SECONDS / 5  # the daemon's default: 1 s


def hoster_config(live: LiveMarket, account: int, cid: str, **changes: Any) -> HosterConfig:
    base: dict[str, Any] = dict(
        state_dir=live.tmp / f"hoster-{account}", rpc_url=live.anvil.url, dev_account=account,
        deployments=live.record, confirmations=0, poll_interval=0.5, stake=5 * ETHER, capacity=1 << 30,
        settle_every=1, filter=BidFilter(allow_cids=frozenset({cid})),
    )  # fmt: skip
    base.update(changes)
    return HosterConfig(**base)


def fail_reasons(live: LiveMarket, url: str, deal_id: int) -> dict[int, bool]:
    body = httpx.get(url + attestations_path(deal_id)).json()
    out = {}
    for item in body["attestations"]:
        att = from_json(item, chain_id=live.deployment.chain_id, market=live.deployment.market).attestation
        if att.from_epoch == att.to_epoch:
            out[att.from_epoch] = att.ok
    return out


@pytest.fixture()
def stack(live: LiveMarket) -> Iterator[dict[str, Any]]:
    things: dict[str, Any] = {"hosters": {}, "proxies": [], "servers": [], "sockets": []}
    logger = logging.getLogger("scatter")  # every daemon's JSON log, kept for a post-mortem
    handler = logging.FileHandler(live.tmp / "daemons.log")
    handler.setFormatter(JsonFormatter())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield things
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
        for h in things["hosters"].values():
            h.stop()
        for p in things["proxies"]:
            p.stop()
        for s in things["servers"]:
            s.stop()
        for sock in things["sockets"]:
            sock.close()


def test_misbehaving_hosters_are_detected_faulted_and_slashed_honest_ones_paid(
    live: LiveMarket, stack: dict[str, Any]
) -> None:
    shards: dict[str, Shard] = {k: make_shard(100 * 1024, seed=i) for i, k in enumerate(KINDS)}
    foreign = make_shard(100 * 1024, seed=99)  # the "other" hoster holds this instead of its own
    origin_store = MemoryBlockStore()
    for kind, shard in shards.items():
        if kind != "other":  # nobody can fetch the other hoster's CID: it only has foreign data
            origin_store.put_many(shard.blocks)
    origin = GatewayServer(create_gateway_app(origin_store)).start()
    stack["servers"].append(origin)

    # --- hosters (real daemons), two of them behind a delaying proxy on their public endpoint
    for kind, account in HOSTERS.items():
        cid = cid_str(shards[kind].root)
        changes: dict[str, Any] = {}
        if kind in ("slow", "late"):
            port = free_port()
            proxy = DelayProxy(port, 0.2 if kind == "slow" else 2.5 * DEADLINE).start()
            stack["proxies"].append(proxy)
            changes = {"port": port, "endpoint": proxy.url}
        if kind == "other":
            with EmbeddedBlockStore(live.tmp / f"hoster-{account}" / "blocks") as store:
                store.put_many(foreign.blocks)
                store.pin(foreign.root)
        h = HosterThread(hoster_config(live, account, cid, **changes)).start()
        stack["hosters"][kind] = h
    v1, v2 = live.start_validator(V1), live.start_validator(V2)

    market = live.market()
    bids = {}
    for kind, shard in shards.items():
        bids[kind] = live.market(CLIENT).bid([cid_bytes(shard.root)], size=len(shard.data), slot_count=1,
                                             price_per_epoch=10**15, duration_epochs=40,
                                             origins=[origin.url])  # fmt: skip

    def deals() -> dict[str, int] | None:
        found = {}
        for deal_id in range(1, market.deal_count() + 1):
            d = market.get_deal(deal_id)
            kind = next(k for k, b in bids.items() if b == d.bid_id)
            found[kind] = deal_id
        return found if len(found) == len(KINDS) else None

    deal = wait_until(deals, timeout=60, what="every hoster to accept its slot")

    def pinned(kind: str) -> bool:
        h = stack["hosters"][kind]
        return bool(httpx.get(h.url + deal_path(deal[kind])).json()["pinned"])

    wait_until(lambda: all(pinned(k) for k in KINDS if k != "other"), timeout=60, what="the pins")

    # --- the sabotage, on the real hosters' block stores and processes
    store = stack["hosters"]["missing"].hoster.store
    leaves = shards["missing"].leaves
    for cid in random.Random(3).sample(leaves, len(leaves) // 10):
        store._block_path(bytes(cid.digest)).unlink()  # 10% of the pinned leaf blocks deleted
    store = stack["hosters"]["wrong"].hoster.store
    for cid in shards["wrong"].leaves:
        path = store._block_path(bytes(cid.digest))
        data = path.read_bytes()
        path.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])
    down = stack["hosters"].pop("down")
    down.stop()
    # Hold its port (bound, not listening) so that no other server on this busy machine takes it:
    # the address stays dead, connections are refused.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", int(down.url.rsplit(":", 1)[1])))
    stack["sockets"].append(holder)

    bad = ("missing", "wrong", "other", "late", "down")

    def all_bad_faulted() -> bool:
        return all(market.get_deal(deal[k]).status == DealStatus.FAULTED for k in bad)

    wait_until(all_bad_faulted, timeout=70, what="every misbehaving hoster to be faulted")

    # --- how each was detected: the validators' own records say why they signed fail
    expected = {
        "missing": "missing",
        "wrong": "wrong",
        "other": "missing",
        "late": "late",
        "down": "unreachable",
    }
    for kind, result in expected.items():
        reasons = set()
        for v in (v1, v2):
            for epoch, ok in fail_reasons(live, v.url, deal[kind]).items():
                if not ok:
                    verdict = v.daemon.ledger.verdict(deal[kind], epoch)
                    assert verdict is not None
                    reasons.add(verdict.detail["result"])
        assert result in reasons, (kind, reasons)
        hoster = live.address(HOSTERS[kind])
        assert market.node(Role.HOSTER, hoster).stake < 5 * ETHER  # slashed
    faulted = market.contract.events.DealFaulted().get_logs(from_block=0)
    failed_quorum = {e["args"]["dealId"] for e in faulted if not e["args"]["missedQuorum"]}
    assert {deal[k] for k in ("wrong", "other", "late", "down")} <= failed_quorum

    # --- the honest hosters, slow or not: paid, never a fail verdict, never slashed
    for kind in ("honest", "slow"):
        d = wait_until(lambda k=kind: (x := market.get_deal(deal[k])).paid_through > x.start_epoch and x,
                       timeout=30, what=f"{kind} settled")  # fmt: skip
        assert d.status == DealStatus.ACTIVE
        for v in (v1, v2):
            assert all(fail_reasons(live, v.url, deal[kind]).values()), kind
        assert market.node(Role.HOSTER, live.address(HOSTERS[kind])).stake == 5 * ETHER
    rewards = [market.balance_of(live.address(v)) for v in (V1, V2)]
    assert all(r > 0 for r in rewards)  # fees and reporters' shares
    metrics = httpx.get(v1.url + "/metrics").text + httpx.get(v2.url + "/metrics").text
    assert 'scatter_validator_faults_reported_total{kind="failed",outcome="mined"}' in metrics
