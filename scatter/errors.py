"""Exception root of Scatter.

Every error Scatter raises derives from :class:`ScatterError`; the subclasses
also inherit the builtin they resemble (as web3.py does), so callers may catch
either. Messages are one line and say what to do next where there is a next step.
"""

from __future__ import annotations


class ScatterError(Exception):
    """Root of all Scatter errors."""


class ScatterValueError(ScatterError, ValueError):
    """Bad input: a malformed CID, an invalid parameter, an unknown format version."""


class ScatterIntegrityError(ScatterValueError):
    """Data failed verification: a tampered block, a wrong key, a hash mismatch."""


class ScatterNotFoundError(ScatterError, LookupError):
    """A block, bid, deal, file or deployment that does not exist."""


class ScatterConnectionError(ScatterError, ConnectionError):
    """A remote endpoint (RPC node, gateway, hoster) could not be reached."""


class ScatterTimeoutError(ScatterError, TimeoutError):
    """Something did not happen within its deadline."""


class ContractError(ScatterError, RuntimeError):
    """A transaction or call reverted; the message names the contract's custom error."""

    def __init__(
        self, message: str, *, error_name: str | None = None, args_: tuple[object, ...] = ()
    ) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.error_args = args_


class ToolchainError(ScatterError, RuntimeError):
    """A required external tool (anvil, solc, node) is missing or failed."""
