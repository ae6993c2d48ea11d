"""Scatter: a decentralized storage marketplace on Ethereum and IPFS.

The flow of a private file reads top-down through the subpackages:
``formats`` (encrypt, erasure-code) -> ``ipfs`` (UnixFS, CAR, stores, gateway)
-> ``chain`` (bid, deals, encrypted metadata); :class:`Scatter` (``scatter.client``)
is the SDK that runs it. Heavy modules are imported lazily so that the CLI starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scatter.errors import ScatterError

if TYPE_CHECKING:
    from scatter.client import Scatter

__version__ = "0.1.0"

__all__ = ["Scatter", "ScatterError", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Scatter":
        from scatter.client import Scatter

        return Scatter
    raise AttributeError(f"module 'scatter' has no attribute {name!r}")
