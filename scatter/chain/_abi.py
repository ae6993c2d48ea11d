"""Small ABI helpers shared by the bindings, the revert decoder and the event follower."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples expanded), as eth_abi takes it."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def function_abi(abi: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    """The first function called ``name`` in ``abi``."""
    for item in abi:
        if item.get("type") == "function" and item.get("name") == name:
            return item
    return None


def named_output(abi: Sequence[Mapping[str, Any]], name: str, value: Any) -> dict[str, Any]:
    """The result of view ``name`` as {ABI field name: value}.

    A struct return (one tuple output) maps its components; several outputs map
    their own names. Field order in Solidity then never matters to Python.
    """
    fn = function_abi(abi, name)
    if fn is None:
        raise KeyError(name)
    outputs = list(fn["outputs"])
    if len(outputs) == 1 and str(outputs[0]["type"]) == "tuple":
        comps = outputs[0]["components"]
        return {str(c["name"]): v for c, v in zip(comps, list(value), strict=True)}
    if len(outputs) == 1:
        return {str(outputs[0]["name"]) or "value": value}
    return {str(o["name"]): v for o, v in zip(outputs, list(value), strict=True)}
