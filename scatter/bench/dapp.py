"""Benchmark of the dapp's in-browser pipeline: ``python -m scatter.bench.dapp [--size 100MiB]``.

Builds ``dapp/test/bench`` with Vite (needs ``dapp/node_modules``), serves it on 127.0.0.1, and in
Debian's headless Chromium encodes generated data with ``encodeFile`` (AES-256-GCM in WebCrypto,
zfec and keccak in wasm, UnixFS CIDs and CARs, possession roots) and decodes it from the parity
shards' CARs with ``decodeFile``; each as MiB/s and as a ratio to WebCrypto's sha256 of the same
bytes in the same page (the yardstick: the machine is shared, ratios are what compare).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scatter.bench.formats import parse_size

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DAPP = Path(__file__).resolve().parents[2] / "dapp"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def build(out: Path) -> None:
    vite = DAPP / "node_modules" / ".bin" / "vite"
    if not vite.exists():
        raise SystemExit(f"{vite} is missing: run `npm ci` in dapp/ first")
    subprocess.run(
        [str(vite), "build", "--config", "test/bench/vite.config.ts"],
        cwd=DAPP,
        env={**os.environ, "SCATTER_BENCH_OUT": str(out)},
        check=True,
    )


@contextlib.contextmanager
def bench_page(browser: Browser | None = None) -> Iterator[Page]:
    """The built bench page, served on 127.0.0.1, open in headless Chromium (window.runBench ready):
    a page of ``browser`` (one Playwright per process: the tests pass theirs), else of one launched here."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="scatter-dapp-bench-") as tmp:
        out = Path(tmp)
        build(out)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with contextlib.ExitStack() as stack:
                if browser is None:
                    pw = stack.enter_context(sync_playwright())
                    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                    stack.callback(browser.close)
                page = browser.new_page()
                stack.callback(page.close)
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("typeof window.runBench === 'function'")
                yield page
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _in_page(function: str, size_mib: int, k: int, n: int) -> dict[str, Any]:
    """``window.<function>(mib, k, n)`` of the bench page (dapp/test/bench/bench.ts), no timeout."""
    with bench_page() as page:
        page.set_default_timeout(0)
        result: dict[str, Any] = page.evaluate(
            f"([mib, k, n]) => window.{function}(mib, k, n)", [size_mib, k, n]
        )
    return result


def run(size_mib: int, k: int, n: int) -> dict[str, Any]:
    return _in_page("runBench", size_mib, k, n)


def breakdown(size_mib: int, k: int, n: int) -> dict[str, Any]:
    """Each encode stage alone, as a ratio to WebCrypto's sha256 (bench.ts runBreakdown)."""
    return _in_page("runBreakdown", size_mib, k, n)


def _cmdlines() -> Iterator[tuple[int, bytes]]:
    """(pid, command line) of each running process (one that exits meanwhile is skipped)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                yield int(proc.name), (proc / "cmdline").read_bytes()


def _pss_mib(browser_pid: int) -> dict[str, float]:
    """PSS (``/proc/<pid>/smaps_rollup``) of the Chromium browser process and its descendants, by type."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: dict[str, float] = {}
    todo = [browser_pid]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        with contextlib.suppress(OSError):
            found = re.search(rb"--type=([\w-]+)", Path(f"/proc/{pid}/cmdline").read_bytes())
            kind = found[1].decode() if found else "browser"
            pss = next(
                line
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                if line.startswith("Pss:")
            )
            out[kind] = out.get(kind, 0.0) + int(pss.split()[1]) / 1024
    return out


def memory(size_mib: int, k: int, n: int, spool: bool) -> dict[str, Any]:
    """A ``size_mib`` source Blob, then its encode, both kept alive, in a fresh Chromium with a
    normal (on-disk) profile: each one's PSS growth per process type; ``spool`` False keeps the
    CARs as Blobs (as before OPFS)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="scatter-dapp-profile-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            pid = next(
                pid
                for pid, cmdline in _cmdlines()
                if f"--user-data-dir={profile}".encode() in cmdline and b"--type=" not in cmdline
            )
            with bench_page(context) as page:  # type: ignore[arg-type]  # a context opens pages too
                page.set_default_timeout(0)
                cdp = context.new_cdp_session(page)

                def settled() -> dict[str, float]:
                    cdp.send("HeapProfiler.collectGarbage")
                    page.wait_for_timeout(1000)
                    return _pss_mib(pid)

                before = settled()
                page.evaluate("(mib) => window.makeSource(mib)", size_mib)
                sourced = settled()
                result: dict[str, Any] = page.evaluate(
                    "([k, n, spool]) => window.encodeKept(k, n, spool)", [k, n, spool]
                )
                encoded = settled()
                page.evaluate("() => window.dropKept()")
        finally:
            context.close()

    def grow(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        return {t: round(b.get(t, 0.0) - a.get(t, 0.0), 1) for t in b}

    return {
        **result,
        "mib": size_mib,
        "spool": spool,
        "source_mib": grow(before, sourced),
        "encode_mib": grow(sourced, encoded),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--size", type=parse_size, default=parse_size("100MiB"), help="input size (default 100MiB)"
    )
    parser.add_argument("--shards", default="3/6", help="k/n (default 3/6)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--breakdown", action="store_true", help="time each encode stage alone instead (profile)"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="the browser's memory growth of an encode kept alive, CARs in OPFS then as Blobs",
    )
    args = parser.parse_args(argv)
    k, n = (int(x) for x in args.shards.split("/"))
    if args.memory:
        runs = [memory(max(1, args.size >> 20), k, n, spool) for spool in (True, False)]
        if args.json:
            print(json.dumps(runs))
            return
        for r in runs:
            where = f"OPFS ({r['on_disk']}/{n} shards)" if r["spool"] else "Blobs"
            speed = f"{r['encode_mib_s']} MiB/s, JS heap {r['heap_mib']} MiB"
            print(f"{r['mib']} MiB, {k}/{n}, CARs as {where}, {speed}:")
            print(f"  PSS growth, MiB: source {r['source_mib']}, encode kept {r['encode_mib']}")
        return
    if args.breakdown:
        stages = breakdown(max(1, args.size >> 20), k, n)
        if args.json:
            print(json.dumps(stages))
            return
        mib = stages.pop("mib")
        print(f"encode stages alone in headless Chromium, {mib} MiB, x sha256 (higher: faster):")
        for name, value in stages.items():
            print(f"  {name:32} {value:8.3f}")
        return
    result = run(max(1, args.size >> 20), k, n)
    if args.json:
        print(json.dumps(result))
        return
    print(f"dapp pipeline in headless Chromium, {result['mib']} MiB, {k}/{n}:")
    print(f"  sha256 (WebCrypto, yardstick)   {result['sha256_mib_s']:8.1f} MiB/s")
    print(
        f"  encode, {result['workers']} worker(s)              {result['encode_mib_s']:8.1f} MiB/s"
        f"  = {result['encode_over_sha256']:.3f} x sha256"
    )
    print(
        f"  encode, one thread              {result['encode_one_thread_mib_s']:8.1f} MiB/s"
        f"  = {result['encode_one_thread_over_sha256']:.3f} x sha256"
    )
    print(
        f"  decode from parity CARs         {result['decode_parity_mib_s']:8.1f} MiB/s"
        f"  = {result['decode_over_sha256']:.3f} x sha256"
    )
    if result.get("heap_mib_after_encode") is not None:
        print(f"  JS heap after encode            {result['heap_mib_after_encode']:8.1f} MiB")


if __name__ == "__main__":
    main()
