"""``scatter cid``, ``scatter car`` and ``scatter ipfs ...``: the IPFS layer from the shell.

Thin shell over :mod:`scatter.ipfs`; heavy imports happen inside the commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scatter.cli._output import console, emit_json, err_console, progress
from scatter.errors import ScatterValueError

_BAR_MIN_BYTES = 64 * 1024 * 1024  # smaller work finishes before a bar is worth drawing

if TYPE_CHECKING:
    from scatter.ipfs.embedded import EmbeddedBlockStore

ipfs_app = typer.Typer(
    name="ipfs",
    help="The embedded IPFS block store and its Trustless Gateway.",
    no_args_is_help=True,
)

_STORE_HELP = "Block store directory (default: $SCATTER_IPFS_STORE or .scatter/ipfs)."


def _store_dir(store: Path | None) -> Path:
    if store is not None:
        return store
    return Path(os.environ.get("SCATTER_IPFS_STORE", ".scatter/ipfs"))


def _open_store(store: Path | None) -> EmbeddedBlockStore:
    from scatter.ipfs.embedded import EmbeddedBlockStore

    return EmbeddedBlockStore(_store_dir(store))


def _check_version(cid_version: int) -> int:
    if cid_version not in (0, 1):
        raise ScatterValueError(f"--cid-version must be 0 or 1, not {cid_version}")
    return cid_version


_HIDDEN_HELP = "With a directory: include names starting with '.' (as `ipfs add --hidden`)."


def _file_size(path: Path) -> int:
    if not path.exists():
        raise ScatterValueError(f"no such file: {path}")
    if path.is_dir():
        raise ScatterValueError(f"{path} is a directory; give a file")
    return path.stat().st_size


def _tree_size(path: Path, hidden: bool) -> int:
    """Bytes of the files under a directory (for the progress bar)."""
    total = 0
    for base, dirs, files in os.walk(path):
        if not hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        total += sum((Path(base) / f).lstat().st_size for f in files if hidden or not f.startswith("."))
    return total


def cid_command(
    path: Path = typer.Argument(..., help="File or directory to compute the CID of."),
    cid_version: int = typer.Option(1, "--cid-version", help="0: Kubo's default; 1: --cid-version=1."),
    hidden: bool = typer.Option(False, "--hidden", help=_HIDDEN_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print CID, size and block count as JSON."),
) -> None:
    """Print the CID that `ipfs add [-r] [--cid-version=1]` would give PATH (nothing is stored).

    Directories as `ipfs add -r`, HAMT-sharded where Kubo shards them.

    Example: scatter cid movie.mp4 --json
    """
    from scatter.ipfs.directory import import_directory
    from scatter.ipfs.unixfs import import_file

    version = _check_version(cid_version)
    if path.is_dir():
        with progress(
            _tree_size(path, hidden), "hashing", quiet=json_out, min_total=_BAR_MIN_BYTES
        ) as advance:
            tree = import_directory(path, cid_version=version, hidden=hidden, progress=advance)
        root, size, blocks = tree.root, tree.size, tree.block_count
    else:
        with progress(_file_size(path), "hashing", quiet=json_out, min_total=_BAR_MIN_BYTES) as advance:
            result = import_file(path, cid_version=version, progress=advance)
        root, size, blocks = result.root, result.size, result.block_count
    if json_out:
        emit_json({"cid": str(root), "size": size, "blocks": blocks})
    else:
        console.print(str(root))


def car_command(
    path: Path = typer.Argument(..., help="File or directory to pack."),
    out: Path = typer.Option(..., "-o", "--output", help="CAR file to write (- for stdout, or a FIFO)."),
    cid_version: int = typer.Option(1, "--cid-version", help="0 or 1, as for `scatter cid`."),
    json_out: bool = typer.Option(False, "--json", help="Print root, sizes and block count as JSON."),
) -> None:
    """Pack PATH into a CAR v1 (UnixFS, as `ipfs add [-r]`), in one pass with bounded memory.

    Example: scatter car shard.bin -o shard.car
    """
    from scatter.ipfs._output import open_output
    from scatter.ipfs.car import CarWriter
    from scatter.ipfs.directory import import_directory
    from scatter.ipfs.unixfs import import_file

    version = _check_version(cid_version)
    is_dir = path.is_dir()
    size = _tree_size(path, False) if is_dir else _file_size(path)
    with (
        open_output(out) as f,
        progress(size, "packing", quiet=json_out, min_total=_BAR_MIN_BYTES) as advance,
    ):
        writer = CarWriter(f)
        if is_dir:
            tree = import_directory(path, writer.write, cid_version=version, progress=advance)
            root, total = tree.root, tree.size
        else:
            result = import_file(path, writer.write, cid_version=version, progress=advance)
            root, total = result.root, result.size
        car_size = writer.finish([root])
    _report(
        out,
        json_out,
        {
            "cid": str(root),
            "size": total,
            "blocks": writer.block_count,
            "car": str(out),
            "carSize": car_size,
        },
        f"{root}  {out} ({car_size} bytes, {writer.block_count} blocks)",
    )


def _report(out: Path, json_out: bool, obj: dict[str, object], line: str) -> None:
    """The command's summary: on stderr when the data itself went to stdout (``-o -``)."""
    from scatter.ipfs._output import is_stdout

    if not is_stdout(out):
        if json_out:
            emit_json(obj)
        else:
            console.print(line, soft_wrap=True)
        return
    import json

    from scatter.cli._output import snake_case

    sys.stdout.flush()
    text = json.dumps(snake_case(obj), indent=2, sort_keys=True) if json_out else line
    err_console.print(text, soft_wrap=True, markup=False, highlight=False)


def add_command(
    path: Path = typer.Argument(..., help="File (or, with -r, directory) to add."),
    recursive: bool = typer.Option(
        False, "-r", "--recursive", help="Add a directory tree (as `ipfs add -r`)."
    ),
    hidden: bool = typer.Option(False, "--hidden", help=_HIDDEN_HELP),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    cid_version: int = typer.Option(1, "--cid-version", help="0 or 1, as for `scatter cid`."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Add a file, or a directory with -r, to the embedded store and pin it (as `ipfs add [-r]`).

    Example: scatter ipfs add -r site/
    """
    version = _check_version(cid_version)
    if path.is_dir() and not recursive:
        raise ScatterValueError(f"{path} is a directory; add it with -r (as `ipfs add -r`)")
    bs = _open_store(store)
    if path.is_dir():
        with progress(
            _tree_size(path, hidden), "adding", quiet=json_out, min_total=_BAR_MIN_BYTES
        ) as advance:
            tree = bs.add_directory(path, cid_version=version, hidden=hidden, progress=advance)
        root, size, blocks = tree.root, tree.size, tree.block_count
    else:
        with progress(_file_size(path), "adding", quiet=json_out, min_total=_BAR_MIN_BYTES) as advance:
            result = bs.add_file(path, cid_version=version, progress=advance)
        root, size, blocks = result.root, result.size, result.block_count
    if json_out:
        emit_json({"cid": str(root), "size": size, "blocks": blocks})
    else:
        console.print(f"added {root} {path.name}")


def get_command(
    cid: str = typer.Argument(..., help="Root CID of a UnixFS file."),
    out: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Where to write the file (or the CAR with --car); - for stdout, or a FIFO.",
    ),
    car: bool = typer.Option(False, "--car", help="Write the DAG as a CAR instead of the file."),
    archive: bool = typer.Option(
        False, "-a", "--archive", help="Write a tar archive of the file or directory (as `ipfs get -a`)."
    ),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Rebuild a file or a directory tree (verified block by block) or export its CAR from the
    embedded store. A directory is written to the new path given with -o.

    Example: scatter ipfs get bafy... -o report.pdf
    """
    from scatter.ipfs._output import is_stdout, open_output
    from scatter.ipfs.cid import parse_cid
    from scatter.ipfs.exporter import export_file, export_tree, is_directory, write_tar

    root = parse_cid(cid)
    bs = _open_store(store)
    if archive:
        with open_output(out) as f:
            size = write_tar(root, bs, f)
    elif not car and is_directory(root, bs):
        if is_stdout(out):
            raise ScatterValueError(
                f"{root} is a directory: give -o a new directory path, or use -a or --car"
            )
        size = export_tree(root, bs, out)
    else:
        with open_output(out) as f:
            size = bs.export_car(root, f) if car else export_file(root, bs, f)
    _report(out, json_out, {"cid": str(root), "output": str(out), "size": size, "car": car},
            f"wrote {out} ({size} bytes)")  # fmt: skip


def import_command(
    car: Path = typer.Argument(..., help="CAR file to import."),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    no_pin: bool = typer.Option(False, "--no-pin", help="Store the blocks without pinning the roots."),
    json_out: bool = typer.Option(False, "--json", help="Print the roots as JSON."),
) -> None:
    """Import a CAR (every block verified) and pin its roots once complete (as `ipfs dag import`)."""
    if not car.is_file():
        raise ScatterValueError(f"no such CAR file: {car}")
    bs = _open_store(store)
    with car.open("rb") as f:
        roots = bs.import_car(f, pin=not no_pin)
    if json_out:
        emit_json({"roots": [str(r) for r in roots], "pinned": not no_pin})
    else:
        for r in roots:
            console.print(f"{'pinned' if not no_pin else 'imported'} {r}")


def pin_command(
    cid: str = typer.Argument(..., help="Root CID whose whole DAG is held locally."),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Pin a DAG recursively (it must be complete in the store; nothing is fetched)."""
    from scatter.ipfs.cid import parse_cid

    root = parse_cid(cid)
    _open_store(store).pin(root)
    if json_out:
        emit_json({"pinned": str(root)})
    else:
        console.print(f"pinned {root}")


def unpin_command(
    cid: str = typer.Argument(..., help="Pinned root CID."),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Remove a pin; the blocks go at the next `scatter ipfs gc`."""
    from scatter.ipfs.cid import parse_cid

    root = parse_cid(cid)
    _open_store(store).unpin(root)
    if json_out:
        emit_json({"unpinned": str(root)})
    else:
        console.print(f"unpinned {root}")


def ls_command(
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print pins and store size as JSON."),
) -> None:
    """List the pinned roots and the store's size."""
    bs = _open_store(store)
    pins = bs.pins()
    stat = bs.stat()
    if json_out:
        emit_json({"pins": [str(p) for p in pins], "blocks": stat.block_count, "bytes": stat.size_bytes})
        return
    for p in pins:
        console.print(str(p))
    err_console.print(f"{len(pins)} pins, {stat.block_count} blocks, {stat.size_bytes} bytes in {bs.path}")


def gc_command(
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print what was removed as JSON."),
) -> None:
    """Delete every block that no pin reaches."""
    result = _open_store(store).gc()
    if json_out:
        emit_json({"removedBlocks": result.removed_blocks, "freedBytes": result.freed_bytes})
    else:
        console.print(f"removed {result.removed_blocks} blocks, freed {result.freed_bytes} bytes")


def fetch_command(
    cid: str = typer.Argument(..., help="Root CID to fetch."),
    gateway: list[str] = typer.Option(..., "--gateway", "-g", help="Trustless gateway URL (repeatable)."),
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    car: bool = typer.Option(False, "--car", help="Ask for one CAR stream first, then blocks."),
    concurrency: int = typer.Option(8, help="Requests in flight."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fetch a DAG from trustless gateways, verifying every block, and pin it.

    Example: scatter ipfs fetch bafy... -g http://127.0.0.1:8080 -g http://127.0.0.1:8081
    """
    from scatter.ipfs.cid import parse_cid
    from scatter.ipfs.gateway.client import fetch_dag

    root = parse_cid(cid)
    result = fetch_dag(gateway, root, _open_store(store), prefer_car=car, concurrency=concurrency)
    if json_out:
        emit_json(
            {
                "cid": str(root),
                "fetchedBlocks": result.fetched_blocks,
                "fetchedBytes": result.fetched_bytes,
                "alreadyHeld": result.already_held,
                "rejected": result.rejected,
            }
        )
    else:
        console.print(
            f"fetched and pinned {root} ({result.fetched_blocks} blocks, {result.fetched_bytes} bytes)"
        )
        for line in result.rejected:
            err_console.print(f"rejected: {line}")


def serve_command(
    store: Path | None = typer.Option(None, "--store", help=_STORE_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on (0: any free port)."),
    json_out: bool = typer.Option(False, "--json", help="Print the URL as JSON once listening."),
) -> None:
    """Serve the embedded store as a Trustless Gateway (local blocks only); Ctrl-C stops.

    Example: scatter ipfs serve --port 8080
    """
    import threading

    from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app

    server = GatewayServer(create_gateway_app(_open_store(store)), host=host, port=port).start()
    if json_out:
        emit_json({"url": server.url, "store": str(_store_dir(store))})
    else:
        console.print(f"trustless gateway on {server.url} over {_store_dir(store)}")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command("cid")(cid_command)
    app.command("car")(car_command)
    for name, fn in (
        ("add", add_command),
        ("get", get_command),
        ("import", import_command),
        ("pin", pin_command),
        ("unpin", unpin_command),
        ("ls", ls_command),
        ("gc", gc_command),
        ("fetch", fetch_command),
        ("serve", serve_command),
    ):
        ipfs_app.command(name)(fn)
    app.add_typer(ipfs_app)
