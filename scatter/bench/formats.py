"""Benchmark of the local file pipeline: ``python -m scatter.bench.formats [--size 1GiB]``.

Measures, on one generated file and in one run:

* ``sha256``  — hashlib.sha256 over the file (the yardstick: reading + hashing once);
* ``encode``  — encrypt + erasure-code + UnixFS CIDs + CARs + possession roots, one pass;
* ``encode without roots`` — the same with the possession roots off: their overhead in %;
* ``roots``   — the possession tree vs hashlib.sha256 over the same bytes, one thread: the
  native SIMD hasher (if built) and the portable wasm one (``SCATTER_MERKLE=wasm``);
* ``decode``  — from parity shards only (real Reed-Solomon decoding), decrypt, verify sha256.

``--repeat N`` runs the two encodes N times, alternating, and keeps the fastest of each.
The roots' overhead is printed twice: in wall time (hidden in part by the second core
when it is idle) and in CPU time of all threads (what they cost on a busy machine).

Each phase runs in a fresh child process, which reports its own peak RSS
(``VmHWM`` from ``/proc/self/status``: the high-water mark of resident memory).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_UNITS = {
    "": 1,
    "b": 1,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"size like 1GiB, 256MiB or 1000000, not {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _make_input(path: Path, size: int) -> None:
    chunk = 64 * 1024 * 1024
    block = os.urandom(chunk)
    with path.open("wb") as f:
        left = size
        while left > 0:
            n = min(chunk, left)
            f.write(block[:n])
            # Vary each chunk so that no two UnixFS leaves are identical (no dedupe shortcut).
            block = block[1:] + block[:1]
            left -= n


def _phase(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one phase in a child; return its JSON result plus its peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-m", "scatter.bench.formats", "--phase", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark phase {args[0]} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (what the work costs, whatever the load)."""
    times = os.times()
    return times.user + times.system


def _report(result: dict[str, Any]) -> int:
    result["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(result))
    return 0


def _run_phase(argv: list[str]) -> int:
    phase, src, work = argv[0], Path(argv[1]), Path(argv[2])
    if phase == "sha256":
        import hashlib

        t = time.perf_counter()
        h = hashlib.sha256()
        with src.open("rb") as f:
            while chunk := f.read(4 * 1024 * 1024):
                h.update(chunk)
        return _report({"seconds": time.perf_counter() - t, "digest": h.hexdigest()})
    from scatter.formats import params
    from scatter.formats.pipeline import decode_dir, encode_file, load_manifest

    if phase == "roots":
        return _report(_roots_vs_sha256(src))
    if phase == "encode":
        erasure = params.parse_shards(argv[3])
        roots = argv[4] == "roots"
        cpu = _cpu_seconds()
        t = time.perf_counter()
        m = encode_file(src, work, erasure=erasure, roots=roots, overwrite=True)
        elapsed = time.perf_counter() - t
        return _report(
            {
                "seconds": elapsed,
                "cpu_seconds": _cpu_seconds() - cpu,
                "digest": m.sha256.hex(),
                "stored": sum(s.size for s in m.shards),
            }
        )
    if phase == "decode":
        m = load_manifest(work)
        parity = list(range(m.erasure.n - m.erasure.k, m.erasure.n))
        t = time.perf_counter()
        decode_dir(work, work / "decoded.bin", use=parity)
        elapsed = time.perf_counter() - t
        (work / "decoded.bin").unlink()
        return _report({"seconds": elapsed, "shards_used": parity})
    raise SystemExit(f"unknown phase {phase}")


def _roots_vs_sha256(src: Path) -> dict[str, Any]:
    """One thread, the same 4 MiB reads: hashlib.sha256 vs the possession root (the file is cached)."""
    import hashlib

    from scatter.formats._merkle import backend
    from scatter.formats.possession import PossessionRoot

    def timed(update: Any) -> float:
        t = time.perf_counter()
        with src.open("rb") as f:
            while chunk := f.read(4 * 1024 * 1024):
                update(chunk)
        return time.perf_counter() - t

    sha = timed(hashlib.sha256().update)
    builder = PossessionRoot()
    root_s = timed(builder.update)
    builder.finish()
    return {"sha256_seconds": sha, "root_seconds": root_s, "backend": backend()}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--phase":
        return _run_phase(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m scatter.bench.formats", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--size", type=parse_size, default=parse_size("1GiB"), help="input size (default 1GiB)"
    )
    parser.add_argument("--shards", default="3/6", help="k/n (default 3/6)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--repeat", type=int, default=1, help="encode with and without roots N times each, keep the fastest"
    )
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=ns.dir, prefix="scatter-bench-") as tmp:
        base = Path(tmp)
        src = base / "input.bin"
        _make_input(src, ns.size)
        mib = ns.size / 2**20
        sha = _phase(["sha256", str(src), str(base / "out")])
        roots = _phase(["roots", str(src), str(base / "out")])
        wasm = _phase(["roots", str(src), str(base / "out")], env={"SCATTER_MERKLE": "wasm"})
        plains, encs = [], []
        for _ in range(max(1, ns.repeat)):
            plains.append(_phase(["encode", str(src), str(base / "plain"), ns.shards, "noroots"]))
            encs.append(_phase(["encode", str(src), str(base / "out"), ns.shards, "roots"]))
        plain = min(plains, key=lambda r: float(r["seconds"]))
        enc = min(encs, key=lambda r: float(r["seconds"]))
        if enc["digest"] != sha["digest"]:
            raise SystemExit("encode saw different bytes than sha256: benchmark invalid")
        dec = _phase(["decode", str(src), str(base / "out")])
    results = {
        "size_bytes": ns.size,
        "shards": ns.shards,
        "cpus": os.cpu_count(),
        "sha256_mib_s": round(mib / sha["seconds"], 1),
        "encode_mib_s": round(mib / enc["seconds"], 1),
        "encode_vs_sha256": round(sha["seconds"] / enc["seconds"], 3),
        "encode_seconds": round(enc["seconds"], 3),
        "encode_without_roots_seconds": round(plain["seconds"], 3),
        "roots_overhead_pct": round(100 * (enc["seconds"] / plain["seconds"] - 1), 1),
        "encode_cpu_seconds": round(enc["cpu_seconds"], 3),
        "encode_without_roots_cpu_seconds": round(plain["cpu_seconds"], 3),
        "roots_cpu_overhead_pct": round(100 * (enc["cpu_seconds"] / plain["cpu_seconds"] - 1), 1),
        "root_backend": roots["backend"],
        "root_mib_s": round(mib / roots["root_seconds"], 1),
        "root_sha256_mib_s": round(mib / roots["sha256_seconds"], 1),
        "root_vs_sha256": round(roots["sha256_seconds"] / roots["root_seconds"], 3),
        "root_wasm_mib_s": round(mib / wasm["root_seconds"], 1),
        "root_wasm_sha256_mib_s": round(mib / wasm["sha256_seconds"], 1),
        "decode_from_parity_mib_s": round(mib / dec["seconds"], 1),
        "decode_shards_used": dec["shards_used"],
        "stored_bytes": enc["stored"],
        "peak_rss_mib": {
            "sha256": sha["peak_rss_mib"],
            "encode": enc["peak_rss_mib"],
            "encode_without_roots": plain["peak_rss_mib"],
            "decode": dec["peak_rss_mib"],
        },
    }
    if ns.json:
        print(json.dumps(results, indent=2))
        return 0
    used = f"{dec['shards_used'][0]}..{dec['shards_used'][-1]}"
    print(f"input {mib:.0f} MiB, shards {ns.shards}, {os.cpu_count()} CPUs")
    print(
        f"  sha256 (yardstick)          {results['sha256_mib_s']:>8} MiB/s"
        f"   peak RSS {sha['peak_rss_mib']} MiB"
    )
    print(
        f"  encode (+ possession roots) {results['encode_mib_s']:>8} MiB/s"
        f"   peak RSS {enc['peak_rss_mib']} MiB"
        f"   = {results['encode_vs_sha256']}x sha256"
    )
    print(
        f"  encode without roots         {round(mib / plain['seconds'], 1):>7} MiB/s"
        f"   peak RSS {plain['peak_rss_mib']} MiB"
    )
    print(
        f"  encode time {results['encode_seconds']:.2f} s with possession roots, "
        f"{results['encode_without_roots_seconds']:.2f} s without: "
        f"roots add {results['roots_overhead_pct']}% ({enc['stored'] / 2**20:.0f} MiB of shard bytes hashed)"
    )
    print(
        f"  encode CPU  {results['encode_cpu_seconds']:.2f} s with possession roots, "
        f"{results['encode_without_roots_cpu_seconds']:.2f} s without: "
        f"roots add {results['roots_cpu_overhead_pct']}% CPU (all threads; what a busy machine pays)"
    )
    print(
        f"  possession root (1 thread)  {results['root_mib_s']:>8} MiB/s"
        f"   vs sha256 {results['root_sha256_mib_s']} MiB/s on the same bytes"
        f"   = {results['root_vs_sha256']}x sha256   ({roots['backend']})"
    )
    print(
        f"  possession root, wasm build {results['root_wasm_mib_s']:>8} MiB/s"
        f"   vs sha256 {results['root_wasm_sha256_mib_s']} MiB/s on the same bytes (without the native build)"
    )
    print(
        f"  decode from parity {used:<9} {results['decode_from_parity_mib_s']:>8} MiB/s"
        f"   peak RSS {dec['peak_rss_mib']} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
