"""Layered daemon settings: defaults < TOML file < environment < command line.

Both daemons read their settings this way; each then coerces the raw values
into its own typed config.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scatter.errors import ScatterValueError


def layered_settings(
    *,
    section: str,
    env_prefix: str,
    known: Iterable[str],
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Raw settings for the daemon ``section`` (``hoster``, ``validator``).

    The TOML file (``config_file`` or ``<env_prefix>CONFIG``) may hold a
    ``[section]`` table or top-level keys; ``SCATTER_RPC_URL`` sets ``rpc_url``;
    ``<env_prefix><NAME>`` sets ``name``; ``overrides`` (None values ignored) win.
    Unknown names are an error.
    """
    env = os.environ if environ is None else environ
    known = set(known)
    values: dict[str, Any] = {}
    path = config_file or (Path(env[env_prefix + "CONFIG"]) if env.get(env_prefix + "CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ScatterValueError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScatterValueError(f"config file {path} is not valid TOML: {exc}") from None
        table = data.get(section, data)
        values.update({k.replace("-", "_"): v for k, v in table.items()})
    if env.get("SCATTER_RPC_URL"):
        values["rpc_url"] = env["SCATTER_RPC_URL"]
    for name in known:
        if env_prefix + name.upper() in env:
            values[name] = env[env_prefix + name.upper()]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(values) - known
    if unknown:
        raise ScatterValueError(f"unknown {section} setting(s): {', '.join(sorted(unknown))}")
    return values
