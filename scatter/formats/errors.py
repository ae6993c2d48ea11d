"""Errors of the client-side formats.

Each names what went wrong and what to do; each inherits the right base from
:mod:`scatter.errors`, so callers may catch ``ScatterIntegrityError`` (data
failed verification) or ``ScatterValueError`` (bad input) without knowing them.
"""

from __future__ import annotations

from scatter.errors import ScatterIntegrityError, ScatterValueError


class FormatError(ScatterValueError):
    """Bytes that do not parse as the format they claim (bad magic, bad field, bad length)."""


class UnsupportedVersionError(FormatError):
    """A format version (or algorithm id) this release cannot read."""

    def __init__(self, what: str, version: int, supported: tuple[int, ...]) -> None:
        wanted = ", ".join(str(v) for v in supported)
        super().__init__(
            f"unsupported {what} version {version} (this release reads {wanted}); upgrade scatter to read it"
        )
        self.what = what
        self.version = version


class InvalidParametersError(ScatterValueError):
    """Erasure, encryption or link parameters out of range."""


class WrongKeyError(ScatterIntegrityError):
    """The key does not open this ciphertext (wrong key, or the header was altered)."""


class TamperedError(ScatterIntegrityError):
    """A segment or blob failed authentication: altered, reordered, or from another file."""

    def __init__(self, message: str, *, segment: int | None = None) -> None:
        super().__init__(message)
        self.segment = segment


class TruncatedError(ScatterIntegrityError):
    """The data ends early: segments or shard bytes are missing at the end."""


class BadShardError(ScatterIntegrityError):
    """One identified shard cannot be used (truncated, a block failing its CID, unreadable).

    ``index`` names the shard, so a caller holding more than k shards can drop it and retry.
    """

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


class TruncatedShardError(TruncatedError, BadShardError):
    """A shard ends before its header says it should."""


class NotEnoughShardsError(ScatterValueError):
    """Fewer than k usable shards were given."""

    def __init__(self, have: int, need: int, *, detail: str = "") -> None:
        more = f" ({detail})" if detail else ""
        super().__init__(
            f"not enough shards: have {have} usable, need {need}{more}; fetch {need - have} more shard(s)"
        )
        self.have = have
        self.need = need


class MismatchedShardsError(ScatterValueError):
    """Shards that belong to different files or carry different parameters."""


class MetadataTooLargeError(ScatterValueError):
    """Encrypted metadata above the on-chain entry limit."""
