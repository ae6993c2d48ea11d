"""End-to-end upload and download speed on a local marketplace (a command in ``make bench``).

``python -m scatter.bench.e2e --size 200MiB`` starts the local marketplace as ``scatter dev``
does (:class:`scatter.dev.DevNetwork`: anvil with one-second blocks, 6 hoster and 3 validator
daemons as processes, free ports, a temporary state directory), writes a random file of
``--size`` bytes, uploads it at 3/6 with the SDK (:class:`scatter.client.Scatter`), downloads
it back and checks it is the same file. It prints MiB/s **of input** (the file's size over
the wall time) for both, beside hashlib.sha256 over the same file in the same run (the
machine's speed now: compare the ratios between runs, not the MiB/s), and the time of each
stage:

- upload: ``encode`` (encrypt + erasure-code + UnixFS/CAR + possession roots, one pass),
  ``bid`` (the bid transaction, sent and mined), ``reservations`` (until the last hoster
  reserved its slot: the CAR is pushed as each reservation appears), ``push`` (client side:
  the CAR bodies sent, per slot, and their overlap), ``hoster import`` (the hoster's side of
  each push: from the last byte sent to its answer, during which it imports the CAR into its
  store and checks the CID, size and possession root), ``fill`` (from the last push answered
  until every slot is filled on chain), ``metadata`` (the FileRegistry transaction, sent as
  soon as the bid id is known, while the shards are pushed) and ``after_fill`` (from the
  last fill seen until the upload returned: waiting for the entry if it was not mined yet);
- download: ``lookup`` (metadata and deals read from the chain), ``fetch`` (k shards from
  the hosters' gateways, each block verified), ``decode`` (erasure-decode + decrypt + sha256).

``--profile PATH`` writes a cProfile of the client's side (upload and download) there.
``--json PATH`` also writes the figures. The goals of issue 12: upload >= 40 MiB/s and
download >= 80 MiB/s of a 200 MiB file.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scatter.bench.formats import parse_size
from scatter.bench.idle import _children_of, _cpu_seconds
from scatter.chain import wallet
from scatter.chain.anvil import free_port
from scatter.chain.deploy import connect
from scatter.client import Scatter
from scatter.dev import DevNetwork
from scatter.sdk import push as push_module
from scatter.sdk.network import Network

MIB = 1 << 20
CLIENT_ACCOUNT = 1
GOALS = {"upload_mib_s": 40.0, "download_mib_s": 80.0}


@dataclass
class Timeline:
    """What the SDK reported, with the time it was reported (seconds since ``t0``)."""

    t0: float = field(default_factory=time.monotonic)
    steps: list[tuple[float, str]] = field(default_factory=list)
    bars: list[tuple[str, float, float]] = field(default_factory=list)  # label, start, end

    def now(self) -> float:
        return time.monotonic() - self.t0

    def step(self, message: str) -> None:
        self.steps.append((self.now(), message))

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], object]]:
        start = self.now()
        try:
            yield lambda _n: None
        finally:
            self.bars.append((label, start, self.now()))

    def bar_span(self, prefix: str) -> tuple[float, float] | None:
        for label, start, end in self.bars:
            if label.startswith(prefix):
                return start, end
        return None

    def step_at(self, prefix: str) -> float | None:
        for at, message in self.steps:
            if message.startswith(prefix) or prefix in message:
                return at
        return None


@dataclass
class Push:
    slot: int
    size: int
    start: float
    sent: float = 0.0  # the last body chunk handed to the HTTP client
    answered: float = 0.0
    error: str = ""


class PushRecorder:
    """Wraps :func:`scatter.sdk.push.push_car` for the run (the SDK looks it up at each upload)
    and records, per push, when it started, when its last byte left and when the hoster answered."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.pushes: list[Push] = []
        self._lock = threading.Lock()
        self._original = push_module.push_car

    def __enter__(self) -> PushRecorder:
        original = self._original

        def recorded(endpoint: str, bid_id: int, slot: int, root: bytes, car: Path, **kw: Any) -> Any:
            p = Push(slot, car.stat().st_size, self.timeline.now())
            sent = [0]

            def progress(n: int) -> None:
                sent[0] += n
                if sent[0] >= p.size:
                    p.sent = self.timeline.now()

            with self._lock:
                self.pushes.append(p)
            try:
                return original(endpoint, bid_id, slot, root, car, progress=progress, **kw)
            except Exception as exc:
                p.error = str(exc)[:200]
                raise
            finally:
                p.answered = self.timeline.now()

        push_module.push_car = recorded
        return self

    def __exit__(self, *exc: object) -> None:
        push_module.push_car = self._original


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MIB))
            f.write(chunk)
            left -= len(chunk)


def _sha256_file(path: Path) -> tuple[bytes, float]:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * MIB):
            digest.update(chunk)
    return digest.digest(), time.perf_counter() - started


def _r(x: float) -> float:
    return round(x, 2)


def upload_stages(tl: Timeline, pushes: list[Push], total: float) -> dict[str, Any]:
    encode = tl.bar_span("encrypting + encoding")
    bid_at = tl.step_at("posting a bid")
    waiting_at = tl.step_at("waiting for hosters to reserve")
    filled_at = tl.step_at("slots filled")
    ok = [p for p in pushes if not p.error]
    stages: dict[str, Any] = {}
    if encode is not None:
        stages["encode_s"] = _r(encode[1] - encode[0])
    if bid_at is not None and waiting_at is not None:
        stages["bid_s"] = _r(waiting_at - bid_at)
    if ok and waiting_at is not None:
        first, last = min(p.start for p in ok), max(p.start for p in ok)
        stages["reservations_s"] = {"first": _r(first - waiting_at), "last": _r(last - waiting_at)}
        sends = [p.sent - p.start for p in ok]
        imports = [p.answered - p.sent for p in ok]
        stages["push_send_s"] = {"min": _r(min(sends)), "max": _r(max(sends))}
        stages["hoster_import_s"] = {"min": _r(min(imports)), "max": _r(max(imports))}
        stages["push_wall_s"] = _r(max(p.answered for p in ok) - first)
        mib = sum(p.size for p in ok) / MIB
        stages["push_mib"] = _r(mib)
        if filled_at is not None:
            stages["fill_after_last_push_s"] = _r(filled_at - max(p.answered for p in ok))
    recording_at, recorded_at = tl.step_at("recording the"), tl.step_at("recorded the entry")
    if recording_at is not None and recorded_at is not None:
        stages["metadata_s"] = _r(recorded_at - recording_at)
    if filled_at is not None:
        stages["after_fill_s"] = _r(total - filled_at)
    stages["failed_pushes"] = [f"slot {p.slot}: {p.error}" for p in pushes if p.error]
    return stages


def download_stages(tl: Timeline, total: float) -> dict[str, Any]:
    fetch = tl.bar_span("fetching")
    decode = tl.bar_span("decoding")
    stages: dict[str, Any] = {}
    if fetch is not None:
        stages["lookup_s"] = _r(fetch[0])
        stages["fetch_s"] = _r(fetch[1] - fetch[0])
    if decode is not None:
        stages["decode_s"] = _r(decode[1] - decode[0])
    return stages


def _wait_for_hosters(sdk: Scatter, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(sdk.hoster_endpoints()) < count:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"only {len(sdk.hoster_endpoints())} of {count} hosters joined in {timeout:.0f}s"
            )
        time.sleep(0.5)


def _cpu_by_kind() -> dict[str, float]:
    """CPU seconds used so far by this process and each kind of process below it (anvil, daemons)."""
    used: dict[str, float] = {}
    for pid, kind in _children_of(os.getpid()).items():
        used[kind] = used.get(kind, 0.0) + _cpu_seconds(pid)
    return used


def _cpu_since(before: dict[str, float]) -> dict[str, float]:
    return {k: _r(v - before.get(k, 0.0)) for k, v in _cpu_by_kind().items()}


def measure(
    size: int, hosters: int, validators: int, shards: str, warmup: float, profile: Path | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scatter-e2e-") as tmp:
        work = Path(tmp)
        src = work / "input.bin"
        _write_random(src, size)
        sha, sha_seconds = _sha256_file(src)
        net = DevNetwork(
            state_dir=work / "dev",
            rpc_port=free_port(),
            hosters=hosters,
            validators=validators,
            port=0,
            web=False,
        )
        net.start(ready_timeout=300)  # once: `with net` would start it a second time
        try:
            assert net.deployment is not None
            network = Network(connect(net.rpc_url), net.rpc_url, net.deployment, True)
            sdk = Scatter(network, wallet.dev_account(CLIENT_ACCOUNT), state_root=work / "client")
            _wait_for_hosters(sdk, hosters, 120)
            time.sleep(warmup)  # an idle network: the daemons done starting
            prof = cProfile.Profile() if profile is not None else None
            up_tl = Timeline()
            cpu = _cpu_by_kind()
            with PushRecorder(up_tl) as recorder:
                if prof is not None:
                    prof.enable()
                up = sdk.upload(src, shards=shards, duration="1h", timeout=600, reporter=up_tl)
                if prof is not None:
                    prof.disable()
            up_seconds = up_tl.now()
            up_cpu = _cpu_since(cpu)
            dl_tl = Timeline()
            cpu = _cpu_by_kind()
            if prof is not None:
                prof.enable()
            got = sdk.download(up.file_id, work / "output.bin", reporter=dl_tl)
            if prof is not None:
                prof.disable()
            dl_seconds = dl_tl.now()
            dl_cpu = _cpu_since(cpu)
            _, out_sha_seconds = _sha256_file(got.path)
            same = hashlib.sha256(got.path.read_bytes()).digest() == sha
        finally:
            net.stop()
        if prof is not None and profile is not None:
            prof.dump_stats(profile)
    mib = size / MIB
    sha_mib_s = mib / sha_seconds
    up_mib_s, dl_mib_s = mib / up_seconds, mib / dl_seconds
    return {
        "size_mib": _r(mib),
        "shards": shards,
        "hosters": hosters,
        "validators": validators,
        "sha256_mib_s": _r(sha_mib_s),
        "upload": {
            "seconds": _r(up_seconds),
            "mib_s": _r(up_mib_s),
            "ratio_to_sha256": round(up_mib_s / sha_mib_s, 3),
            "stages": upload_stages(up_tl, recorder.pushes, up_seconds),
            "cpu_seconds_by_process": up_cpu,
        },
        "download": {
            "seconds": _r(dl_seconds),
            "mib_s": _r(dl_mib_s),
            "ratio_to_sha256": round(dl_mib_s / sha_mib_s, 3),
            "shards_used": list(got.shards_used),
            "stages": download_stages(dl_tl, dl_seconds),
            "cpu_seconds_by_process": dl_cpu,
            "verified": same,
            "sha256_of_output_s": _r(out_sha_seconds),
        },
        "goals": GOALS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("200MiB"), help="file size (200MiB)")
    parser.add_argument("--hosters", type=int, default=6)
    parser.add_argument("--validators", type=int, default=3)
    parser.add_argument("--shards", default="3/6", help="k/n erasure coding")
    parser.add_argument("--warmup", type=float, default=15.0, help="idle seconds after the hosters joined")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the client's side here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.size, args.hosters, args.validators, args.shards, args.warmup, args.profile)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not figures["download"]["verified"]:
        raise SystemExit("the downloaded file differs from the uploaded one")


if __name__ == "__main__":
    main()
