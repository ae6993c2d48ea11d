"""The Pinning Service API's objects (ipfs/pinning-services-api-spec, version 1.0.0), as pydantic models.

``Pin`` is what a client asks for; ``PinStatus`` what the service answers; ``Failure``
the one error shape (``{"error": {"reason": "...", "details": "..."}}``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from multiformats import CID
from pydantic import BaseModel, ConfigDict, Field, field_validator

Status = Literal["queued", "pinning", "pinned", "failed"]
STATUSES: tuple[Status, ...] = ("queued", "pinning", "pinned", "failed")
PENDING: tuple[Status, ...] = ("queued", "pinning")
MAX_ORIGINS = 20
MAX_META_KEYS = 100  # the spec allows 1000; a pin's meta is stored and echoed on every listing
MAX_TEXT = 1024  # one origin, meta key or value


class Pin(BaseModel):
    """A pin request: the CID (pinned recursively), an optional name, origins and meta."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    cid: str = Field(min_length=1, max_length=MAX_TEXT)
    name: str | None = Field(default=None, max_length=255)
    origins: tuple[str, ...] = Field(default=(), max_length=MAX_ORIGINS)
    meta: dict[str, str] = Field(default_factory=dict, max_length=MAX_META_KEYS)

    @field_validator("cid")
    @classmethod
    def _cid(cls, value: str) -> str:
        try:
            CID.decode(value)
        except Exception:
            raise ValueError(f"{value[:80]!r} is not a CID") from None
        return value

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("origins must be unique")
        if any(not o or len(o) > MAX_TEXT for o in value):
            raise ValueError(f"each origin is a multiaddr or URL of 1 to {MAX_TEXT} characters")
        return value

    @field_validator("meta")
    @classmethod
    def _meta(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(k) > MAX_TEXT or len(v) > MAX_TEXT for k, v in value.items()):
            raise ValueError(f"meta keys and values are at most {MAX_TEXT} characters")
        return value


class PinStatus(BaseModel):
    """A pin request with its status, its unique id and creation time, and where data may be sent."""

    requestid: str
    status: Status
    created: datetime
    pin: Pin
    delegates: tuple[str, ...] = Field(min_length=1, max_length=20)
    info: dict[str, str] = Field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out = self.model_dump(mode="json", exclude_none=True)
        out["created"] = rfc3339(self.created)
        return out


class PinResults(BaseModel):
    """One page of a listing: ``count`` matches in all, ``results`` the newest first."""

    count: int = Field(ge=0)
    results: list[PinStatus]

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "results": [r.to_json() for r in self.results]}


class FailureError(BaseModel):
    reason: str
    details: str | None = None


class Failure(BaseModel):
    error: FailureError


def rfc3339(moment: datetime) -> str:
    """``2026-11-30T09:30:00.123Z``: UTC, milliseconds (what a JavaScript ``Date`` keeps)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def cid_key(cid: str) -> str:
    """The CID as CIDv1 base32, so that a filter matches a pin however either was written."""
    return str(CID.decode(cid).set(version=1, base="base32"))
