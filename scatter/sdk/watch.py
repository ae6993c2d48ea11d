"""Back up a directory (Fincrypt's use): new and changed files are uploaded, unchanged ones never.

State per watched directory in ``<state-root>/watch/<id>.json`` (version 1),
rewritten atomically after each file: for every relative path, the size,
modification time and sha256 last stored and the file entry that holds it. A
file whose size and mtime are unchanged is skipped without reading it; a file
whose mtime changed but whose sha256 did not is only re-stamped. A changed file
becomes a new version of its entry (the old versions stay in the metadata), and
an upload cut short resumes through its upload session on the next pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scatter.errors import ScatterError
from scatter.sdk.models import Reporter, WatchEvent

if TYPE_CHECKING:
    from scatter.client import Scatter

WATCH_VERSION = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Watcher:
    def __init__(
        self,
        sdk: Scatter,
        directory: Path,
        *,
        shards: tuple[int, int] | str | None,
        duration: str | int,
        price: str | int | None,
        timeout: float,
        reporter: Reporter,
    ) -> None:
        if not directory.is_dir():
            raise ScatterError(f"{directory} is not a directory; give the directory to back up")
        self.sdk = sdk
        self.directory = directory.resolve()
        self.shards = shards
        self.duration = duration
        self.price = price
        self.timeout = timeout
        self.reporter = reporter
        key = json.dumps(
            [str(self.directory), sdk.network.chain_id, sdk.deployment.market.lower(), sdk.address.lower()]
        )
        self.state_path = sdk.state_root / "watch" / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".json")
        self.files: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.state_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        if data.get("version") != WATCH_VERSION:
            raise ScatterError(
                f"watch state {self.state_path} has an unknown version; remove it to start over"
            )
        files = data.get("files", {})
        return dict(files) if isinstance(files, dict) else {}

    def _save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": WATCH_VERSION, "directory": str(self.directory), "files": self.files}
        with tempfile.NamedTemporaryFile("w", dir=self.state_path.parent, delete=False, suffix=".tmp") as tmp:
            json.dump(data, tmp, indent=2, sort_keys=True)
        Path(tmp.name).replace(self.state_path)

    def scan(self) -> list[Path]:
        """Regular files under the directory, skipping hidden files and directories."""
        found: list[Path] = []
        for root, dirs, names in os.walk(self.directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        return [p for p in found if p.is_file()]

    def pass_once(self) -> Iterator[WatchEvent]:
        for path in self.scan():
            rel = path.relative_to(self.directory).as_posix()
            st = path.stat()
            known = self.files.get(rel)
            if known and known["size"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
                continue  # unchanged: not even read
            digest = _sha256(path)
            if known and known["sha256"] == digest:
                known["mtime_ns"] = st.st_mtime_ns
                self._save()
                yield WatchEvent(rel, "unchanged", known.get("file_id"), "touched, same content")
                continue
            replaces = known.get("file_id") if known else None
            try:
                result = self.sdk.upload(
                    path,
                    shards=self.shards,
                    duration=self.duration,
                    price=self.price,
                    name=rel,
                    timeout=self.timeout,
                    reporter=self.reporter,
                    replaces=replaces,
                )
            except ScatterError as exc:
                yield WatchEvent(rel, "failed", replaces, str(exc).splitlines()[0])
                continue
            self.files[rel] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": digest,
                "file_id": result.file_id,
            }
            self._save()
            action = "new-version" if replaces is not None else "uploaded"
            yield WatchEvent(rel, action, result.file_id, f"bid {result.bid_id}", {"bid_id": result.bid_id})

    def run(
        self, *, interval: float, once: bool, should_stop: Callable[[], bool] | None = None
    ) -> Iterator[WatchEvent]:
        while True:
            yield from self.pass_once()
            if once or (should_stop is not None and should_stop()):
                return
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                if should_stop is not None and should_stop():
                    return
                time.sleep(min(0.5, interval))
