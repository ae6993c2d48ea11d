"""Scatter: a decentralized storage marketplace on Ethereum and IPFS.

The flow of a private file reads top-down through the subpackages:
``formats`` (encrypt, erasure-code) -> ``ipfs`` (UnixFS, CAR, stores, gateway)
-> ``chain`` (bid, deals, encrypted metadata). Heavy modules are imported
lazily so that the CLI starts fast.
"""

from scatter.errors import ScatterError

__version__ = "0.1.0"

__all__ = ["ScatterError", "__version__"]
