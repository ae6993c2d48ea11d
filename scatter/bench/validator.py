"""Benchmark of the validator's check path on loopback: throughput and CPU per epoch.

    python -m scatter.bench.validator [--samples 8] [--deals 1000] [--epoch-seconds 60]
                                      [--throughput-checks 2000] [--gateways 2] [--json]

Hosters are ``scatter ipfs serve`` processes (separate processes, so their CPU is
not counted) over an embedded store holding ``--shards`` shards of ``--leaves``
256 KiB leaves each (Kubo's layout: CIDv1, raw leaves). Each deal is one shard on
one gateway. Every check is the daemon's full per-deal path: challenge seed,
``DealChecker.check`` (c raw fetches over HTTP keep-alive, hashing, verification
against the leaf list learnt from the root) and ``SigningLedger.record_and_sign``
(SQLite WAL, ``synchronous=FULL``, EIP-712 signature).

1. Throughput: ``--throughput-checks`` checks with ``--concurrency`` in flight, as
   fast as they go -> checks/s and leaf fetches/s.
2. One epoch: ``--deals`` checks spread evenly over ``--epoch-seconds`` (as the
   daemon spreads them) -> the process's CPU time / wall time (share of one core).
3. ``--daemon``: the whole daemon. A devnet (anvil, one-second blocks, ``--epoch-seconds``
   epochs) with ``--deals`` active deals on four hosters (the gateway processes), and one
   ``scatter validator run`` subprocess (``--max-cpu none``: its natural use). Over
   ``--daemon-epochs`` whole epochs: its CPU seconds (``/proc``) / wall seconds, and the
   checks it completed (its ``/metrics``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from multiformats import CID

from scatter.bench.gateway import start_gateway
from scatter.chain import wallet
from scatter.daemon.state import StateDB
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.unixfs import import_bytes
from scatter.validator.challenge import challenge_seed
from scatter.validator.checker import CheckTarget, DealChecker
from scatter.validator.config import DEFAULT_SAMPLES
from scatter.validator.dagcache import LeafCache
from scatter.validator.ledger import SigningLedger, Verdict
from scatter.validator.signer import AttestationSigner

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LEAF = 256 * 1024


def _make_shards(store_dir: Path, shards: int, leaves: int) -> tuple[list[CID], list[bytes]]:
    """Import ``shards`` random files; return their CIDs and their bytes (for possession proofs)."""
    roots, contents = [], []
    with EmbeddedBlockStore(store_dir, durable=False) as store:
        for _ in range(shards):
            data = os.urandom(leaves * LEAF)
            root, blocks = import_bytes(data, cid_version=1)
            store.put_many(blocks)
            store.pin(root)
            roots.append(root)
            contents.append(data)
    return roots, contents


class Bench:
    def __init__(
        self, workdir: Path, roots: list[CID], gateways: list[str], samples: int, concurrency: int
    ) -> None:
        db = StateDB(workdir / "validator.db")
        account = wallet.dev_account(5)
        self.address = str(account.address)
        self.ledger = SigningLedger(db, AttestationSigner(account, 31337, MARKET))
        self.checker = DealChecker(
            LeafCache(db), samples=samples, deadline=10.0, max_connections=concurrency * 2
        )
        self.roots = roots
        self.gateways = gateways
        self.semaphore = asyncio.Semaphore(concurrency)
        self.failed = 0
        self.fetched = 0

    def target(self, deal_id: int, epoch: int) -> CheckTarget:
        root = self.roots[deal_id % len(self.roots)]
        return CheckTarget(deal_id, epoch, root, self.gateways[deal_id % len(self.gateways)])

    async def one(self, deal_id: int, epoch: int, randomness: bytes) -> None:
        async with self.semaphore:
            target = self.target(deal_id, epoch)
            seed = challenge_seed(randomness, deal_id, epoch, self.address)
            outcome = await self.checker.check(target, seed, randomness)
            self.fetched += len(outcome.samples)
            if not outcome.ok:
                self.failed += 1
            verdict = Verdict(deal_id, epoch, outcome.ok, outcome.evidence(), outcome.detail())
            await asyncio.to_thread(self.ledger.record_and_sign, verdict)

    async def warm(self) -> None:
        """Learn every root's leaves once (the first check of a deal; not what an epoch costs)."""
        await asyncio.gather(*(self.one(10**6 + i, 0, os.urandom(32)) for i in range(len(self.roots))))

    async def throughput(self, checks: int, epoch: int) -> dict[str, float]:
        randomness = os.urandom(32)
        self.fetched = 0
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(self.one(d, epoch, randomness) for d in range(1, checks + 1)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return {
            "checks": checks,
            "seconds": round(wall, 2),
            "checks_per_s": round(checks / wall, 1),
            "leaf_fetches_per_s": round(self.fetched / wall, 1),
            "mib_per_s": round(self.fetched * LEAF / wall / 2**20, 1),
            "cpu_ms_per_check": round(cpu / checks * 1000, 2),
            "checks_per_core_s": round(checks / cpu, 1),  # the validator's own capacity per core
        }

    async def epoch(self, deals: int, seconds: float, epoch: int) -> dict[str, float]:
        randomness = os.urandom(32)
        start = time.perf_counter()
        c0 = time.process_time()
        tasks = []
        for i in range(deals):
            due = start + seconds * i / deals
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(self.one(i + 1, epoch, randomness)))
        await asyncio.gather(*tasks)
        wall, cpu = time.perf_counter() - start, time.process_time() - c0
        return {
            "deals": deals,
            "epoch_seconds": seconds,
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "share_of_one_core": round(cpu / wall, 3),
        }


def _reader(content: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, length: content[offset : offset + length]


def _rpc(w3: Any, method: str, params: list[Any]) -> Any:
    return w3.provider.make_request(method, params)["result"]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _checks_done(url: str) -> float:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics", timeout=5).text
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "scatter_validator_checks_total" and s.labels.get("result") not in ("retry", "abstain")
    )


def bench_daemon(
    args: argparse.Namespace, workdir: Path, gateways: list[str], roots: list[CID], contents: list[bytes]
) -> dict[str, Any]:
    from scatter.chain.anvil import Anvil, free_port
    from scatter.chain.deploy import connect, deploy
    from scatter.chain.deployments import record_deployment
    from scatter.chain.market import Market, Role, fill_seed
    from scatter.chain.params import ETHER, preset
    from scatter.chain.tx import Transactor
    from scatter.formats.possession import PossessionCache, build_proof, challenge_indices, possession_root
    from scatter.ipfs.cid import cid_bytes

    hosters, validator = (2, 3, 4, 5), 6
    slots = len(hosters)
    with Anvil() as node:
        w3 = connect(node.url)
        # No missed-quorum challenges or audits during the run: the bench measures checking.
        params = preset("devnet").with_overrides(
            epoch_seconds=int(args.epoch_seconds), missed_quorum_epochs=100_000, audit_bps=0
        )
        d = deploy(w3, wallet.dev_account(0), params)
        record = record_deployment(d, workdir / "deployments.json")
        for i, h in enumerate(hosters):
            Market(w3, d.market, Transactor(w3, wallet.dev_account(h))).join(
                Role.HOSTER, gateways[i % len(gateways)], 1 << 50, 100 * ETHER
            )
        market = Market(w3, d.market).contract
        client = wallet.dev_account(1).address
        bids = (args.deals + slots - 1) // slots
        price, duration = 1000, 1000
        size = len(contents[0])
        proots = [possession_root(c) for c in contents]
        readers = [_reader(c) for c in contents]
        caches = [PossessionCache.build(read, size) for read in readers]
        shard_of = [[(b * slots + s) % len(roots) for s in range(slots)] for b in range(bids)]
        _rpc(w3, "evm_setAutomine", [False])
        for start in range(0, bids, 100):
            for b in range(start, min(bids, start + 100)):
                cids = [cid_bytes(roots[i]) for i in shard_of[b]]
                data = market.encode_abi("bid", [cids, [proots[i] for i in shard_of[b]], size, slots, price,
                                                 duration, []])  # fmt: skip
                tx = {"from": client, "to": d.market, "data": data, "value": hex(price * slots * duration),
                      "gas": hex(1_000_000)}  # fmt: skip
                _rpc(w3, "eth_sendTransaction", [tx])
            _rpc(w3, "evm_mine", [])
        for start in range(0, bids, 25):  # 100 fills a block: well within the block gas limit
            seed_block = w3.eth.get_block("latest")
            for b in range(start, min(bids, start + 25)):
                for s, h in enumerate(hosters):
                    if b * slots + s >= args.deals:
                        continue
                    shard = shard_of[b][s]
                    hoster = wallet.dev_account(h).address
                    seed = fill_seed(bytes(seed_block["hash"]), b + 1, s, hoster)
                    proof = build_proof(
                        readers[shard], size, challenge_indices(seed, size), cache=caches[shard]
                    )
                    data = market.encode_abi("fill", [b + 1, s, seed_block["number"], 2**128 - 1, proof])
                    tx = {"from": hoster, "to": d.market, "data": data, "gas": hex(1_000_000)}
                    _rpc(w3, "eth_sendTransaction", [tx])
            _rpc(w3, "evm_mine", [])
        _rpc(w3, "evm_setAutomine", [True])
        _rpc(w3, "evm_setIntervalMining", [1])
        view = Market(w3, d.market)
        deals = view.deal_count()
        if deals != args.deals:
            raise RuntimeError(f"only {deals} of {args.deals} deals were filled")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "scatter", "validator", "run", "--rpc-url", node.url, "--dev-account",
               str(validator), "--state-dir", str(workdir / "validator"), "--port", str(port), "--stake", "1",
               "--deployments", str(record), "--confirmations", "1", "--max-cpu", "none",
               "--samples", str(args.samples)]  # fmt: skip
        log = (args.daemon_log or workdir / "validator.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            first = view.current_epoch() + 2  # deals started, leaf lists learnt: a whole epoch ahead
            genesis = view.params().genesis

            def wait_epoch(epoch: int) -> None:
                while int(w3.eth.get_block("latest")["timestamp"]) < genesis + epoch * int(
                    args.epoch_seconds
                ):
                    time.sleep(0.2)

            wait_epoch(first)
            c0, t0, n0 = _cpu_seconds(proc.pid), time.monotonic(), _checks_done(url)
            wait_epoch(first + args.daemon_epochs)
            c1, t1, n1 = _cpu_seconds(proc.pid), time.monotonic(), _checks_done(url)
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "deals": deals,
        "epoch_seconds": args.epoch_seconds,
        "epochs": args.daemon_epochs,
        "checks": int(n1 - n0),
        "cpu_seconds": round(c1 - c0, 2),
        "wall_seconds": round(t1 - t0, 1),
        "share_of_one_core": round((c1 - c0) / (t1 - t0), 3),
    }


async def _run(
    args: argparse.Namespace, workdir: Path, gateways: list[str], roots: list[CID]
) -> dict[str, Any]:
    bench = Bench(workdir, roots, gateways, args.samples, args.concurrency)
    await bench.warm()
    result: dict[str, Any] = {"samples": args.samples, "leaf_bytes": LEAF, "gateways": len(gateways)}
    result["throughput"] = await bench.throughput(args.throughput_checks, epoch=1)
    if args.deals and not args.no_epoch:
        result["epoch"] = await bench.epoch(args.deals, args.epoch_seconds, epoch=2)
    result["failed_checks"] = bench.failed
    await bench.checker.aclose()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scatter.bench.validator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="c, leaves per check")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--leaves", type=int, default=32, help="256 KiB leaves per shard")
    parser.add_argument("--gateways", type=int, default=2, help="hoster gateway processes")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--throughput-checks", type=int, default=2000)
    parser.add_argument("--deals", type=int, default=1000, help="deals in the epoch run (0: skip)")
    parser.add_argument("--epoch-seconds", type=float, default=60.0)
    parser.add_argument("--no-epoch", action="store_true", help="skip the one-epoch run (2)")
    parser.add_argument("--daemon", action="store_true", help="also run the whole daemon on a devnet (3)")
    parser.add_argument("--daemon-epochs", type=int, default=1)
    parser.add_argument("--daemon-log", type=Path, default=None, help="keep the daemon's JSON log here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scatter-bench-validator-") as tmp:
        workdir = Path(tmp)
        roots, contents = _make_shards(workdir / "store", args.shards, args.leaves)
        servers = [start_gateway(workdir / "store") for _ in range(args.gateways)]
        try:
            urls = [url for _, url in servers]
            result = asyncio.run(_run(args, workdir, urls, roots))
            if args.daemon:
                result["daemon"] = bench_daemon(args, workdir, urls, roots, contents)
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=10)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        t = result["throughput"]
        print(f"c = {result['samples']} leaves of {LEAF // 1024} KiB, {result['gateways']} gateway processes")
        print(f"throughput: {t['checks_per_s']} checks/s ({t['leaf_fetches_per_s']} leaf fetches/s, "
              f"{t['mib_per_s']} MiB/s), {t['cpu_ms_per_check']} ms CPU per check "
              f"= {t['checks_per_core_s']} checks/s per core of validator CPU")  # fmt: skip
        if "epoch" in result:
            e = result["epoch"]
            print(f"epoch: {e['deals']} deals over {e['epoch_seconds']:.0f} s -> {e['cpu_seconds']} s CPU, "
                  f"{e['share_of_one_core'] * 100:.1f}% of one core")  # fmt: skip
        print(f"failed checks: {result['failed_checks']}")
        if "daemon" in result:
            m = result["daemon"]
            print(f"daemon: {m['deals']} deals, {m['checks']} checks in {m['epochs']} epoch(s) of "
                  f"{m['epoch_seconds']:.0f} s -> {m['cpu_seconds']} s CPU, "
                  f"{m['share_of_one_core'] * 100:.1f}% of one core")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
