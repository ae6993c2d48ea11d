"""Push a shard's CAR to the hoster of its deal, and ask the hoster whether it is pinned.

``PUT {endpoint}/scatter/v1/deals/{dealId}/car`` with the CAR as the body and the
client's EIP-712 signature in the headers (:mod:`scatter.protocol.upload`);
``GET {endpoint}/scatter/v1/deals/{dealId}`` answers
``{"dealId", "cid", "pinned", "bytes"}``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from scatter.errors import ScatterConnectionError, ScatterError, ScatterValueError
from scatter.protocol import API_PREFIX
from scatter.protocol.upload import CarUpload, upload_path

#: How long a push signature stays valid.
SIGNATURE_LIFETIME = 3600
_CHUNK = 1 << 20


class PushRejectedError(ScatterError, RuntimeError):
    """The hoster refused the upload (its message says why)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PinStatus:
    deal_id: int
    cid: str | None
    pinned: bool
    bytes: int


def _sha256_file(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def _body(path: Path, progress: Callable[[int], object] | None) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk


def push_car(
    endpoint: str,
    deal_id: int,
    root: bytes,
    car: Path,
    *,
    account: LocalAccount,
    chain_id: int,
    market: str,
    timeout: float = 120.0,
    progress: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Upload ``car`` (whose root is the binary CID ``root``) for ``deal_id``; returns the hoster's JSON."""
    size = car.stat().st_size
    upload = CarUpload(
        deal_id=deal_id,
        root=root,
        car_sha256=_sha256_file(car),
        car_size=size,
        expires=int(time.time()) + SIGNATURE_LIFETIME,
    )
    signature = upload.sign(account.key, chain_id, market)
    url = endpoint.rstrip("/") + upload_path(deal_id)
    try:
        resp = httpx.put(
            url, content=_body(car, progress), headers=upload.headers(signature), timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ScatterConnectionError(
            f"hoster {endpoint} unreachable while pushing deal {deal_id}: {exc}"
        ) from exc
    if resp.status_code >= 300:
        reason = resp.text.strip().splitlines()[0] if resp.text.strip() else resp.reason_phrase
        raise PushRejectedError(
            f"hoster {endpoint} refused the CAR of deal {deal_id} ({resp.status_code}): {reason[:300]}",
            status=resp.status_code,
        )
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def pin_status(endpoint: str, deal_id: int, *, timeout: float = 10.0) -> PinStatus:
    """The hoster's view of a deal's pin; raises ScatterConnectionError when it does not answer."""
    url = f"{endpoint.rstrip('/')}{API_PREFIX}/deals/{deal_id}"
    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ScatterConnectionError(f"hoster {endpoint} unreachable: {exc}") from exc
    if resp.status_code == 404:
        return PinStatus(deal_id, None, False, 0)
    if resp.status_code != 200:
        raise ScatterConnectionError(f"hoster {endpoint} answered {resp.status_code} for deal {deal_id}")
    try:
        data = resp.json()
    except ValueError as exc:
        raise ScatterValueError(f"hoster {endpoint} sent a pin status that is not JSON") from exc
    return PinStatus(
        deal_id=deal_id,
        cid=data.get("cid"),
        pinned=bool(data.get("pinned")),
        bytes=int(data.get("bytes") or 0),
    )
