"""How many live deals ``scatter dev`` keeps paid on this machine (a command, not a CI test).

    python -m scatter.bench.scale [--bids 100] [--replicas 3] [--minutes 3] [--json PATH]

1. **Fill**: ``scatter dev`` in-process (8 hosters, 3 validators, 2-second epochs) and
   ``--bids`` public pins of ``--replicas`` replicas each, small content served by an origin
   gateway, posted back to back; it waits until the slots are filled.
2. **Steady state**: nothing else runs for ``--minutes``. Measured over that window, from
   ``/proc`` and the chain:

   - CPU: cores used by the hosters, the validators, anvil (sum over their processes);
   - pay: deal-epochs settled in the window / deal-epochs that went by (100 % means every
     epoch of every deal was paid as it ended, up to the hosters' settlement lag);
   - proof requests in the window by reason (missed quorums mean epochs went unpaid for
     ``missedQuorumEpochs``), missed proofs (honest hosters: must be 0).

The soak (``scatter.bench.soak``) asks whether an hour of uploads faults anyone; this asks
where the 2-core machine stops paying, and which daemon uses the CPU on the way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scatter.bench.soak import CLIENT_ACCOUNT, pay_totals, proof_requests_by_reason, serve_random
from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.chain.deploy import connect
from scatter.client import Scatter
from scatter.dev import DevNetwork
from scatter.ipfs.embedded import EmbeddedBlockStore
from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.sdk.network import Network

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_groups(net: DevNetwork) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {"hosters": [], "validators": [], "anvil": []}
    for child in net.children:
        if child.proc is not None:
            groups[child.role + "s"].append(child.proc.pid)
    proc = getattr(net.anvil, "_proc", None)
    if proc is not None:
        groups["anvil"].append(proc.pid)
    return groups


def group_cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    def say(msg: str) -> None:
        print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    origin_store = EmbeddedBlockStore(work / "origin", durable=False)
    origin = GatewayServer(create_gateway_app(origin_store)).start()
    extra: dict[str, list[str]] = {"hoster": [], "validator": []}
    if args.settle_every is not None:
        extra["hoster"] += ["--settle-every", str(args.settle_every)]
    if args.probe_every is not None:
        extra["validator"] += ["--probe-every", str(args.probe_every)]
    net = DevNetwork(state_dir=work / "dev", rpc_port=free_port(), port=0, web=False, on_event=say,
                     daemon_args=extra)  # fmt: skip
    out: dict[str, Any] = {"bids": args.bids, "replicas": args.replicas, "minutes": args.minutes,
                           "daemon_args": extra}  # fmt: skip
    try:
        net.start(ready_timeout=300)
        assert net.deployment is not None
        network = Network(connect(net.rpc_url), net.rpc_url, net.deployment, True)
        sdk = Scatter(network, wallet.dev_account(CLIENT_ACCOUNT), state_root=work / "client")
        start_block = sdk.w3.eth.block_number
        t0 = time.monotonic()
        for i in range(args.bids):
            cid = serve_random(origin_store, args.size)
            sdk.pin(cid, replicas=args.replicas, duration="2h", origins=[origin.url])
            if (i + 1) % 20 == 0:
                say(f"{i + 1} bids posted")
        want = args.bids * args.replicas
        filled = sdk.market.contract.events.SlotFilled()
        deadline = time.monotonic() + 600
        count = 0
        while time.monotonic() < deadline:
            count = len(filled.get_logs(from_block=start_block))
            if count >= want:
                break
            time.sleep(5)
        out["filled"] = count
        out["fill_s"] = round(time.monotonic() - t0, 1)
        say(f"{count} of {want} slots filled in {out['fill_s']} s; steady state for {args.minutes} min")

        groups = process_groups(net)
        cpu_a, paid_a, wall_a = group_cpu(groups), pay_totals(sdk), time.monotonic()
        block_a = sdk.w3.eth.block_number
        deadline = time.monotonic() + 60 * args.minutes
        while time.monotonic() < deadline:
            net.supervise_once()
            time.sleep(2)
        cpu_b, paid_b, wall = group_cpu(groups), pay_totals(sdk), time.monotonic() - wall_a
        events = sdk.market.contract.events
        out["cores"] = {k: round((cpu_b[k] - cpu_a[k]) / wall, 3) for k in cpu_a}
        out["cores"]["total"] = round(sum(out["cores"].values()), 3)
        settled, went_by = paid_b[0] - paid_a[0], paid_b[1] - paid_a[1]
        out["pay"] = {"settled": settled, "went_by": went_by, "share": round(settled / max(went_by, 1), 3)}
        out["proof_requests"] = proof_requests_by_reason(events.ProofRequested().get_logs(from_block=block_a))
        out["missed_proofs"] = len(events.ProofMissed().get_logs(from_block=block_a))
        out["load_avg"] = os.getloadavg()
    finally:
        net.stop()
        origin.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scatter.bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--bids", type=int, default=100)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--size", type=int, default=300_000, help="bytes of each pinned content")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--settle-every", type=int, help="the hosters' --settle-every (default: scatter dev's)")
    p.add_argument("--probe-every", type=int, help="the validators' --probe-every (default: scatter dev's)")
    p.add_argument("--work-dir", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        out = run(args, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="scatter-scale-") as tmp:
            out = run(args, Path(tmp))
    text = json.dumps(out, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 0 if out.get("missed_proofs", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
