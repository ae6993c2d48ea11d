"""Soak run of the whole local marketplace (a command, not a CI test).

``python -m scatter.bench.soak --minutes 60`` (``make soak``); small scale:
``python -m scatter.bench.soak --minutes 3 --max-size 20MiB``.

1. **Load**: ``scatter dev`` in-process (:class:`scatter.dev.DevNetwork`: anvil with 2-second
   epochs, 8 hoster and 3 validator daemons as processes) and, for the given time, private
   uploads of random sizes up to ``--max-size`` at 3/6 (log-uniform, so small and large files
   both occur) interleaved with public pins of 3 replicas served by an origin gateway, one
   operation started every ``--interval`` seconds (60: an hour ends with about 300 live deals,
   what ``python -m scatter.bench.scale`` measured 2 cores to keep paid; 0: back to back,
   about 40 new deals a minute, which no 2-core machine pays for).
2. **Restart** (``--restart``, default on): at half time the whole network stops as Ctrl-C
   stops it and starts again from its state directory; the chain's clock resumes where it
   stopped, so the restart must fault nothing.
3. **Figures**: uploads and pins done, bytes, settlements, proofs requested / accepted /
   missed, and **faults of honest hosters**, which must be zero (every hoster is honest
   until step 4), slashes (missed proofs and validator slashes).
4. **Deletion**: the hoster of one slot of one uploaded file deletes 10% of the shard's
   leaf blocks from its store. Counted: the proof requests until its first missed proof
   (the slash) and who sent them (validators, or the soak acting as "anyone" with
   ``--stranger``: a free proof request after a missed quorum, a report of an overdue
   proof), the epochs until its deal faulted (``maxFaults`` missed proofs) and until
   another hoster rebuilt the shard and refilled the slot; then the file must still download.

Exit status 0 when honest hosters lost nothing, every operation succeeded and the deletion
scenario ended with the slot refilled and the file downloaded; 1 otherwise. ``--json PATH``
writes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from multiformats import CID

from scatter.bench.formats import parse_size
from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.chain.deploy import connect
from scatter.chain.market import DealStatus, Market
from scatter.chain.tx import Transactor
from scatter.client import Scatter
from scatter.dev import DevNetwork
from scatter.errors import ScatterError
from scatter.ipfs.cid import CODEC_RAW
from scatter.ipfs.dag import walk_dag
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.ipfs.unixfs import import_bytes
from scatter.sdk.network import Network

MIB = 1 << 20
MIN_SIZE = 64 << 10
#: A shard needs this many leaf blocks for "10% of them" to mean something.
MIN_LEAVES = 10
PROOF_REASONS = ("fail-quorum", "missed-quorum", "audit", "after-fault")
CLIENT_ACCOUNT = 1
#: A dev account outside every daemon: "anyone" in the deletion scenario (--stranger).
STRANGER_ACCOUNT = 9


@dataclass
class Op:
    kind: str  # upload | pin
    size: int
    seconds: float
    file_id: int | None = None
    bid_id: int | None = None
    sha256: str = ""
    error: str = ""


@dataclass
class Deletion:
    file_id: int = 0
    bid_id: int = 0
    slot: int = 0
    deal_id: int = 0
    hoster: str = ""
    leaves: int = 0
    deleted: int = 0
    proof_requests_until_slash: int | None = None
    proof_requests_by_reason: dict[str, int] = field(default_factory=dict)
    proofs_answered_before_slash: int = 0
    requested_by: dict[str, int] = field(default_factory=dict)  # who sent the victim's proof requests
    epochs_to_first_slash: int | None = None
    missed_proofs: int = 0
    epochs_to_fault: int | None = None
    refilled_by: str | None = None
    refill_deal: int | None = None
    epochs_to_refill: int | None = None
    health_after: str = ""
    downloaded: bool = False
    error: str = ""


@dataclass
class Figures:
    minutes: float
    max_size: int
    hosters: int
    validators: int
    ops: list[Op] = field(default_factory=list)
    restart: dict[str, Any] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    proof_requests: dict[str, int] = field(default_factory=dict)
    honest_faults: list[dict[str, Any]] = field(default_factory=list)
    slashed_wei: int = 0
    validator_slashes: int = 0
    paid_to_hosters_wei: int = 0
    epochs_paid: int = 0  # over all deals: epochs settled ...
    epochs_elapsed: int = 0  # ... of the epochs over since each deal started
    deletion: Deletion | None = None

    def ok(self) -> bool:
        d = self.deletion
        return (
            not self.honest_faults
            and not any(op.error for op in self.ops)
            and (d is None or (d.refill_deal is not None and d.downloaded and not d.error))
        )


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.state_dir = work / "dev"
        self.rpc_port = free_port()
        self.net: DevNetwork | None = None
        self.sdk: Scatter | None = None
        self.figures = Figures(args.minutes, args.max_size, args.hosters, args.validators)
        self.origin_store = EmbeddedBlockStore(work / "origin", durable=False)
        self.origin = GatewayServer(create_gateway_app(self.origin_store)).start()
        self.start_block = 0
        # Bids outlive the soak and the deletion scenario.
        seconds = int(60 * (args.minutes + args.deletion_minutes) + 1800)
        self.duration = f"{seconds}s"

    # ------------------------------------------------------------------ network

    def _say(self, message: str) -> None:
        print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def start_network(self) -> None:
        net = DevNetwork(
            state_dir=self.state_dir,
            rpc_port=self.rpc_port,
            hosters=self.args.hosters,
            validators=self.args.validators,
            port=0,
            web=False,
            on_event=self._say,
        )
        net.start(ready_timeout=300)
        self.net = net
        assert net.deployment is not None
        network = Network(connect(net.rpc_url), net.rpc_url, net.deployment, True)
        self.sdk = Scatter(network, wallet.dev_account(CLIENT_ACCOUNT), state_root=self.work / "client")

    def stop(self) -> None:
        if self.net is not None:
            self.net.stop()
            self.net = None
        self.origin.stop()

    def _supervise(self) -> None:
        if self.net is not None:
            self.net.supervise_once()

    def restart(self) -> None:
        assert self.net is not None and self.sdk is not None
        w3 = self.sdk.w3
        before = w3.eth.get_block("latest")
        epoch_before = self.sdk.market.current_epoch()
        self._say("restarting the network (stop as Ctrl-C does, then start from the state dir)")
        self.net.stop()
        time.sleep(self.args.downtime)
        self.start_network()
        w3 = self.sdk.w3
        after = w3.eth.get_block(int(before["number"]) + 1)
        self.figures.restart = {
            "downtime_s": self.args.downtime,
            "chain_clock_gap_s": int(after["timestamp"]) - int(before["timestamp"]),
            "epoch_before": epoch_before,
            "epoch_after": self.sdk.market.current_epoch(),
        }

    # ------------------------------------------------------------------ load

    def _size(self, cap: int) -> int:
        low, high = math.log(MIN_SIZE), math.log(max(cap, MIN_SIZE + 1))
        return int(math.exp(self.rng.uniform(low, high)))

    def upload_once(self, size: int | None = None) -> Op:
        assert self.sdk is not None
        size = size or self._size(self.args.max_size)
        path = self.work / f"upload-{len(self.figures.ops)}.bin"
        digest = hashlib.sha256()
        with path.open("wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 16 * MIB))
                digest.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        started = time.monotonic()
        op = Op("upload", size, 0.0, sha256=digest.hexdigest())
        try:
            up = self.sdk.upload(path, shards="3/6", duration=self.duration, timeout=self.args.op_timeout)
            op.file_id, op.bid_id = up.file_id, up.bid_id
        except ScatterError as exc:
            op.error = str(exc)[:300]
        finally:
            path.unlink(missing_ok=True)
        op.seconds = round(time.monotonic() - started, 1)
        return op

    def pin_once(self) -> Op:
        assert self.sdk is not None
        size = self._size(max(MIN_SIZE + 1, self.args.max_size // 4))
        cid = serve_random(self.origin_store, size)
        started = time.monotonic()
        op = Op("pin", size, 0.0)
        try:
            res = self.sdk.pin(
                cid,
                replicas=3,
                duration=self.duration,
                origins=[self.origin.url],
                wait=True,
                timeout=self.args.op_timeout,
            )
            op.bid_id = res.bid_id
        except ScatterError as exc:
            op.error = str(exc)[:300]
        op.seconds = round(time.monotonic() - started, 1)
        return op

    def load(self) -> None:
        deadline = time.monotonic() + 60 * self.args.minutes
        restart_at = time.monotonic() + 30 * self.args.minutes if self.args.restart else math.inf
        n = 0
        next_start = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() >= restart_at:
                self.restart()
                restart_at = math.inf
            # paced: one operation starts every --interval seconds (the network's capacity on the
            # machine is finite; `python -m scatter.bench.scale` measures it)
            while time.monotonic() < min(next_start, deadline):
                time.sleep(min(2.0, next_start - time.monotonic()))
                self._supervise()
            if time.monotonic() >= deadline:
                break
            next_start = time.monotonic() + self.args.interval
            op = self.pin_once() if n % 3 == 2 else self.upload_once()
            self.figures.ops.append(op)
            self._say(
                f"{op.kind} {n}: {op.size} bytes in {op.seconds}s"
                + (f" FAILED: {op.error}" if op.error else f" (bid {op.bid_id})")
            )
            n += 1
            self._supervise()
        if restart_at != math.inf:  # a load shorter than one operation: restart anyway
            self.restart()

    # ------------------------------------------------------------------ figures

    def logs(self, event: str, **filters: Any) -> list[Any]:
        assert self.sdk is not None
        ev = self.sdk.market.contract.events[event]()
        return list(ev.get_logs(from_block=self.start_block, argument_filters=filters or None))

    def count(self, excluded_deal: int | None = None) -> None:
        f = self.figures
        for name in ("BidPosted", "SlotReserved", "ReservationReleased", "SlotFilled", "DealSettled",
                     "ProofRequested", "ProofAccepted", "ProofMissed", "DealFaulted", "SlotReopened",
                     "ValidatorSlashed"):  # fmt: skip
            f.events[name] = len(self.logs(name))
        f.proof_requests = proof_requests_by_reason(self.logs("ProofRequested"))
        missed = self.logs("ProofMissed")
        f.slashed_wei = sum(int(log["args"]["slashed"]) for log in missed)
        f.honest_faults = [
            {
                "dealId": int(log["args"]["dealId"]),
                "hoster": log["args"]["hoster"],
                "block": log["blockNumber"],
            }
            for log in missed
            if int(log["args"]["dealId"]) != excluded_deal
        ]
        f.validator_slashes = f.events["ValidatorSlashed"]
        f.paid_to_hosters_wei = sum(int(log["args"]["hosterAmount"]) for log in self.logs("DealSettled"))
        assert self.sdk is not None
        f.epochs_paid, f.epochs_elapsed = pay_totals(self.sdk)

    # ------------------------------------------------------------------ deletion

    def deletion(self) -> Deletion:
        assert self.sdk is not None and self.net is not None
        sdk = self.sdk
        d = Deletion()
        uploads = [op for op in self.figures.ops if op.kind == "upload" and op.file_id is not None]
        big = [op for op in uploads if op.size >= 3 * MIN_LEAVES * (256 << 10)]
        if big:
            target = max(big, key=lambda op: op.size)
        else:
            self._say("uploading a 24 MiB file for the deletion scenario")
            target = self.upload_once(24 * MIB)
            self.figures.ops.append(target)
            if target.error:
                d.error = f"could not upload the file: {target.error}"
                return d
        assert target.file_id is not None and target.bid_id is not None
        d.file_id, d.bid_id = target.file_id, target.bid_id
        active = {deal.slot: deal for deal in sdk.deals_of_bid(d.bid_id) if deal.status == DealStatus.ACTIVE}
        d.slot = min(active)
        deal = active[d.slot]
        d.deal_id, d.hoster = deal.deal_id, deal.hoster
        child = next(c for c in self.net.children if c.address.lower() == deal.hoster.lower())
        d.hoster = f"{child.name} ({deal.hoster})"
        cid = CID.decode(sdk.bid_info(d.bid_id).cids[d.slot])
        store = EmbeddedBlockStore(child.state_dir / "blocks", durable=False)
        leaves = [b.cid for b in walk_dag(cid, store) if b.cid.codec.code == CODEC_RAW]
        d.leaves = len(leaves)
        doomed = self.rng.sample(leaves, max(1, math.ceil(len(leaves) / 10)))
        for leaf in doomed:
            # The store's on-disk format (scatter.ipfs.embedded): one file per block.
            store._block_path(bytes(leaf.digest)).unlink()
        d.deleted = len(doomed)
        start_block = int(sdk.w3.eth.block_number)
        start_epoch = sdk.market.current_epoch()
        self._say(f"{d.hoster} deleted {d.deleted} of {d.leaves} blocks of slot {d.slot} of bid {d.bid_id}")
        deadline = time.monotonic() + 60 * self.args.deletion_minutes

        def since(event: str, **filters: Any) -> list[Any]:
            ev = sdk.market.contract.events[event]()
            return list(ev.get_logs(from_block=start_block, argument_filters=filters))

        stranger = Market(
            sdk.w3, sdk.market.address, Transactor(sdk.w3, wallet.dev_account(STRANGER_ACCOUNT))
        )
        while time.monotonic() < deadline:
            self._supervise()
            if self.args.stranger:
                # What anyone may do, free and objective: ask for a proof after a missed quorum,
                # report a proof that is overdue. The contract refuses both when not due.
                for act in (stranger.request_proof_for_missed_quorum, stranger.report_missed_proof):
                    with contextlib.suppress(ScatterError):
                        act(d.deal_id)
            requested = since("ProofRequested", dealId=d.deal_id)
            missed = since("ProofMissed", dealId=d.deal_id)
            d.missed_proofs = len(missed)
            if missed and d.proof_requests_until_slash is None:
                first = missed[0]["blockNumber"]
                before = [r for r in requested if r["blockNumber"] < first]
                d.proof_requests_until_slash = len(before)
                d.proof_requests_by_reason = proof_requests_by_reason(before)
                d.requested_by = self._senders(before)
                d.proofs_answered_before_slash = sum(
                    1 for a in since("ProofAccepted", dealId=d.deal_id) if a["blockNumber"] < first
                )
                d.epochs_to_first_slash = self._epoch_of(first) - start_epoch
                self._say(f"slashed after {d.proof_requests_until_slash} proof request(s)")
            faulted = since("DealFaulted", dealId=d.deal_id)
            if faulted and d.epochs_to_fault is None:
                d.epochs_to_fault = self._epoch_of(faulted[0]["blockNumber"]) - start_epoch
                self._say(f"deal {d.deal_id} faulted after {d.missed_proofs} missed proofs")
            refills = [
                log
                for log in since("SlotFilled", bidId=d.bid_id)
                if int(log["args"]["slot"]) == d.slot and int(log["args"]["dealId"]) != d.deal_id
            ]
            if refills:
                log = refills[0]
                d.refill_deal = int(log["args"]["dealId"])
                hoster = str(log["args"]["hoster"])
                name = next((c.name for c in self.net.children if c.address.lower() == hoster.lower()), "?")
                d.refilled_by = f"{name} ({hoster})"
                d.epochs_to_refill = self._epoch_of(log["blockNumber"]) - start_epoch
                self._say(f"slot {d.slot} refilled by {d.refilled_by} (deal {d.refill_deal})")
                break
            time.sleep(2.0)
        else:
            d.error = f"the slot was not refilled within {self.args.deletion_minutes} minutes"
        status = sdk.status(d.file_id, ask_hosters=False)
        d.health_after = status.health.label if status.health is not None else ""
        try:
            got = sdk.download(d.file_id, self.work / "deleted-file-copy.bin")
            d.downloaded = got.sha256.hex() == target.sha256
            got.path.unlink(missing_ok=True)
        except ScatterError as exc:
            d.error = (d.error + "; " if d.error else "") + f"download failed: {exc}"[:300]
        return d

    def _senders(self, logs: list[Any]) -> dict[str, int]:
        """Who sent the transactions of ``logs``: validator, the soak's stranger, or another account."""
        assert self.sdk is not None and self.net is not None
        validators = {c.address.lower() for c in self.net.children if c.role == "validator"}
        stranger = str(wallet.dev_account(STRANGER_ACCOUNT).address).lower()
        out: Counter[str] = Counter()
        for log in logs:
            sender = str(self.sdk.w3.eth.get_transaction(log["transactionHash"])["from"]).lower()
            out["validator" if sender in validators else "stranger" if sender == stranger else "other"] += 1
        return dict(out)

    def _epoch_of(self, block: int) -> int:
        assert self.sdk is not None
        return self.sdk.params.epoch_at(int(self.sdk.w3.eth.get_block(block)["timestamp"]))

    # ------------------------------------------------------------------ run

    def run(self) -> Figures:
        self._say(f"starting scatter dev: {self.args.hosters} hosters, {self.args.validators} validators")
        self.start_network()
        assert self.sdk is not None
        self.start_block = int(self.sdk.w3.eth.block_number)
        self.load()
        self.count()
        if self.args.deletion:
            self.figures.deletion = self.deletion()
            self.count(excluded_deal=self.figures.deletion.deal_id)
        return self.figures


def proof_reason(code: int) -> str:
    """``ProofRequested.reason`` in words."""
    return PROOF_REASONS[code] if 0 <= code < len(PROOF_REASONS) else str(code)


def proof_requests_by_reason(logs: list[Any]) -> dict[str, int]:
    """``ProofRequested`` logs counted by reason, in words."""
    return dict(Counter(proof_reason(int(log["args"]["reason"])) for log in logs))


def pay_totals(sdk: Scatter) -> tuple[int, int]:
    """(epochs paid, epochs over) summed over every deal at the current epoch: the share of the
    deal-epochs that went by which were settled."""
    now = sdk.market.current_epoch()
    paid = over = 0
    for deal_id in range(1, sdk.market.deal_count() + 1):
        deal = sdk.market.get_deal(deal_id)
        paid += deal.paid_epochs
        over += max(0, min(now - 1, deal.end_epoch) - deal.start_epoch + 1)
    return paid, over


def serve_random(store: EmbeddedBlockStore, size: int) -> str:
    """``size`` random bytes imported (CIDv1) and pinned in ``store``: a public CID its gateway serves."""
    root, blocks = import_bytes(os.urandom(size), cid_version=1)
    for block in blocks:
        store.put(block)
    store.pin(root)
    return str(root)


def _mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


def report(f: Figures, say: Callable[[str], object] = print) -> None:
    uploads = [op for op in f.ops if op.kind == "upload"]
    pins = [op for op in f.ops if op.kind == "pin"]
    done_up = [op for op in uploads if not op.error]
    done_pin = [op for op in pins if not op.error]
    up_bytes = sum(op.size for op in done_up)
    size = _mib(f.max_size)
    say(f"soak: {f.minutes} min, {f.hosters} hosters, {f.validators} validators, files up to {size}")
    say(
        f"uploads (3/6): {len(done_up)} done, {len(uploads) - len(done_up)} failed, {_mib(up_bytes)}"
        + (f", {max(op.seconds for op in done_up)} s the slowest" if done_up else "")
    )
    say(
        f"pins (3 replicas): {len(done_pin)} done, {len(pins) - len(done_pin)} failed, "
        f"{_mib(sum(op.size for op in done_pin))}"
    )
    for op in f.ops:
        if op.error:
            say(f"  FAILED {op.kind} of {op.size} bytes: {op.error}")
    if f.restart:
        r = f.restart
        say(
            f"restart: {r['downtime_s']} s down, chain clock gap {r['chain_clock_gap_s']} s "
            f"(epoch {r['epoch_before']} -> {r['epoch_after']})"
        )
    say(f"events: {json.dumps(f.events)}")
    say(f"proof requests: {json.dumps(f.proof_requests)}; paid to hosters {f.paid_to_hosters_wei} wei")
    share = f.epochs_paid / f.epochs_elapsed if f.epochs_elapsed else 0.0
    say(f"pay: {f.epochs_paid} of {f.epochs_elapsed} deal-epochs over were settled ({share:.0%})")
    say(f"faults of honest hosters: {len(f.honest_faults)} (must be 0) {f.honest_faults or ''}")
    say(f"slashes: {f.events.get('ProofMissed', 0)} missed proofs ({f.slashed_wei} wei), "
        f"{f.validator_slashes} validator slashes")  # fmt: skip
    d = f.deletion
    if d is not None:
        say(
            f"deletion: {d.hoster} deleted {d.deleted} of {d.leaves} leaf blocks of slot {d.slot} "
            f"(bid {d.bid_id}, deal {d.deal_id})"
        )
        say(
            f"  slashed after {d.proof_requests_until_slash} proof request(s) {d.proof_requests_by_reason} "
            f"({d.proofs_answered_before_slash} answered; sent by {d.requested_by}), "
            f"{d.epochs_to_first_slash} epochs"
        )
        say(f"  deal faulted after {d.missed_proofs} missed proofs, {d.epochs_to_fault} epochs")
        say(
            f"  slot refilled by {d.refilled_by} (deal {d.refill_deal}) {d.epochs_to_refill} epochs after "
            f"the deletion; health now {d.health_after}; file downloads: {'yes' if d.downloaded else 'NO'}"
        )
        if d.error:
            say(f"  ERROR: {d.error}")
    say("result: " + ("OK" if f.ok() else "FAILED"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=60.0, help="How long the load runs.")
    parser.add_argument("--max-size", type=parse_size, default=200 * MIB, help="Largest upload (200MiB).")
    parser.add_argument(
        "--interval",
        type=float,
        default=60.0,
        help="Seconds from one operation's start to the next (0: back to back).",
    )
    parser.add_argument("--hosters", type=int, default=8)
    parser.add_argument("--validators", type=int, default=3)
    parser.add_argument("--restart", action=argparse.BooleanOptionalAction, default=True,
                        help="Restart the whole network once, at half time.")  # fmt: skip
    parser.add_argument("--downtime", type=float, default=10.0, help="Seconds the network stays down.")
    parser.add_argument("--deletion", action=argparse.BooleanOptionalAction, default=True,
                        help="Run the deletion scenario at the end.")  # fmt: skip
    parser.add_argument("--deletion-minutes", type=float, default=20.0, help="Its time limit.")
    parser.add_argument("--stranger", action=argparse.BooleanOptionalAction, default=True,
                        help="Deletion scenario: also act as 'anyone' (request a proof after a "
                        "missed quorum, report an overdue proof).")  # fmt: skip
    parser.add_argument("--op-timeout", type=float, default=600.0, help="Seconds per upload or pin.")
    parser.add_argument("--seed", type=int, default=None, help="Seed of the sizes and the deleted blocks.")
    parser.add_argument("--work-dir", type=Path, default=None, help="Keep state and logs here.")
    parser.add_argument("--json", type=Path, default=None, help="Write the figures here.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scatter-soak-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        soak = Soak(args, work)
        try:
            figures = soak.run()
        finally:
            soak.stop()
        report(figures)
        if args.json is not None:
            args.json.write_text(json.dumps(asdict(figures), indent=2, default=str) + "\n")
    return 0 if figures.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
