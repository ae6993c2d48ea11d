"""Hoster benchmarks (a command, not a test): ``python -m scatter.bench.hoster [--deals N] [--json]``.

1. **Backfill**: market events mirrored into a fresh SQLite index from anvil, events/s
   (``MarketIndex.sync``, what a hoster does on its first start). Target >= 2,000/s.
2. **Steady state**: one ``scatter hoster run`` subprocess with N active deals (default
   1,000) on a 10-second-epoch devnet with one-second blocks and two validators (their real
   signing ledger and publishing API; each epoch they fetch every deal's shard from the
   hoster's gateway and record a verdict, so the hoster serves its check load). Reports
   the settlement lag (max over deals of over-but-unpaid epochs, sampled every second from the chain's
   view in the hoster's metrics) and the hoster process's CPU use over the window.
   Targets: lag <= 2 epochs, CPU <= 50% of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

from scatter.chain import wallet
from scatter.chain.anvil import Anvil
from scatter.chain.deploy import connect, deploy
from scatter.chain.deployments import Deployment, record_deployment
from scatter.chain.index import MarketIndex
from scatter.chain.market import Market, Role, fill_seed
from scatter.chain.params import ETHER, preset
from scatter.chain.tx import Transactor
from scatter.daemon.state import StateDB
from scatter.formats.possession import build_proof, challenge_indices, possession_root
from scatter.formats.possession_schema import NODE, ROOT_SIZE
from scatter.ipfs.car import write_car
from scatter.ipfs.cid import cid_bytes
from scatter.ipfs.unixfs import import_bytes
from scatter.protocol.upload import CarUpload, upload_path

CLIENTS = range(10, 20)  # anvil dev accounts that post bids
HOSTER = 2
VALIDATORS = (4, 5)


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    return w3.provider.make_request(method, params)["result"]  # type: ignore[arg-type]


def _post_bids(w3: Web3, d: Deployment, count: int, *, price: int, duration: int, size: int,
               cids: list[bytes] | None = None, roots: list[bytes] | None = None,
               block_time: int | None = None) -> None:  # fmt: skip
    """``count`` one-slot bids from the unlocked dev accounts, sent in batches and mined together."""
    market = Market(w3, d.market).contract
    _rpc(w3, "evm_setAutomine", [False])
    senders = [wallet.dev_account(c).address for c in CLIENTS]
    try:
        for start in range(0, count, 150):
            for i in range(start, min(count, start + 150)):
                cid = cids[i] if cids else b"\x01\x55\x12\x20" + hashlib.sha256(i.to_bytes(8, "big")).digest()
                root = roots[i] if roots else b"\x01" * NODE + bytes(ROOT_SIZE - NODE)
                data = market.encode_abi("bid", [[cid], [root], size, 1, price, duration, []])
                tx = {"from": senders[i % len(senders)], "to": d.market, "data": data,
                      "value": hex(price * duration), "gas": hex(300_000)}  # fmt: skip
                _rpc(w3, "eth_sendTransaction", [tx])
            _rpc(w3, "evm_mine", [])
    finally:
        _rpc(w3, "evm_setAutomine", [True])
        if block_time is not None:  # automine on switches interval mining off
            _rpc(w3, "evm_setIntervalMining", [block_time])


def bench_backfill(events: int) -> dict[str, Any]:
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        w3 = connect(node.url)
        d = deploy(w3, wallet.dev_account(0), preset("devnet"))
        t0 = time.perf_counter()
        _post_bids(w3, d, events, price=1, duration=1, size=1024)
        made = time.perf_counter() - t0
        index = MarketIndex(StateDB(Path(tmp) / "index.db"), w3, d, confirmations=0)
        index.follower.max_range = 5_000
        t0 = time.perf_counter()
        applied = index.sync()
        seconds = time.perf_counter() - t0
        return {"events": len(applied), "seconds": round(seconds, 3),
                "events_per_s": round(len(applied) / seconds), "generate_s": round(made, 1)}  # fmt: skip


# ----------------------------------------------------------------- steady state


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metric(text: str, name: str) -> float | None:
    m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def serve_validator(rpc_url: str, market_address: str, account: int, state_dir: Path) -> None:
    """One validator in its own process: its real ledger and publishing API. Each epoch it
    fetches every accepted deal's shard from the hoster's gateway, raw, and hashes it — the
    requests the real checker makes for these one-block shards, so the hoster serves the
    check load it would in production — and records an ok verdict for each one that
    verifies (the first successful check also covers the deal's earlier epochs).
    Writes ``STATE_DIR/validator.json`` with its URL."""
    asyncio.run(_validate(rpc_url, market_address, account, state_dir))


async def _validate(rpc_url: str, market_address: str, account: int, state_dir: Path) -> None:
    import aiohttp

    from scatter.chain.tx import Transactor
    from scatter.ipfs.cid import parse_cid, verify_digest
    from scatter.ipfs.gateway.server import GatewayServer
    from scatter.validator.ledger import SigningLedger, Verdict
    from scatter.validator.publish import create_publish_app
    from scatter.validator.signer import AttestationSigner

    w3 = connect(rpc_url)
    acct = wallet.dev_account(account)
    chain_id = int(w3.eth.chain_id)
    ledger = SigningLedger(
        StateDB(state_dir / "ledger.db"), AttestationSigner(acct, chain_id, market_address)
    )
    server = GatewayServer(create_publish_app(ledger)).start()
    market = Market(w3, market_address, Transactor(w3, acct))
    market.join(Role.VALIDATOR, server.url, 0, 2 * ETHER)
    (state_dir / "validator.json").write_text(json.dumps({"url": server.url}))
    cids: dict[int, str] = {}  # bid -> CID
    deals: dict[int, tuple[str, str, int]] = {}  # deal -> (gateway, CID, first epoch not yet recorded)
    endpoints: dict[str, str] = {}
    seen_block = 0
    slots = asyncio.Semaphore(16)

    async def check(http: aiohttp.ClientSession, deal_id: int) -> bytes | None:
        """The evidence of one verified fetch of the deal's shard, or None."""
        gateway, cid, _ = deals[deal_id]
        async with slots:
            try:
                async with http.get(f"{gateway}/ipfs/{cid}?format=raw") as resp:
                    data = await resp.read() if resp.status == 200 else b""
            except aiohttp.ClientError:
                return None
        return hashlib.sha256(data).digest() if data and verify_digest(parse_cid(cid), data) else None

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while True:
            head = int(w3.eth.block_number)
            if head >= seen_block:
                for ev in market.contract.events.BidPosted().get_logs(from_block=seen_block, to_block=head):
                    cids[int(ev["args"]["bidId"])] = str(parse_cid(bytes(ev["args"]["cids"][0])))
                for ev in market.contract.events.SlotFilled().get_logs(from_block=seen_block, to_block=head):
                    a = ev["args"]
                    if a["hoster"] not in endpoints:
                        endpoints[a["hoster"]] = market.node(Role.HOSTER, a["hoster"]).endpoint.rstrip("/")
                    deals.setdefault(int(a["dealId"]), (endpoints[a["hoster"]], cids[int(a["bidId"])],
                                                        int(a["startEpoch"])))  # fmt: skip
                seen_block = head + 1
            epoch = market.current_epoch()
            due = [d for d, (_, _, first) in deals.items() if first <= epoch]  # not yet checked this epoch
            evidence = await asyncio.gather(*(check(http, d) for d in due))
            with ledger.db.transaction():  # one fsync per round
                for deal_id, proof in zip(due, evidence, strict=True):
                    if proof is None:
                        continue
                    gateway, cid, first = deals[deal_id]
                    for e in range(first, epoch + 1):
                        ledger.record(Verdict(deal_id, e, True, proof))
                    deals[deal_id] = (gateway, cid, epoch + 1)
            await asyncio.sleep(0.5)


class _Validators:
    """The validators of the steady-state benchmark, one subprocess each."""

    def __init__(self, rpc_url: str, d: Deployment, tmp: Path) -> None:
        self.procs = []
        for i in VALIDATORS:
            state = tmp / f"validator-{i}"
            state.mkdir()
            cmd = [sys.executable, "-m", "scatter.bench.hoster", "--serve-validator", str(i),
                   "--rpc-url", rpc_url, "--market", d.market, "--state-dir", str(state)]  # fmt: skip
            log = (tmp / f"validator-{i}.log").open("wb")
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log))
            log.close()
            while not (state / "validator.json").exists():
                if self.procs[-1].poll() is not None:
                    raise SystemExit(
                        f"validator {i} exited: {(tmp / f'validator-{i}.log').read_text()[-1500:]}"
                    )
                time.sleep(0.2)

    def check(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                raise SystemExit(f"a validator exited ({p.returncode}); see its log")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
            p.wait(timeout=30)


def bench_steady(deals: int, epochs: int, profile: Path | None = None) -> dict[str, Any]:
    with Anvil(block_time=1) as node, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        w3 = connect(node.url)
        d = deploy(w3, wallet.dev_account(0), preset("devnet").with_overrides(epoch_seconds=10))
        record_deployment(d, tmp / "deployments.json")
        validators = _Validators(node.url, d, tmp)
        contents = []
        for _ in range(deals):
            data = os.urandom(1024)
            root, blocks = import_bytes(data, cid_version=1)
            car = io.BytesIO()
            write_car(car, [root], blocks)
            contents.append((root, car.getvalue(), possession_root(data)))
        log = (tmp / "hoster.log").open("wb")
        cmd = [sys.executable, "-m", "scatter", "hoster", "run", "--rpc-url", node.url, "--dev-account",
               str(HOSTER), "--state-dir", str(tmp / "hoster"), "--port", "0", "--deployments",
               str(tmp / "deployments.json"), "--stake", "100", "--capacity", "1GiB", "--confirmations", "1",
               "--settle-every", "2", "--no-break-even", "--log-level", "warning"]  # fmt: skip
        if profile is not None:  # cProfile of the whole hoster process, written when it stops
            cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", *cmd[2:]]
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            ready = tmp / "hoster" / "hoster.json"
            while not ready.exists():
                if proc.poll() is not None:
                    raise SystemExit(f"hoster exited: {(tmp / 'hoster.log').read_text()[-2000:]}")
                time.sleep(0.2)
            url = json.loads(ready.read_text())["url"]
            market = Market(w3, d.market)
            me = wallet.dev_account(HOSTER).address
            while market.node(Role.HOSTER, me).status != 1:
                time.sleep(0.2)
            t0 = time.perf_counter()
            _post_bids(w3, d, deals, price=10**9, duration=10_000, size=1024,
                       cids=[cid_bytes(r) for r, _, _ in contents], roots=[pr for _, _, pr in contents],
                       block_time=1)  # fmt: skip
            by_cid = {cid_bytes(r): (r, car) for r, car, _ in contents}
            posted = market.bid_count()  # a bid that did not fit a block is simply not posted
            while len(market.contract.events.SlotReserved().get_logs(from_block=0)) < posted:
                time.sleep(1.0)
            accepted_s = time.perf_counter() - t0
            bid_cid, bid_client = {}, {}
            for ev in market.contract.events.BidPosted().get_logs(from_block=0):
                bid_cid[ev["args"]["bidId"]] = bytes(ev["args"]["cids"][0])
                bid_client[ev["args"]["bidId"]] = ev["args"]["client"]
            t0 = time.perf_counter()
            asyncio.run(
                _upload_all(url, d, [(bid, bid_client[bid], *by_cid[cid]) for bid, cid in bid_cid.items()])
            )
            uploaded_s = time.perf_counter() - t0
            while market.deal_count() < posted:
                time.sleep(1.0)
            plan = []
            for ev in market.contract.events.SlotFilled().get_logs(from_block=0):
                plan.append((ev["args"]["dealId"], ev["args"]["bidId"], ev["args"]["startEpoch"]))
            # Let the first settlements happen, then measure over `epochs` epochs.
            start_epoch = market.current_epoch()
            while market.current_epoch() < start_epoch + 3:
                time.sleep(1.0)
            cpu0, wall0 = _cpu_seconds(proc.pid), time.monotonic()
            lags: list[float] = []
            end_epoch = market.current_epoch() + epochs
            while market.current_epoch() < end_epoch:
                validators.check()
                text = httpx.get(url + "/metrics", timeout=10).text
                lag = _metric(text, "scatter_hoster_settlement_lag_epochs")
                if lag is not None:
                    lags.append(lag)
                time.sleep(1.0)
            cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
            text = httpx.get(url + "/metrics", timeout=10).text
            settlements = _metric(text, "scatter_hoster_settlements_total")
            settle_txs = _metric(text, 'scatter_hoster_transactions_total\\{kind="settle"\\}')
            chain_lag = max(
                (market.current_epoch() - 1) - market.get_deal(deal_id).paid_through for deal_id, _, _ in plan
            )
            return {"deals": len(plan), "epoch_seconds": 10, "measured_epochs": epochs,
                    "max_settlement_lag_epochs": max(lags) if lags else None,
                    "final_chain_lag_epochs": chain_lag, "cpu_of_one_core": round(cpu, 3),
                    "settlements": settlements, "settlement_txs": settle_txs,
                    "reserve_s": round(accepted_s, 1),
                    "upload_s": round(uploaded_s, 1)}  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            validators.stop()
            log.close()


async def _upload_all(url: str, d: Deployment, jobs: list[tuple[int, str, Any, bytes]]) -> None:
    """Signed uploads by each bid's client (to the slot the hoster reserved), eight at a time."""
    keys: dict[str, bytes] = {
        str(wallet.dev_account(c).address): bytes(wallet.dev_account(c).key) for c in CLIENTS
    }
    sem = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(bid_id: int, client: str, root: Any, car: bytes) -> None:
            key = keys[client]
            up = CarUpload(
                bid_id, 0, cid_bytes(root), hashlib.sha256(car).digest(), len(car), int(time.time()) + 3600
            )
            sig = up.sign(key, d.chain_id, d.market)
            async with sem:
                resp = await http.put(url + upload_path(bid_id, 0), content=car, headers=up.headers(sig))
            if resp.status_code != 200:
                raise SystemExit(f"upload for bid {bid_id} failed: {resp.status_code} {resp.text}")

        await asyncio.gather(*(one(*job) for job in jobs))


# ------------------------------------------------------------------ economics

GIB = 1 << 30
DEV_BLOCK_SECONDS = 1  # scatter dev mines a block a second


def _shard(size: int) -> tuple[bytes, bytes, bytes]:
    """(data, binary CID, possession root) of ``size`` random bytes."""
    data = os.urandom(size)
    root, _ = import_bytes(data, cid_version=1)
    return data, cid_bytes(root), possession_root(data)


def _proof(data: bytes, seed: bytes) -> bytes:
    size = len(data)
    return build_proof(lambda o, n: data[o : o + n], size, challenge_indices(seed, size))


def _gas(receipt: Any) -> int:
    return int(receipt["gasUsed"])


def bench_economics(deals: int, hours: float, shard_size: int, sample: int = 10) -> dict[str, Any]:
    """Gas per operation measured on anvil (devnet parameters), then a model of ``deals`` deals held
    ``hours`` at the SDK's default price for that shard size and duration (computed by the SDK's own
    :func:`scatter.sdk.pricing.default_slot_price` at the gas price of an idle devnet): what the
    hoster earns against its gas (reserves, fills, audit proofs, settlements). Settlement ranges: the
    daemon's default ``settle_every`` and the longest a range may be (one committee period)."""
    from scatter.chain.economics import DEFAULT_SETTLE_EVERY, current_gas_price, settle_range_epochs
    from scatter.chain.eip712 import Attestation, sign_attestation
    from scatter.sdk.pricing import default_slot_price

    p = preset("devnet")
    epochs = round(hours * 3600 / p.epoch_seconds)
    duration = 100_000
    with Anvil() as node:
        w3 = connect(node.url)
        d = deploy(w3, wallet.dev_account(0), p)
        _rpc(w3, "anvil_mine", [hex(300)])  # an idle devnet: the base fee has fallen to its floor
        gas_price = current_gas_price(w3)
        price = default_slot_price(p, size=shard_size, duration=epochs, gas_price=gas_price,
                                   block_seconds=DEV_BLOCK_SECONDS)  # fmt: skip
        tx = {i: Transactor(w3, wallet.dev_account(i)) for i in (1, HOSTER, *VALIDATORS)}
        m = {i: Market(w3, d.market, t) for i, t in tx.items()}
        m[HOSTER].join(Role.HOSTER, "http://127.0.0.1:1", 1 << 40, 1_000 * ETHER)
        for v in VALIDATORS:
            m[v].join(Role.VALIDATOR, f"http://127.0.0.1:{v}", 0, 2 * ETHER)
        data, cid, root = _shard(shard_size)
        bids = [m[1].bid([cid], roots=[root], size=shard_size, slot_count=1, price_per_epoch=price,
                         duration_epochs=duration) for _ in range(sample)]  # fmt: skip
        gas: dict[str, list[int]] = {k: [] for k in ("reserve", "fill", "settle_item", "prove_item",
                                                     "prove_single")}  # fmt: skip
        cap = p.collateral(price, duration)
        gas["reserve"].append(_gas(m[HOSTER].reserve(bids[0], 0, cap)))
        deal_ids = []
        for b in bids:
            block = w3.eth.get_block(w3.eth.block_number - 1)
            seed = fill_seed(bytes(block["hash"] or b""), b, 0, tx[HOSTER].address)
            receipt = m[HOSTER]._send("fill", b, 0, int(block["number"]), cap, _proof(data, seed))
            gas["fill"].append(_gas(receipt))
            deal_ids.append(int(m[HOSTER].events(receipt, "SlotFilled")[0]["dealId"]))
        start = m[1].get_deal(deal_ids[0]).start_epoch
        genesis = m[1].params().genesis

        def warp(epoch: int) -> None:
            target = genesis + epoch * p.epoch_seconds
            now = int(w3.eth.get_block("latest")["timestamp"])
            w3.provider.make_request("evm_mine", [max(target, now + 1)])  # type: ignore[arg-type]

        # settlements: one settleMany of `sample` items, each over two epochs
        warp(start + 3)
        items = []
        for deal_id in deal_ids:
            att = Attestation(deal_id, start, start + 1, True, b"\x07" * 32)
            sigs = [
                sign_attestation(wallet.dev_account(v).key, d.chain_id, d.market, att) for v in VALIDATORS
            ]
            items.append((deal_id, start, start + 1, sigs))
        gas["settle_item"].append(_gas(m[HOSTER].settle_many(items)) // len(items))
        # proofs: challenges of every deal, answered in one proveMany, and one alone
        warp(start + 2 + p.missed_quorum_epochs + 1)
        for deal_id in deal_ids:
            m[1].request_proof_for_missed_quorum(deal_id)
        seeds = {deal_id: m[1].challenge_of(deal_id).seed for deal_id in deal_ids}
        batch = [(deal_id, seeds[deal_id], _proof(data, seeds[deal_id])) for deal_id in deal_ids[1:]]
        gas["prove_item"].append(_gas(m[HOSTER].prove_many(batch)) // len(batch))
        single = [(deal_ids[0], seeds[deal_ids[0]], _proof(data, seeds[deal_ids[0]]))]
        gas["prove_single"].append(_gas(m[HOSTER].prove_many(single)))

    per_op = {k: (sum(v) // len(v) if v else None) for k, v in gas.items()}
    audits_per_deal = hours * 3600 / DEV_BLOCK_SECONDS / p.audit_every_blocks * p.audit_bps / 10_000
    earned = deals * epochs * price * (10_000 - p.validator_fee_bps) // 10_000
    once = deals * (int(per_op["reserve"] or 0) + int(per_op["fill"] or 0))  # each deal starts in the hour
    proofs = round(deals * audits_per_deal * int(per_op["prove_single"] or 0))
    default_every = settle_range_epochs(p, DEFAULT_SETTLE_EVERY)
    out: dict[str, Any] = {
        "measured_gas_per_operation": per_op,
        "model": {"deals": deals, "hours": hours, "epoch_seconds": p.epoch_seconds, "epochs": epochs,
                  "shard_bytes": shard_size, "gas_price_wei": gas_price,
                  "price_wei_per_slot_epoch": price, "price": "the SDK's default (scatter.sdk.pricing)",
                  "audits_per_deal": round(audits_per_deal, 2), "audit_proofs_sent_alone": True},
        "earned_eth": earned / ETHER,
    }  # fmt: skip
    paid_gib_epochs = deals * epochs * shard_size / GIB * (10_000 - p.validator_fee_bps) / 10_000
    for label, range_epochs in ((f"settle_every_{default_every}", default_every),
                                ("one_range_per_period", p.period_epochs)):  # fmt: skip
        settle = deals * -(-epochs // range_epochs) * int(per_op["settle_item"] or 0)
        total = once + proofs + settle
        out[label] = {
            "gas": {"reserves_and_fills": once, "proofs": proofs, "settlements": settle, "total": total},
            "spent_eth": total * gas_price / ETHER,
            "spent_eth_at_twice_the_gas_price": 2 * total * gas_price / ETHER,
            "earns_more_than_it_spends": earned > total * gas_price,
            # the price per GiB-epoch at which the deals' earnings pay exactly for this gas
            "break_even_price_wei_per_gib_epoch": round(total * gas_price / paid_gib_epochs),
        }
    spent = out[f"settle_every_{default_every}"]["spent_eth"]
    out["summary"] = (
        f"{deals} deals of {shard_size} bytes held {hours:g} h on the devnet at the SDK's default price "
        f"({price} wei/slot/epoch at {gas_price / 1e9:.3g} gwei gas): earned {earned / ETHER:.4g} ETH, "
        f"spent {spent:.4g} ETH of gas (settle_every {default_every})"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events for the backfill benchmark")
    parser.add_argument(
        "--deals", type=int, default=1_000, help="active deals for the steady-state benchmark"
    )
    parser.add_argument("--epochs", type=int, default=6, help="epochs measured in the steady state")
    parser.add_argument("--skip-steady", action="store_true")
    parser.add_argument("--economics", action="store_true", help="only the gas-versus-earnings model")
    parser.add_argument("--hours", type=float, default=1.0, help="hours the modelled deals are held")
    parser.add_argument("--shard-size", type=int, default=16 << 20, help="bytes per shard (economics)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the hoster process here")
    parser.add_argument("--serve-validator", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rpc-url", help=argparse.SUPPRESS)
    parser.add_argument("--market", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_validator is not None:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        serve_validator(args.rpc_url, args.market, args.serve_validator, args.state_dir)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups (anvil, hoster)
    if args.economics:
        econ = bench_economics(100 if args.deals == 1_000 else args.deals, args.hours, args.shard_size)
        if not args.json:
            print(econ["summary"], flush=True)
        print(json.dumps(econ, indent=2))
        return
    results: dict[str, Any] = {"backfill": bench_backfill(args.events)}
    if not args.json:
        print("backfill:", results["backfill"], flush=True)
    if not args.skip_steady:
        results["steady"] = bench_steady(args.deals, args.epochs, args.profile)
        if not args.json:
            print("steady:", results["steady"], flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
