"""Upload sessions: what an interrupted ``upload`` needs to resume, on disk.

One directory per upload under ``<state-root>/uploads/<session-id>/``: the
encoder's output (one CAR per shard and ``manifest.json``, which holds the
content key, mode 0600) and ``session.json``, rewritten atomically (temp file,
rename) after every step. The session id is derived from the file (path, size,
modification time), the erasure parameters, the chain, the market and the
client, so running the same ``upload`` again finds it and carries on from the
last recorded step:

``encoded`` -> ``bidding`` (the bid transaction may be out: on resume look for
its ``BidPosted`` before posting again) -> ``posted`` (bid id known) ->
``recording`` (the metadata entry is being sent, while the shards are pushed: on
resume look for its ``FileAdded`` before sending it again) -> ``recorded`` (its
file id known). The session directory is removed once the entry is recorded
and every slot is filled. Only the thread running the upload writes the session.
Per slot it records the hoster that reserved it and whether its CAR was pushed
to that hoster, then the deal that filled it, so a resumed upload pushes only
what is missing (and pushes again only when another hoster took the slot).

Format version 2 (``"version": 2``; version 1 sessions belonged to Market
version 1 and are not resumed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scatter.errors import ScatterValueError

SESSION_VERSION = 2
SESSION_FILE = "session.json"


@dataclass
class SlotState:
    hoster: str | None = None  # the hoster that reserved (or filled) the slot
    pushed: bool = False  # the CAR reached that hoster
    deal_id: int | None = None  # the deal that filled the slot
    filled: bool = False


@dataclass
class UploadSession:
    """The recorded progress of one upload."""

    directory: Path
    source: str
    size: int
    mtime_ns: int
    shards: str  # "k/n" or "1/r"
    chain_id: int
    market: str
    client: str
    stage: str = "encoded"
    bid_block: int | None = None  # block number before the bid was sent (where to look for it)
    bid_id: int | None = None
    slots: dict[int, SlotState] = field(default_factory=dict)
    file_id: int | None = None
    replaces: int | None = None  # an existing file entry this upload adds a version to
    started: float = 0.0
    version: int = SESSION_VERSION

    @staticmethod
    def session_id(
        source: Path, size: int, mtime_ns: int, shards: str, chain_id: int, market: str, client: str
    ) -> str:
        key = json.dumps(
            [str(source.resolve()), size, mtime_ns, shards, chain_id, market.lower(), client.lower()]
        )
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    @property
    def path(self) -> Path:
        return self.directory / SESSION_FILE

    def save(self) -> None:
        data = asdict(self)
        data["directory"] = str(self.directory)
        data["slots"] = {str(k): asdict(v) for k, v in self.slots.items()}
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.directory, delete=False, suffix=".tmp") as tmp:
            json.dump(data, tmp, indent=2, sort_keys=True)
            tmp.flush()
            os.fsync(tmp.fileno())
        Path(tmp.name).replace(self.path)

    @classmethod
    def load(cls, directory: Path) -> UploadSession:
        try:
            data: dict[str, Any] = json.loads((directory / SESSION_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError) as exc:
            raise ScatterValueError(f"upload session {directory} is unreadable: {exc}") from exc
        if data.get("version") != SESSION_VERSION:
            raise ScatterValueError(
                f"upload session {directory} has format version {data.get('version')!r} "
                f"(this release reads {SESSION_VERSION}): finish it with the release that started it, "
                f"or delete {directory} and upload again"
            )
        data["directory"] = directory
        data["slots"] = {int(k): SlotState(**v) for k, v in data.get("slots", {}).items()}
        return cls(**data)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def sessions_root(state_root: Path) -> Path:
    return state_root / "uploads"


def list_sessions(state_root: Path) -> list[UploadSession]:
    """Every unfinished upload under ``state_root`` (unreadable ones are skipped)."""
    root = sessions_root(state_root)
    found = []
    for sub in sorted(root.iterdir()) if root.is_dir() else []:
        if (sub / SESSION_FILE).is_file():
            try:
                found.append(UploadSession.load(sub))
            except ScatterValueError:
                continue
    return found
