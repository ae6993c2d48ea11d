"""``scatter encode`` and ``scatter decode``: the local file pipeline from the shell.

Thin shell over :mod:`scatter.formats.pipeline`; heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from scatter.cli._output import console, emit_json, progress
from scatter.errors import ScatterValueError


def _parse_use(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ScatterValueError(f"--use takes shard indexes like 0,2,5, not {text!r}") from None


def encode_command(
    path: Path = typer.Argument(..., help="File to encrypt and erasure-code."),
    out: Path = typer.Option(..., "-o", "--out", help="Directory for the shards, CARs and manifest.json."),
    shards: str | None = typer.Option(
        None,
        "--shards",
        help="k/n: any k of n shards rebuild the file; 1/n is n plain copies. "
        "Default: $SCATTER_SHARDS or 3/6.",
    ),
    segment_size: int | None = typer.Option(
        None, "--segment-size", help="Encryption segment bytes (default 1 MiB)."
    ),
    block_size: int | None = typer.Option(
        None,
        "--block-size",
        help="Bytes per shard per stripe (default: 1 MiB up to 32 shards, smaller for more).",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Name recorded in the manifest (default: file name)."
    ),
    media_type: str | None = typer.Option(
        None, "--type", help="Media type (default: guessed from the name)."
    ),
    shard_files: bool = typer.Option(
        False,
        "--shard-files/--no-shard-files",
        help="Also write raw shard files (the CARs already hold them).",
    ),
    share_link: str | None = typer.Option(
        None,
        "--share-link",
        help="Print a share link (carries the key!) with this base: scatter:file or an https URL.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite an earlier encoding in DIR (its key is lost)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest (without the key) as JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    """Encrypt PATH, erasure-code it into n shards, and write one CAR per shard and a manifest to DIR."""
    import dataclasses

    from scatter.formats import params as fparams
    from scatter.formats.metadata_schema import FileMetadata
    from scatter.formats.pipeline import encode_file
    from scatter.formats.sharelink import ShareLink

    erasure = fparams.erasure_from_env(shards)
    if block_size is not None:
        erasure = dataclasses.replace(erasure, block_size=block_size)
    seg = (
        fparams.check_segment_size(segment_size)
        if segment_size is not None
        else fparams.segment_size_from_env()
    )
    if not path.is_file():
        raise ScatterValueError(f"{path} is not a file; give the path of a file to encode")
    with progress(path.stat().st_size, f"encode {erasure}", quiet=quiet or json_out) as advance:
        manifest = encode_file(
            path,
            out,
            erasure=erasure,
            segment_size=seg,
            name=name,
            media_type=media_type,
            shard_files=shard_files,
            overwrite=force,
            progress=advance,
        )
    link = None
    if share_link is not None:
        record = FileMetadata(manifest.name, manifest.media_type, manifest.file_version())
        link = ShareLink.for_file(record).to_url(share_link)
    if json_out:
        obj = manifest.to_obj(include_key=False)
        obj["directory"] = str(out)
        if link is not None:
            obj["share_link"] = link
        emit_json(obj)
        return
    console.print(
        f"encoded {manifest.name} ({manifest.size} bytes) into {erasure.n} shards, any {erasure.k} rebuild it"
    )
    for entry in manifest.shards:
        console.print(f"  shard {entry.index}: {entry.cid}  {entry.size} bytes", soft_wrap=True)
    console.print(f"manifest: {out / 'manifest.json'} (holds the content key: keep it private)")
    if link is not None:
        console.print(f"share link: {link}", soft_wrap=True)


def decode_command(
    directory: Path = typer.Argument(..., help="Directory written by scatter encode."),
    out: Path = typer.Option(..., "-o", "--out", help="Where to write the decrypted file."),
    use: str | None = typer.Option(None, "--use", help="Only use these shard indexes, e.g. 3,4,5."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    """Rebuild the file from any k shards in DIR, decrypt and verify it, and write it to FILE."""
    from scatter.formats.pipeline import decode_dir, load_manifest

    manifest = load_manifest(directory)
    with progress(manifest.ciphertext_length, "decode", quiet=quiet or json_out) as advance:
        decode_dir(directory, out, use=_parse_use(use), progress=advance)
    if json_out:
        emit_json(
            {"file": str(out), "name": manifest.name, "size": manifest.size, "sha256": manifest.sha256.hex()}
        )
        return
    console.print(f"decoded {manifest.name}: {manifest.size} bytes, sha256 verified -> {out}")


def register(app: typer.Typer) -> None:
    app.command("encode")(encode_command)
    app.command("decode")(decode_command)
