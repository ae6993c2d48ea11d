"""Wire format of the hoster's own HTTP API (beside the Trustless Gateway and the CAR upload).

A hoster serves, on its registered endpoint:

- ``GET {API_PREFIX}/bids/{bidId}/slots/{slot}`` → ``{"version": 2, "bidId": int,
  "slot": int, "cid": "<CID string>", "state": "<state>", "pinned": bool, "bytes": int,
  "dealId": int | null, "reservedUntil": int | null}``: this hoster's work on the slot.
  ``state`` is one of ``reserving`` (reserve sent), ``reserved`` (waiting for the
  client's push until ``reservedUntil``, unix time), ``fetching``, ``healing``,
  ``verified`` (content checked and pinned, fill not yet sent), ``filling``,
  ``filled`` (``dealId`` set; the client may stop), ``refused`` (the pushed content
  did not match the slot), ``released`` (the reservation expired), ``lost`` (another
  hoster took the slot). 404 when this hoster has nothing to do with the slot.
- ``PUT {API_PREFIX}/bids/{bidId}/slots/{slot}/car``: the signed CAR upload
  (:mod:`scatter.protocol.upload`); answers the same JSON as the GET on success.
- ``GET {API_PREFIX}/deals/{dealId}`` → the same JSON for the slot of one of its deals
  (validators may use ``pinned`` to start checking); 404 when the deal is not this hoster's.
- ``GET /healthz`` → ``{"ok": true, ...}``; ``GET /metrics`` → Prometheus text.
- ``GET /ipfs/{cid}``: the Trustless Gateway over locally held blocks only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scatter.errors import ScatterValueError
from scatter.protocol import API_PREFIX

WIRE_VERSION = 2


def slot_path(bid_id: int, slot: int) -> str:
    return f"{API_PREFIX}/bids/{bid_id}/slots/{slot}"


def deal_path(deal_id: int) -> str:
    return f"{API_PREFIX}/deals/{deal_id}"


@dataclass(frozen=True)
class SlotStatus:
    bid_id: int
    slot: int
    cid: str
    state: str
    pinned: bool
    bytes: int
    deal_id: int | None = None
    reserved_until: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": WIRE_VERSION,
            "bidId": self.bid_id,
            "slot": self.slot,
            "cid": self.cid,
            "state": self.state,
            "pinned": self.pinned,
            "bytes": self.bytes,
            "dealId": self.deal_id,
            "reservedUntil": self.reserved_until,
        }

    @classmethod
    def from_json(cls, data: Any) -> SlotStatus:
        if not isinstance(data, dict):
            raise ScatterValueError("slot status must be a JSON object")
        try:
            bid_id, slot, cid, state = data["bidId"], data["slot"], data["cid"], data["state"]
            pinned, size = data["pinned"], data["bytes"]
        except KeyError as exc:
            raise ScatterValueError(f"slot status lacks {exc.args[0]}") from None
        ints = (bid_id, slot, size)
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ints):
            raise ScatterValueError("malformed slot status: bidId, slot and bytes must be integers")
        if not isinstance(cid, str) or not isinstance(state, str) or not isinstance(pinned, bool):
            raise ScatterValueError("malformed slot status")
        deal_id, until = data.get("dealId"), data.get("reservedUntil")
        for value in (deal_id, until):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ScatterValueError("malformed slot status: dealId, reservedUntil: integers or null")
        return cls(bid_id, slot, cid, state, pinned, size, deal_id, until)


PinStatus = SlotStatus
"""The version-1 name of :class:`SlotStatus`."""
