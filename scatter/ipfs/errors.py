"""Errors of the IPFS layer.

Each one derives from the matching root in :mod:`scatter.errors`, so callers may
catch the general kind (``ScatterIntegrityError``, ``LookupError``...) or the
specific one. Messages are one line and say what to do next where there is a next step.
"""

from __future__ import annotations

from scatter.errors import (
    ScatterConnectionError,
    ScatterIntegrityError,
    ScatterNotFoundError,
    ScatterValueError,
)


class InvalidCIDError(ScatterValueError):
    """A CID string or byte sequence that does not parse."""


class UnsupportedCIDError(ScatterValueError):
    """A well-formed CID whose codec or hash function this layer does not handle."""


class BlockIntegrityError(ScatterIntegrityError):
    """A block whose bytes do not hash to its CID, or that breaks a format rule."""


class BlockTooLargeError(BlockIntegrityError):
    """A block larger than the maximum block size (1 MiB, as Kubo)."""


class CarFormatError(ScatterIntegrityError):
    """A CAR stream that is truncated, malformed or of an unsupported version."""


class DagFormatError(ScatterIntegrityError):
    """A dag-pb or UnixFS node that does not decode, or a DAG that is inconsistent."""


class BlockNotFoundError(ScatterNotFoundError):
    """A block that the store (or every gateway asked) does not hold."""

    def __init__(self, message: str, *, cid: object = None) -> None:
        super().__init__(message)
        self.cid = cid


class GatewayError(ScatterConnectionError):
    """A gateway that could not be reached or answered with an error."""


class KuboError(ScatterConnectionError):
    """The Kubo RPC API could not be reached or answered with an error."""
