"""Small ABI helpers shared by the revert decoder and the event follower."""

from __future__ import annotations

from typing import Any


def abi_type(param: dict[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples expanded), as eth_abi takes it."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind
