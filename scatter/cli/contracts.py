"""``scatter contracts``: rebuild and check the artifacts shipped in the package."""

from __future__ import annotations

import typer

from scatter.cli._output import console, emit_json

contracts_app = typer.Typer(help="Compile contracts/ into the shipped artifacts, or check they are current.")


@contracts_app.command("build")
def build(json_out: bool = typer.Option(False, "--json", help="Print the files written as JSON.")) -> None:
    """Recompile contracts/ and rewrite scatter/chain/artifacts/*.json."""
    from scatter.chain.compile import write_artifacts

    written = write_artifacts()
    if json_out:
        emit_json({"written": [str(p) for p in written]})
    else:
        for path in written:
            console.print(f"wrote {path}")


@contracts_app.command("check")
def check(json_out: bool = typer.Option(False, "--json")) -> None:
    """Exit 1 if the shipped artifacts differ from a fresh compile of contracts/."""
    from scatter.chain.compile import stale_artifacts

    stale = stale_artifacts()
    if json_out:
        emit_json({"stale": stale})
    elif stale:
        console.print(f"stale artifacts: {', '.join(stale)} — run `make artifacts`")
    else:
        console.print("artifacts match the sources")
    raise typer.Exit(1 if stale else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(contracts_app, name="contracts")
