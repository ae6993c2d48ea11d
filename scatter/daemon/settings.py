"""Daemon settings, declared once, parsed by pydantic-settings: defaults < file < environment < flags.

Each daemon declares its settings once, as a :class:`DaemonSettings` model (one
field per setting: name, type with its unit, default). Both daemons parse with the
same field types, so a boolean, an amount, a size or a duration reads the same in
either:

=================  =============================================================
type               written as
=================  =============================================================
``bool``           ``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``
:data:`Eth`        ETH, or with a unit: ``"1.5"``, ``"500gwei"``, ``"7wei"``
:data:`Wei`        wei, or with a unit: ``"2gwei"``
:data:`Size`       bytes, or with a unit: ``"10GiB"``, ``"512MiB"``
:data:`Seconds`    seconds, or with a unit: ``"0.5"``, ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h"``
:data:`Names`      a list, or one comma-separated string: ``"0xaa, 0xbb"``
=================  =============================================================

An optional setting (default none) is also unset by an empty value, ``none`` or
``off``. The units apply to what the file, the environment and the command line
give (:meth:`DaemonSettings.load`); a model built in code takes wei, bytes and
seconds as they are.

Sources, each overriding the one before: the field defaults; the TOML file
(``config_file`` or ``<prefix>CONFIG``), its ``[section]`` table or its top level;
``SCATTER_RPC_URL`` for ``rpc_url``; ``<prefix><NAME>`` for each setting; the
command line (``overrides``, None values ignored). An unknown name is an error.
"""

from __future__ import annotations

import os
import re
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin, get_type_hints

from pydantic import BeforeValidator, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scatter.errors import ScatterValueError
from scatter.units import parse_amount, parse_size

_UNSET_WORDS = ("", "none", "off")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d*\.?\d+)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    """How a setting written by people (file, environment, command line) becomes its value."""

    parse: Callable[[Any], Any]


def _unset(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() in _UNSET_WORDS else value


def parse_seconds(value: str | float) -> float:
    """Seconds from ``2``, ``"0.5"``, ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if match is None:
        raise ScatterValueError(f"invalid duration {value!r}: write e.g. 30, 30s, 250ms, 5m or 1h")
    return float(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()]


def split_names(value: Any) -> Any:
    """A list of names from a list or one comma-separated string (other values as they are)."""
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, list | tuple | set | frozenset):
        return tuple(str(i).strip() for i in items if str(i).strip())
    return items


#: Wei, read as ETH (``"1.5"``) or with a unit (``"500gwei"``).
Eth = Annotated[int, Unit(lambda v: parse_amount(v, "eth"))]
#: Wei, read as wei or with a unit (``"2gwei"``).
Wei = Annotated[int, Unit(lambda v: parse_amount(v, "wei"))]
#: Bytes, read as bytes or with a unit (``"10GiB"``).
Size = Annotated[int, Unit(parse_size)]
#: Seconds, read as seconds or with a unit (``"250ms"``, ``"5m"``).
Seconds = Annotated[float, Unit(parse_seconds)]
#: Names (addresses, CIDs, URLs): a list, or one comma-separated string.
Names = Annotated[tuple[str, ...], BeforeValidator(split_names)]
#: A setting that may be unset: none by default, and by ``""``, ``none`` or ``off``.
Unset = BeforeValidator(_unset)


class _Layer(PydanticBaseSettingsSource):
    """One source of raw settings (a TOML table, the environment, the command line)."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = dict(values)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class DaemonSettings(BaseSettings):
    """A daemon's settings: subclasses declare one field per setting, ``section`` and ``env_prefix``."""

    # Defaults are final values (wei, bytes, seconds): never parsed with units.
    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    section: ClassVar[str] = "daemon"
    env_prefix: ClassVar[str] = "SCATTER_DAEMON_"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built in code, a model takes what it is given (and the defaults); load() reads the rest.
        return (init_settings,)

    @classmethod
    def setting_names(cls) -> set[str]:
        """Every name a file, the environment or the command line may set."""
        return set(cls.model_fields)

    @classmethod
    def sources(
        cls,
        *,
        config_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> list[PydanticBaseSettingsSource]:
        """The layers of raw settings, lowest first (see the module's docstring)."""
        env = os.environ if environ is None else environ
        names = cls.setting_names()
        layers: list[PydanticBaseSettingsSource] = []
        path = config_file or (
            Path(env[cls.env_prefix + "CONFIG"]) if env.get(cls.env_prefix + "CONFIG") else None
        )
        if path is not None:
            layers.append(_Layer(cls, _toml_table(path, cls.section)))
        from_env: dict[str, Any] = {}
        if env.get("SCATTER_RPC_URL") and "rpc_url" in names:
            from_env["rpc_url"] = env["SCATTER_RPC_URL"]
        from_env.update(
            {n: env[cls.env_prefix + n.upper()] for n in names if cls.env_prefix + n.upper() in env}
        )
        layers.append(_Layer(cls, from_env))
        layers.append(_Layer(cls, {k: v for k, v in (overrides or {}).items() if v is not None}))
        return layers

    @classmethod
    def raw_settings(
        cls,
        *,
        config_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The merged raw settings; an unknown name is a one-line error."""
        values: dict[str, Any] = {}
        for layer in cls.sources(config_file=config_file, overrides=overrides, environ=environ):
            values.update(layer())
        unknown = set(values) - cls.setting_names()
        if unknown:
            raise ScatterValueError(f"unknown {cls.section} setting(s): {', '.join(sorted(unknown))}")
        return values

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> Self:
        """Validate raw settings (read with their units) into the model; errors are one line."""
        try:
            return cls.model_validate(cls.prepare(values))
        except ValidationError as exc:
            raise ScatterValueError(f"bad {cls.section} setting: {_one_line(exc)}") from None
        except ScatterValueError as exc:
            raise ScatterValueError(f"bad {cls.section} setting: {exc}") from None

    @classmethod
    def prepare(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """Raw settings as the model's fields take them: each read with its field's unit."""
        return with_units(cls, values)

    @classmethod
    def load(
        cls,
        *,
        config_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        """The settings from every source (see the module's docstring)."""
        return cls.parse(cls.raw_settings(config_file=config_file, overrides=overrides, environ=environ))


def with_units(owner: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each one that its field of ``owner`` declares a :class:`Unit` of parsed by it."""
    hints = get_type_hints(owner, include_extras=True)
    out = dict(values)
    for name, value in values.items():
        unit = _unit_of(hints.get(name))
        if unit is not None and _unset(value) is not None:
            try:
                out[name] = unit.parse(value)
            except (TypeError, ValueError) as exc:  # ScatterValueError too
                raise ScatterValueError(f"{name}: {exc}") from None
    return out


def _unit_of(annotation: Any) -> Unit | None:
    """The :class:`Unit` of an annotation, also inside ``X | None`` or ``Annotated[..., Unset]``."""
    if annotation is None:
        return None
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Unit):
            return meta
    inner = get_args(annotation)
    if getattr(annotation, "__metadata__", None) is not None:
        return _unit_of(inner[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return next((u for u in map(_unit_of, inner) if u is not None), None)
    return None


def _toml_table(path: Path, section: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScatterValueError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScatterValueError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get(section, data)
    return {k.replace("-", "_"): v for k, v in table.items()}


def _one_line(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "value"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"
