"""What an idle ``scatter dev`` costs: cores and state growth (a command in ``make bench``, not a test).

``python -m scatter.bench.idle --minutes 5`` starts the local marketplace as ``scatter dev``
does (anvil with one-second blocks and 2-second epochs, 8 hoster and 3 validator daemons,
the web node in this process; free ports, a fresh state directory), waits ``--warmup``
seconds for the daemons to join, then over the window measures

- **cores**: CPU seconds (user + system, from ``/proc/<pid>/stat``) used by this process
  and every process below it (anvil, each daemon) per wall-clock second, in total and per
  process kind. CPU time, not wall time: a machine busy with other work slows the run but
  barely changes what the network itself consumes;
- **state growth**: bytes under the state directory at the start and the end of the
  window, extrapolated to an hour (the daemons' SQLite databases, logs; their write-ahead
  logs are bounded at about 1 MiB each and reported apart), plus the growth of
  the chain state anvil writes to ``anvil-state.json`` when ``scatter dev`` stops (read
  with ``anvil_dumpState`` at both ends: anvil keeps it in memory while running).

Issue 12's goals: <= 0.25 core and <= 50 MB per hour, with 8 hosters and 3 validators.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from scatter.chain.anvil import free_port
from scatter.dev import DevNetwork

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_BOUNDED = ("-wal", "-shm")
MIB = 1 << 20


@dataclass(frozen=True)
class Sample:
    cpu_seconds: dict[str, float]  # per process kind: anvil, hoster, validator, web node
    files: dict[str, int]  # bytes per file of the state directory

    @property
    def state_bytes(self) -> int:
        """Bytes that can grow: everything but SQLite's write-ahead logs, which are checkpointed into
        their database every 256 pages and cut back to 1 MiB (``scatter.daemon.state``): bounded."""
        return sum(size for name, size in self.files.items() if not name.endswith(_BOUNDED))

    @property
    def wal_bytes(self) -> int:
        return sum(size for name, size in self.files.items() if name.endswith(_BOUNDED))

    chain_state_bytes: int  # what anvil would dump now (gzip)
    at: float


def _children_of(root: int) -> dict[int, str]:
    """Every live process under ``root`` (and root itself): pid -> its kind."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat[stat.rindex(")") + 2 :].split()[1])
        commands[pid] = cmdline
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return {pid: _kind(pid, commands.get(pid, ""), root) for pid in tree}


def _kind(pid: int, cmdline: str, root: int) -> str:
    if pid == root:
        return "web node (this process)"
    for kind in ("anvil", "hoster", "validator"):
        if kind in cmdline:
            return kind
    return "other"


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _file_sizes(path: Path) -> dict[str, int]:
    """Size of each file under ``path``, by its path relative to it."""
    sizes: dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            try:
                sizes[os.path.relpath(full, path)] = os.lstat(full).st_size
            except OSError:
                continue
    return sizes


def _chain_state_bytes(rpc_url: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "anvil_dumpState", "params": []}
    dump = httpx.post(rpc_url, json=body, timeout=60).json()["result"]
    return (len(dump) - 2) // 2  # 0x-prefixed hex


def sample(state_dir: Path, rpc_url: str) -> Sample:
    per_kind: dict[str, float] = {}
    for pid, kind in _children_of(os.getpid()).items():
        per_kind[kind] = per_kind.get(kind, 0.0) + _cpu_seconds(pid)
    return Sample(per_kind, _file_sizes(state_dir), _chain_state_bytes(rpc_url), time.monotonic())


def _fastest_growing(first: Sample, last: Sample, wall: float, top: int = 6) -> dict[str, float]:
    growth = {
        f: (size - first.files.get(f, 0)) / wall * 3600 / 1024
        for f, size in last.files.items()
        if not f.endswith(_BOUNDED)
    }
    ranked = sorted(growth.items(), key=lambda kv: -kv[1])[:top]
    return {f: round(g, 1) for f, g in ranked if g > 0}


def measure(
    hosters: int, validators: int, minutes: float, warmup: float, keep: Path | None
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="scatter-idle-") as tmp:
        state_dir = keep or Path(tmp) / ".scatter" / "dev"
        net = DevNetwork(
            state_dir=state_dir, rpc_port=free_port(), hosters=hosters, validators=validators, port=0
        )
        net.start(ready_timeout=300)  # once: `with net` would start it a second time
        try:
            time.sleep(warmup)
            first = sample(state_dir, net.rpc_url)
            time.sleep(minutes * 60)
            last = sample(state_dir, net.rpc_url)
        finally:
            net.stop()
        wall = last.at - first.at
        cores = {k: round((last.cpu_seconds.get(k, 0.0) - v) / wall, 4) for k, v in first.cpu_seconds.items()}
        files = (last.state_bytes - first.state_bytes) / wall * 3600
        chain = (last.chain_state_bytes - first.chain_state_bytes) / wall * 3600
        return {
            "hosters": hosters,
            "validators": validators,
            "window_s": round(wall, 1),
            "cores_total": round(sum(cores.values()), 3),
            "cores_by_process": cores,
            "state_mib_at_start": round((first.state_bytes + first.chain_state_bytes) / MIB, 1),
            "state_growth_mib_per_hour": round((files + chain) / MIB, 1),
            "growth_mib_per_hour_by_part": {
                "daemon files": round(files / MIB, 1),
                "anvil state dump": round(chain / MIB, 1),
            },
            "sqlite_wal_mib_now": round(last.wal_bytes / MIB, 1),  # bounded, not counted as growth
            "fastest_growing_files_kib_per_hour": _fastest_growing(first, last, wall),
            "goals": {"cores": 0.25, "state_growth_mib_per_hour": 50},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds after start before measuring")
    parser.add_argument("--hosters", type=int, default=8)
    parser.add_argument("--validators", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, help="keep the network's state here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.hosters, args.validators, args.minutes, args.warmup, args.state_dir)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
