"""Push a shard's CAR to the hoster that reserved its slot, and ask a hoster about a slot or deal.

``PUT {endpoint}/scatter/v1/bids/{bidId}/slots/{slot}/car`` with the CAR as the body
and the client's EIP-712 signature in the headers (:mod:`scatter.protocol.upload`);
``GET .../bids/{bidId}/slots/{slot}`` and ``GET .../deals/{dealId}`` answer the
hoster's view of the slot (:class:`scatter.protocol.hoster_api.SlotStatus`: state,
pinned, bytes, dealId once filled).
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
from scatter.protocol.hoster_api import SlotStatus, deal_path, slot_path
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


def car_sha256(path: Path) -> bytes:
    """The sha256 of a CAR file, as a push signs it."""
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
    bid_id: int,
    slot: int,
    root: bytes,
    car: Path,
    *,
    account: LocalAccount,
    chain_id: int,
    market: str,
    timeout: float = 120.0,
    progress: Callable[[int], object] | None = None,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """Upload ``car`` (whose root is the binary CID ``root``) for slot ``slot`` of ``bid_id`` to the
    hoster that reserved it; returns the hoster's JSON (the slot's status). ``digest``: the
    CAR's sha256 if the caller has it already (else it is read and hashed here)."""
    size = car.stat().st_size
    upload = CarUpload(
        bid_id=bid_id,
        slot=slot,
        root=root,
        car_sha256=car_sha256(car) if digest is None else digest,
        car_size=size,
        expires=int(time.time()) + SIGNATURE_LIFETIME,
    )
    signature = upload.sign(account.key, chain_id, market)
    url = endpoint.rstrip("/") + upload_path(bid_id, slot)
    what = f"slot {slot} of bid {bid_id}"
    try:
        resp = httpx.put(
            url, content=_body(car, progress), headers=upload.headers(signature), timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ScatterConnectionError(f"hoster {endpoint} unreachable while pushing {what}: {exc}") from exc
    if resp.status_code >= 300:
        reason = resp.text.strip().splitlines()[0] if resp.text.strip() else resp.reason_phrase
        raise PushRejectedError(
            f"hoster {endpoint} refused the CAR of {what} ({resp.status_code}): {reason[:300]}",
            status=resp.status_code,
        )
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _get_status(url: str, endpoint: str, what: str, timeout: float) -> SlotStatus | None:
    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ScatterConnectionError(f"hoster {endpoint} unreachable: {exc}") from exc
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise ScatterConnectionError(f"hoster {endpoint} answered {resp.status_code} for {what}")
    try:
        return SlotStatus.from_json(resp.json())
    except ValueError as exc:
        raise ScatterValueError(f"hoster {endpoint} sent a slot status that is not valid: {exc}") from exc


def slot_status(endpoint: str, bid_id: int, slot: int, *, timeout: float = 10.0) -> SlotStatus | None:
    """The hoster's work on a slot (reserved, verified, filled, refused, ...); None: it has none."""
    url = endpoint.rstrip("/") + slot_path(bid_id, slot)
    return _get_status(url, endpoint, f"slot {slot} of bid {bid_id}", timeout)


def pin_status(endpoint: str, deal_id: int, *, timeout: float = 10.0) -> PinStatus:
    """The hoster's view of a deal's pin; raises ScatterConnectionError when it does not answer."""
    got = _get_status(endpoint.rstrip("/") + deal_path(deal_id), endpoint, f"deal {deal_id}", timeout)
    if got is None:
        return PinStatus(deal_id, None, False, 0)
    return PinStatus(deal_id=deal_id, cid=got.cid, pinned=got.pinned, bytes=got.bytes)
