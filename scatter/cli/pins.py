"""``scatter pins``: access tokens of the web node's IPFS Pinning Service API (docs/pinning.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from scatter.cli._output import console, emit_json, err_console

pins_app = typer.Typer(
    help="The Pinning Service API (/pins) of `scatter dev` and the web node: its access tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Access tokens: each one is its own account of pins, with a spend cap.", no_args_is_help=True
)
pins_app.add_typer(token_app, name="token")

DB_HELP = (
    "Pin store (SQLite). Default SCATTER_PINS_DB, else .scatter/dev/web/pins.sqlite in a `scatter dev` "
    "directory, else .scatter/pins.sqlite."
)


def _store(db: Path | None):  # type: ignore[no-untyped-def]
    from scatter.web.pinning import PinStore
    from scatter.web.pinning.settings import default_db

    return PinStore(db or default_db())


@token_app.command("create")
def create_command(
    name: str = typer.Argument(..., help="What the token is for (a device, an app, a user)."),
    spend_cap: str | None = typer.Option(
        None,
        help="Most escrow its pins may take from the node's wallet, e.g. 0.05eth "
        "(default SCATTER_PINS_SPEND_CAP).",
    ),
    db: Path | None = typer.Option(None, help=DB_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Create a token and print it once: only its hash is kept, so copy it now.

    Examples:
      scatter pins token create laptop
      scatter pins token create kubo --spend-cap 0.01eth --json | jq -r .token
    """
    from scatter.units import parse_amount
    from scatter.web.pinning.settings import PinSettings

    cap = parse_amount(spend_cap, "eth") if spend_cap is not None else PinSettings.load().spend_cap
    store = _store(db)
    try:
        token, secret = store.create_token(name, cap)
    finally:
        store.close()
    if json_out:
        emit_json({**token.to_json(), "token": secret})
        return
    console.print(secret, soft_wrap=True)
    err_console.print(
        f"token {token.id} ({token.name}), spend cap {token.spend_cap} wei: shown once, only its hash is kept"
    )


@token_app.command("list")
def list_command(
    db: Path | None = typer.Option(None, help=DB_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the tokens as JSON."),
) -> None:
    """List tokens (never their secrets): id, name, created, revoked, spent of the cap."""
    store = _store(db)
    try:
        tokens = store.tokens()
    finally:
        store.close()
    if json_out:
        emit_json([t.to_json() for t in tokens])
        return
    for t in tokens:
        j = t.to_json()
        state = f"revoked {j['revoked']}" if t.revoked is not None else "active"
        console.print(
            f"{t.id:>4}  {t.name:<20} {j['created']}  {state:<34} spent {t.spent} of {t.spend_cap} wei"
        )


@token_app.command("revoke")
def revoke_command(
    token: str = typer.Argument(..., help="The token's id or name."),
    db: Path | None = typer.Option(None, help=DB_HELP),
) -> None:
    """Revoke a token: its requests get 401 from now on (its pins stay, paid until their end)."""
    store = _store(db)
    try:
        revoked = store.revoke_token(token)
    finally:
        store.close()
    console.print(f"revoked token {revoked.id} ({revoked.name})")


def register(app: typer.Typer) -> None:
    app.add_typer(pins_app, name="pins")
