"""The ``scatter`` command line: a thin shell over the library.

Each command group lives in its own module with a ``register(app)`` function;
heavy imports happen inside the commands so that ``scatter --help`` is fast.
"""

from __future__ import annotations

import sys

import typer

from scatter.cli import _output
from scatter.errors import ScatterError

app = typer.Typer(
    name="scatter",
    help="Scatter: encrypted, erasure-coded storage on an Ethereum market of IPFS hosters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_groups() -> None:
    # One line per command-group module; keep alphabetical.
    from scatter.cli import client, contracts, deploy, dev, formats, hoster, ipfs, pins, validator, web

    for module in (client, contracts, deploy, dev, formats, hoster, ipfs, pins, validator, web):
        module.register(app)


_register_groups()


def main() -> None:
    """Entry point: run the app and turn Scatter errors into one clear line."""
    from scatter import config

    config.load_env()
    try:
        app(standalone_mode=True)
    except ScatterError as exc:
        _output.fail(str(exc))
        sys.exit(1)
