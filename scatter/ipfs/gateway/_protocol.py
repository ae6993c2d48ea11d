"""What the Trustless Gateway server and client share: media types, request parsing.

Spec: https://specs.ipfs.tech/http-gateways/trustless-gateway/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from scatter.errors import ScatterValueError
from scatter.ipfs.dag import ByteRange, DagScope

RAW: Final = "application/vnd.ipld.raw"
CAR: Final = "application/vnd.ipld.car"
CAR_CONTENT_TYPE: Final = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
CAR_CONTENT_TYPE_DUPS: Final = "application/vnd.ipld.car; version=1; order=dfs; dups=y"
IMMUTABLE: Final = "public, max-age=29030400, immutable"

_MAX_OFFSET: Final = 2**63 - 1


class GatewayRequestError(ScatterValueError):
    """A request the gateway answers with a 4xx; ``status`` says which."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


_ASK = "ask for application/vnd.ipld.raw or application/vnd.ipld.car (Accept header, or ?format=raw|car)"


def negotiate(accept: str | None, fmt: str | None, car_version: str | None = None) -> str:
    """The response type (RAW or CAR) from ``?format=`` or the Accept header.

    No Accept header and no ``format`` is a 400 (the spec's strict trustless mode);
    an Accept that names nothing served here, or a CAR version other than 1
    (``version=`` parameter, or ``?car-version=``), is a 406.
    """
    if car_version is not None and car_version.strip() != "1":
        raise GatewayRequestError(f"CAR version {car_version[:10]!r} is not served here; only version=1", 406)
    if fmt is not None:
        if fmt == "raw":
            return RAW
        if fmt == "car":
            return CAR
        raise GatewayRequestError(f"unsupported format {fmt[:40]!r}; use format=raw or format=car")
    accept = (accept or "").strip()
    if accept in ("", "*/*"):  # no preference stated: the spec's "Accept header is missing"
        raise GatewayRequestError(f"this is a trustless gateway and the request has no Accept header: {_ASK}")
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if media == RAW:
            return RAW
        if media == CAR and (car_version is not None or params.get("version", "1").strip() == "1"):
            return CAR
    raise GatewayRequestError(
        f"this is a trustless gateway serving CAR version 1 and raw blocks: {_ASK}", 406
    )


@dataclass(frozen=True, slots=True)
class CarParams:
    scope: DagScope = DagScope.ALL
    entity_bytes: tuple[int, int | None] | None = None  # (from, to inclusive), negatives from the end
    dups: bool = False

    def etag_suffix(self) -> str:
        eb = "" if self.entity_bytes is None else f"{self.entity_bytes[0]}:{self.entity_bytes[1] or '*'}"
        return f"{self.scope.value}.{eb}.{'y' if self.dups else 'n'}"


def _int(text: str, what: str) -> int:
    t = text.strip()
    body = t[1:] if t.startswith("-") else t
    if not body.isdigit() or len(body) > 19:
        raise GatewayRequestError(f"entity-bytes {what} {text[:30]!r} is not an integer")
    value = int(t)
    if abs(value) > _MAX_OFFSET:
        raise GatewayRequestError(f"entity-bytes {what} {text[:30]!r} is out of range")
    return value


def parse_car_params(query: dict[str, str], accept: str | None) -> CarParams:
    """``dag-scope``, ``entity-bytes``, ``dups`` and ``order`` (query or Accept parameters)."""
    scope_text = query.get("dag-scope", "all")
    try:
        scope = DagScope(scope_text)
    except ValueError:
        raise GatewayRequestError(
            f"unsupported dag-scope {scope_text[:30]!r}; use block, entity or all"
        ) from None
    entity_bytes = None
    if "entity-bytes" in query:
        text = query["entity-bytes"]
        if ":" not in text:
            raise GatewayRequestError(f"entity-bytes {text[:40]!r} must be from:to (to may be *)")
        first, last = text.split(":", 1)
        start = _int(first, "from")
        end = None if last.strip() == "*" else _int(last, "to")
        if end is not None and start >= 0 and end >= 0 and end < start:
            raise GatewayRequestError(f"entity-bytes {text[:40]!r}: to is before from")
        entity_bytes = (start, end)
        if scope is DagScope.BLOCK:
            raise GatewayRequestError("entity-bytes needs dag-scope=entity or all, not block")
    params = {}
    for item in (accept or "").split(","):
        if item.strip().lower().startswith(CAR):
            params = {
                k.strip().lower(): v.strip()
                for k, v in (p.split("=", 1) for p in item.split(";")[1:] if "=" in p)
            }
            break
    order = query.get("car-order", params.get("order", "dfs"))
    if order not in ("dfs", "unk"):
        raise GatewayRequestError(f"unsupported CAR order {order[:20]!r}; use dfs or unk")
    dups = query.get("car-dups", params.get("dups", "n"))
    if dups not in ("y", "n"):
        raise GatewayRequestError(f"unsupported CAR dups {dups[:20]!r}; use y or n")
    return CarParams(scope, entity_bytes, dups == "y")


def resolve_range(entity_bytes: tuple[int, int | None] | None, size: int) -> ByteRange | None:
    """Turn ``entity-bytes`` into an absolute half-open range over a file of ``size`` bytes."""
    if entity_bytes is None:
        return None
    start, end = entity_bytes
    if start < 0:
        start = max(size + start, 0)
    if end is None:
        stop = size
    elif end < 0:
        stop = size + end + 1
    else:
        stop = min(end + 1, size)
    if start > size or stop < start:
        raise GatewayRequestError(f"entity-bytes range is outside the file's {size} bytes")
    return ByteRange(start, stop)
