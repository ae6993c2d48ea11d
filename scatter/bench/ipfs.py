"""Benchmark of the IPFS layer: importer and ``scatter ipfs add`` vs. plain sha256, and the gateway.

    python -m scatter.bench.ipfs [--size-mib 512] [--add-mib 1024] [--gateway-mib 256]
                                 [--requests 2000] [--only importer|add|gateway] [--json]

1. Importer: time ``hashlib.sha256`` over a file and ``import_file`` over the same
   file (CIDv1, raw leaves) in one run; report the ratio (1.0 = as fast as hashing,
   which is the floor: every byte is hashed once) and the importer's peak RSS,
   measured in a child process that does nothing else.
2. Add: ``scatter ipfs add FILE`` (the whole command, start-up included, into a
   fresh durable store) against ``hashlib.sha256`` over the same file and against
   a plain durable copy of it (the disk's bound), alternating the three, three
   times; the best of each, the ratios, the CPU time, and the command's peak RSS.
3. Gateway: serve a file from the embedded store with ``scatter ipfs serve`` (a
   separate process), download it as one CAR, then fetch raw 256 KiB blocks with
   16 concurrent clients.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scatter.bench.gateway import start_gateway

_READ = 1024 * 1024


def _make_file(path: Path, size: int) -> None:
    """Random bytes (so that no two chunks are equal and nothing is deduplicated)."""
    with path.open("wb") as f:
        left = size
        while left > 0:
            n = min(left, _READ)
            f.write(os.urandom(n))
            left -= n


def _sha256_file(path: Path) -> float:
    t = time.perf_counter()
    h = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(_READ):
            h.update(chunk)
    return time.perf_counter() - t


def _add_once(path: Path, store: Path) -> tuple[float, float, int]:
    """Run ``scatter ipfs add`` once; return (wall seconds, CPU seconds, peak RSS in KiB)."""
    cmd = [sys.executable, "-m", "scatter", "ipfs", "add", str(path), "--store", str(store), "--json"]
    t = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - t
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode != 0:
        raise RuntimeError(f"scatter ipfs add failed ({child.returncode}): {stderr.strip()}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def _durable_copy(path: Path, dest: Path) -> float:
    """Seconds to write the file's bytes to one new file and fsync it: what the disk allows
    (a durable add writes every byte once; shared disks vary a lot from minute to minute)."""
    t = time.perf_counter()
    with path.open("rb", buffering=0) as src, dest.open("wb", buffering=0) as out:
        while chunk := src.read(4 * _READ):
            out.write(chunk)
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - t
    dest.unlink()
    return elapsed


def _sha256_cpu(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of :func:`_sha256_file`."""
    cpu = time.process_time()
    wall = _sha256_file(path)
    return wall, time.process_time() - cpu


def bench_add(size: int, workdir: Path, runs: int = 3) -> dict[str, Any]:
    path = workdir / "add.bin"
    _make_file(path, size)
    _sha256_file(path)  # warm the page cache
    sha, sha_cpu, add, add_cpu, rss, disk = [], [], [], [], [], []
    for i in range(runs):
        wall, cpu = _sha256_cpu(path)
        sha.append(wall)
        sha_cpu.append(cpu)
        disk.append(_durable_copy(path, workdir / "copy.bin"))
        wall, cpu, peak = _add_once(path, workdir / f"store-{i}")
        add.append(wall)
        add_cpu.append(cpu)
        rss.append(peak)
    mib = size / 2**20
    path.unlink()
    return {
        "file_mib": mib,
        "sha256_mib_s": round(mib / min(sha), 1),
        "add_mib_s": round(mib / min(add), 1),
        "ratio_vs_sha256": round(min(sha) / min(add), 3),
        "ratios_per_run": [round(s / a, 3) for s, a in zip(sha, add, strict=True)],
        "durable_write_mib_s": round(mib / min(disk), 1),
        "ratio_vs_durable_write": round(min(disk) / min(add), 3),
        # CPU seconds (user + system) of sha256 / of the command: what the ratio would be on one core
        "cpu_ratio_vs_sha256": round(min(sha_cpu) / min(add_cpu), 3),
        "add_peak_rss_mib": round(max(rss) / 1024, 1),
    }


def _import_child(path: str) -> None:
    """Child process: import the file, print seconds, root and peak RSS (KiB)."""
    from scatter.ipfs.unixfs import import_file

    t = time.perf_counter()
    result = import_file(path)
    elapsed = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": elapsed, "root": str(result.root), "blocks": result.block_count, "rss_kib": rss}
        )
    )


def bench_importer(size: int, workdir: Path) -> dict[str, Any]:
    path = workdir / "import.bin"
    _make_file(path, size)
    _sha256_file(path)  # warm the page cache
    sha_s = min(_sha256_file(path) for _ in range(2))
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-m", "scatter.bench.ipfs", "_import", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    best = min(runs, key=lambda r: r["seconds"])
    mib = size / 2**20
    path.unlink()
    return {
        "file_mib": mib,
        "sha256_mib_s": round(mib / sha_s, 1),
        "import_mib_s": round(mib / best["seconds"], 1),
        "ratio_vs_sha256": round(sha_s / best["seconds"], 3),
        "import_peak_rss_mib": round(max(r["rss_kib"] for r in runs) / 1024, 1),
        "blocks": best["blocks"],
    }


def _raw_requests(url: str, cids: list[str], total: int, clients: int) -> tuple[float, int]:
    """``total`` GETs of raw blocks from ``clients`` threads, each with one keep-alive connection."""
    import http.client
    import threading
    from urllib.parse import urlparse

    parsed = urlparse(url)
    lock = threading.Lock()
    issued = 0
    errors = 0

    def client(worker: int) -> None:
        nonlocal issued, errors
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
        i = worker
        try:
            while True:
                with lock:
                    if issued >= total:
                        return
                    issued += 1
                conn.request(
                    "GET", f"/ipfs/{cids[i % len(cids)]}", headers={"Accept": "application/vnd.ipld.raw"}
                )
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or not body:
                    with lock:
                        errors += 1
                i += clients
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, errors


def _download_car(url: str, root: str) -> tuple[float, int]:
    """Best of three downloads of the whole DAG as a CAR (plain http.client: the client
    must not be the bottleneck); returns (seconds, bytes)."""
    import http.client
    from urllib.parse import urlparse

    parsed = urlparse(url)
    best = float("inf")
    received = 0
    for _ in range(3):
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=120)
        t = time.perf_counter()
        conn.request("GET", f"/ipfs/{root}", headers={"Accept": "application/vnd.ipld.car"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"gateway answered {resp.status} for the CAR")
        received = 0
        while piece := resp.read(4 * _READ):
            received += len(piece)
        best = min(best, time.perf_counter() - t)
        conn.close()
    return best, received


def bench_gateway(size: int, requests: int, clients: int, workdir: Path) -> dict[str, Any]:
    from scatter.ipfs.embedded import EmbeddedBlockStore
    from scatter.ipfs.unixfs import import_file

    path = workdir / "serve.bin"
    _make_file(path, size)
    store_dir = workdir / "store"
    store = EmbeddedBlockStore(store_dir, durable=False)
    leaves: list[str] = []

    def sink(block: Any) -> None:
        store.put(block)
        if block.cid.codec.code == 0x55:
            leaves.append(str(block.cid))

    result = import_file(path, sink)
    store.pin(result.root)
    path.unlink()
    server, url = start_gateway(store_dir)
    try:
        best, received = _download_car(url, str(result.root))
        seconds, errors = _raw_requests(url, leaves, requests, clients)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {
        "car_mib": round(received / 2**20, 1),
        "car_download_mib_s": round(received / 2**20 / best, 1),
        "raw_requests": requests,
        "raw_clients": clients,
        "raw_requests_per_s": round(requests / seconds, 1),
        "raw_errors": errors,
    }


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["_import"]:
        _import_child(args_in[1])
        return
    parser = argparse.ArgumentParser(prog="python -m scatter.bench.ipfs", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512, help="file size for the importer benchmark")
    parser.add_argument("--add-mib", type=int, default=1024, help="file size for `scatter ipfs add`")
    parser.add_argument(
        "--only", choices=("importer", "add", "gateway"), action="append", help="run only these parts"
    )
    parser.add_argument("--gateway-mib", type=int, default=256, help="file size for the gateway benchmark")
    parser.add_argument("--requests", type=int, default=2000, help="raw block requests")
    parser.add_argument("--clients", type=int, default=16, help="concurrent raw block clients")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(args_in)
    with tempfile.TemporaryDirectory(prefix="scatter-bench-") as tmp:
        work = Path(tmp)
        parts = set(args.only or ("importer", "add", "gateway"))
        report: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
        if "importer" in parts:
            report["importer"] = bench_importer(args.size_mib * 2**20, work)
        if "add" in parts:
            report["add"] = bench_add(args.add_mib * 2**20, work)
        if "gateway" in parts:
            report["gateway"] = bench_gateway(args.gateway_mib * 2**20, args.requests, args.clients, work)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    if imp := report.get("importer"):
        print(f"importer  {imp['file_mib']:.0f} MiB: sha256 {imp['sha256_mib_s']} MiB/s, ", end="")
        print(f"import {imp['import_mib_s']} MiB/s")
        print(f"          ratio {imp['ratio_vs_sha256']} of sha256 (target >= 0.70), ", end="")
        print(f"peak RSS {imp['import_peak_rss_mib']} MiB (target <= 200)")
    if add := report.get("add"):
        print(f"ipfs add  {add['file_mib']:.0f} MiB: sha256 {add['sha256_mib_s']} MiB/s, ", end="")
        print(f"`scatter ipfs add` {add['add_mib_s']} MiB/s (whole command, durable store)")
        runs = ", ".join(map(str, add["ratios_per_run"]))
        print(f"          ratio {add['ratio_vs_sha256']} of sha256 (target >= 0.30; per run {runs})")
        print(f"          disk: one file written and fsynced at {add['durable_write_mib_s']} MiB/s ", end="")
        print(f"(add reaches {add['ratio_vs_durable_write']} of that)")
        print(f"          CPU-time ratio {add['cpu_ratio_vs_sha256']}, ", end="")
        print(f"peak RSS {add['add_peak_rss_mib']} MiB (target <= 200)")
    if gw := report.get("gateway"):
        print(f"gateway   CAR of {gw['car_mib']} MiB at {gw['car_download_mib_s']} MiB/s (target >= 200)")
        print(
            f"          {gw['raw_requests_per_s']} raw 256 KiB blocks/s with {gw['raw_clients']} clients "
            f"(target >= 500), {gw['raw_errors']} errors"
        )


if __name__ == "__main__":
    main()
