"""Wire format of the hoster's own HTTP API (beside the Trustless Gateway and the CAR upload).

A hoster serves, on its registered endpoint:

- ``GET {API_PREFIX}/deals/{dealId}`` → ``{"version": 1, "dealId": int, "cid": "<CID string>",
  "pinned": bool, "bytes": int, "state": "<state>"}``: whether the deal's content is
  pinned (the client's pin confirmation; validators may use it to start checking).
  ``bytes`` is the size of the pinned content (0 until pinned). 404 when the deal is
  not this hoster's.
- ``PUT {API_PREFIX}/deals/{dealId}/car``: the signed CAR upload
  (:mod:`scatter.protocol.upload`); answers the same JSON as the GET on success.
- ``GET /healthz`` → ``{"ok": true, ...}``; ``GET /metrics`` → Prometheus text.
- ``GET /ipfs/{cid}``: the Trustless Gateway over locally held blocks only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scatter.errors import ScatterValueError
from scatter.protocol import API_PREFIX

WIRE_VERSION = 1


def deal_path(deal_id: int) -> str:
    return f"{API_PREFIX}/deals/{deal_id}"


@dataclass(frozen=True)
class PinStatus:
    deal_id: int
    cid: str
    pinned: bool
    bytes: int
    state: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": WIRE_VERSION,
            "dealId": self.deal_id,
            "cid": self.cid,
            "pinned": self.pinned,
            "bytes": self.bytes,
            "state": self.state,
        }

    @classmethod
    def from_json(cls, data: Any) -> PinStatus:
        if not isinstance(data, dict):
            raise ScatterValueError("pin status must be a JSON object")
        try:
            deal_id, cid, pinned, size = data["dealId"], data["cid"], data["pinned"], data["bytes"]
        except KeyError as exc:
            raise ScatterValueError(f"pin status lacks {exc.args[0]}") from None
        if not isinstance(deal_id, int) or not isinstance(cid, str) or not isinstance(pinned, bool):
            raise ScatterValueError("malformed pin status")
        if not isinstance(size, int) or size < 0:
            raise ScatterValueError("malformed pin status: bytes")
        return cls(deal_id, cid, pinned, size, str(data.get("state", "")))
