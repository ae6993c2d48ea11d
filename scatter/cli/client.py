"""Client commands: a thin shell over :class:`scatter.Scatter` (upload, download, pin, ls, ...).

Every command takes ``--json`` (one JSON document on stdout), ``--rpc-url`` and
``--dev-account``; without them the dev network of the working directory
(``./.scatter/dev/dev.json``) and dev account 1 are used, or ``SCATTER_RPC_URL``
and ``SCATTER_PRIVATE_KEY`` / ``SCATTER_KEYSTORE`` from the environment or ``.env``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from scatter.cli._output import console, emit_json, err_console, progress

if TYPE_CHECKING:
    from scatter.client import Scatter
    from scatter.sdk.models import CancelResult

RPC_HELP = "JSON-RPC URL (default: SCATTER_RPC_URL, the dev network of this directory, or localhost)."
DEV_HELP = "Sign with anvil dev account N (local chains only; default on the dev network: 1)."
PRICE_HELP = (
    "Price per GiB of slot per epoch, e.g. 2gwei (default: twice the hosters' break-even at the "
    "chain's gas price, at least 1gwei; a price below break-even is posted with a warning)."
)


class CliReporter:
    """Progress for people: steps and bars on stderr; nothing with --json or -q."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def step(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"[dim]•[/] {message}", highlight=False)

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], object]]:
        with progress(total, label, quiet=self.quiet) as advance:
            yield advance


def _sdk(rpc_url: str | None, dev_account: int | None, gateways: list[str] | None = None) -> Scatter:
    from scatter.client import Scatter

    return Scatter.connect(rpc_url, dev_account=dev_account, gateways=gateways or ())


def _seconds(text: str) -> float:
    from scatter.sdk.units import parse_duration

    return float(parse_duration(text, 1))


def _eth(wei: int) -> str:
    from scatter.sdk.units import format_eth

    return format_eth(wei)


@contextmanager
def _price_warnings() -> Iterator[None]:
    """Print the SDK's price warnings as yellow lines on stderr when they happen (before the bid
    is posted; also with --json, whose document stays alone on stdout)."""
    import warnings

    from scatter.sdk.pricing import PriceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", PriceWarning)
        others = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:  # fmt: skip
            if issubclass(category, PriceWarning):
                err_console.print(f"[bold yellow]warning:[/] {message}", soft_wrap=True, highlight=False)
            else:
                others(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def upload_command(
    path: Path = typer.Argument(..., help="The file to store."),
    shards: str | None = typer.Option(
        None, help="Erasure coding k/n (default 3/6: any 3 of 6 shards rebuild)."
    ),
    replicas: int | None = typer.Option(None, help="Store N encrypted copies instead of k/n shards."),
    duration: str = typer.Option("30d", help="How long to store it: 90s, 12h, 30d, 2w..."),
    price: str | None = typer.Option(None, help=PRICE_HELP),
    name: str | None = typer.Option(None, help="Name in your file list (default: the file's name)."),
    timeout: str = typer.Option("5m", help="How long to wait for hosters to reserve and fill the slots."),
    abort: bool = typer.Option(
        False, "--abort", help="Give up an unfinished upload of PATH: refund open slots."
    ),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress output."),
) -> None:
    """Encrypt, erasure-code and store a private file on the market; run again to resume.

    The bid names each shard's CID, possession root and size; each hoster that
    reserves a slot gets the shard pushed and fills the slot with a proof on chain.

    Examples:
      scatter upload report.pdf
      scatter upload photos.tar --shards 4/8 --duration 90d --price 2gwei
      scatter upload notes.txt --replicas 3 --json
      scatter upload big.iso --abort
    """
    sdk = _sdk(rpc_url, dev_account)
    if abort:
        cancelled = sdk.abort_upload(path, shards=shards, replicas=replicas)
        data = {"aborted": str(path), "cancel": cancelled.to_json() if cancelled else None}
        if json_out:
            emit_json(data)
        else:
            refund = _eth(cancelled.refund) if cancelled else "nothing (no bid yet)"
            console.print(f"aborted the upload of {path}; refunded {refund}")
            if cancelled is not None:
                _print_withdrawn(cancelled)
        return
    with _price_warnings():
        result = sdk.upload(
            path,
            shards=shards,
            replicas=replicas,
            duration=duration,
            price=price,
            name=name,
            timeout=_seconds(timeout),
            reporter=CliReporter(quiet or json_out),
        )
    if json_out:
        emit_json(result.to_json())
        return
    console.print(f"[bold]stored[/] {result.name} as file [bold]{result.file_id}[/] (bid {result.bid_id})")
    console.print(f"  {result.shards} shards, {result.size} bytes, sha256 {result.sha256.hex()}")
    console.print(
        f"  {result.duration_epochs} epochs at {result.price_per_epoch} wei/slot/epoch, "
        f"escrow {_eth(result.escrow)}; took {result.seconds:.1f}s"
    )
    for d in result.deals:
        console.print(f"  slot {d.slot}: deal {d.deal_id} at {d.endpoint} (filled)")


def download_command(
    ref: str = typer.Argument(..., help="File id, file name, or share link."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Where to write it (file or directory)."),
    version: int = typer.Option(0, help="0: current version, 1: the one before, ..."),
    gateway: list[str] | None = typer.Option(None, help="Extra gateway URL to fetch shards from (repeat)."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress output."),
) -> None:
    """Fetch any k shards from the hosters, verify, decode, decrypt and check the sha256.

    A share link needs no key and no deployment record (read-only): the hosters
    asked are the link's hints, --gateway, and every hoster of the link's Market
    when --rpc-url (or SCATTER_RPC_URL) serves the link's chain.

    Examples:
      scatter download 7
      scatter download report.pdf -o ~/Downloads/
      scatter download 'scatter:file?v=2&chain=...&shards=...#key=...' -o copy.bin
    """
    from scatter.sdk.download import download_link, is_share_link

    reporter = CliReporter(quiet or json_out)
    if is_share_link(ref):
        result = download_link(ref, out, rpc_url=rpc_url, gateways=gateway or (), reporter=reporter)
    else:
        sdk = _sdk(rpc_url, dev_account, gateway)
        result = sdk.download(ref, out, version=version, reporter=reporter)
    if json_out:
        emit_json(result.to_json())
        return
    console.print(
        f"[bold]wrote[/] {result.path} ({result.size} bytes, sha256 verified) "
        f"from shards {list(result.shards_used)} in {result.seconds:.1f}s"
    )


def pin_command(
    cid: str = typer.Argument(..., help="The public CID to keep pinned."),
    replicas: int = typer.Option(3, help="How many hosters keep a copy."),
    duration: str = typer.Option("30d", help="How long: 90s, 12h, 30d..."),
    price: str | None = typer.Option(None, help=PRICE_HELP),
    origin: list[str] | None = typer.Option(
        None, help="Gateway that serves the content now (repeat); read once for the possession root."
    ),
    size: int | None = typer.Option(None, help="Expected size in bytes (checked against the content)."),
    wait: bool = typer.Option(False, help="Wait until every replica is filled."),
    timeout: str = typer.Option("5m", help="How long --wait waits."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Buy pinning of a public CID: hosters fetch it (from --origin or IPFS), prove it and keep it.

    The content is read once from the origin, every block checked against the
    CID, to compute its exact size and possession root, which the bid commits to.

    Examples:
      scatter pin bafybei... --replicas 3 --duration 30d --origin http://127.0.0.1:8080
      scatter pin bafkrei... --origin https://gw.example --wait --json
    """
    sdk = _sdk(rpc_url, dev_account)
    with _price_warnings():
        result = sdk.pin(
            cid,
            replicas=replicas,
            duration=duration,
            price=price,
            origins=origin or (),
            size=size,
            wait=wait,
            timeout=_seconds(timeout),
            reporter=CliReporter(json_out),
        )
    if json_out:
        emit_json(result.to_json())
        return
    console.print(
        f"[bold]bid {result.bid_id}[/]: {result.replicas} replicas of {result.cid} ({result.size} bytes) "
        f"for {result.duration_epochs} epochs at {result.price_per_epoch} wei/slot/epoch, "
        f"escrow {_eth(result.escrow)}"
    )
    for d in result.deals:
        console.print(f"  replica {d.slot}: deal {d.deal_id} at {d.endpoint} (filled)")


@contextmanager
def _health_warnings() -> Iterator[None]:
    """Print the SDK's health warnings as yellow lines on stderr (not Python's warning format)."""
    import warnings

    from scatter.sdk.health import HealthWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HealthWarning)
        yield
    for w in caught:
        if issubclass(w.category, HealthWarning):
            err_console.print(f"[bold yellow]warning:[/] {w.message}", soft_wrap=True)


def ls_command(
    pending: bool = typer.Option(False, help="List unfinished uploads instead."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List your files (decrypted from the on-chain registry with your wallet's key) and their health.

    Health counts the shards held by live deals (filled, not faulted or ended)
    against the k needed: "6/6 live", "3/6 AT RISK" (k left: one more loss
    before healing makes the file unrecoverable), "2/6 LOST" (fewer than k).

    Examples:
      scatter ls
      scatter ls --json | jq '.[] | [.name, .health.label]'
      scatter ls --pending
    """
    sdk = _sdk(rpc_url, dev_account)
    if pending:
        sessions = sdk.pending_uploads()
        rows: list[dict[str, Any]] = [
            {"source": s.source, "stage": s.stage, "bid_id": s.bid_id, "shards": s.shards} for s in sessions
        ]
        if json_out:
            emit_json(rows)
        else:
            for r in rows:
                console.print(f"{r['source']}  stage={r['stage']}  bid={r['bid_id']}")
            if not rows:
                console.print("no unfinished uploads")
        return
    with _health_warnings():
        files = sdk.ls()
    if json_out:
        emit_json([f.to_json() for f in files])
        return
    if not files:
        console.print("no files yet: `scatter upload PATH` stores one")
        return
    from rich.table import Table

    table = Table("id", "name", "size", "shards", "health", "bid", "versions")
    for f in files:
        table.add_row(
            str(f.file_id),
            f.name,
            str(f.size),
            f.shards,
            _health_cell(f.health),
            str(f.bid_id),
            str(f.versions),
        )
    console.print(table)


def _health_cell(health: Any) -> str:
    if health is None:
        return "-"
    style = {"healthy": "green", "at-risk": "bold yellow", "lost": "bold red"}.get(health.state, "dim")
    return f"[{style}]{health.label}[/]"


def status_command(
    ref: str | None = typer.Argument(None, help="File id or name."),
    bid: int | None = typer.Option(None, help="Show a bid instead of a file."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show a file's (or a bid's) health, slots and deals: who holds each shard, faults, paid through.

    Warns (on stderr) when the file's live shards fell to k or below.

    Examples:
      scatter status 7
      scatter status report.pdf --json
      scatter status --bid 12
    """
    from scatter.errors import ScatterValueError

    sdk = _sdk(rpc_url, dev_account)
    if bid is not None:
        info, deals = sdk.bid_status(bid)
        if json_out:
            emit_json({"bid": info.to_json(), "deals": [d.to_json() for d in deals]})
            return
        console.print(
            f"[bold]bid {info.bid_id}[/]: {info.slot_count} slots, open {list(info.open_slots)} "
            f"(reserved {list(info.reserved_slots)}), escrow {_eth(info.escrow)}"
        )
        _print_deals(deals)
        return
    if ref is None:
        raise ScatterValueError("give a file id or name, or --bid N")
    with _health_warnings():
        st = sdk.status(ref)
    if json_out:
        emit_json(st.to_json())
        return
    f = st.file
    console.print(
        f"[bold]file {f.file_id}[/] {f.name}: {f.size} bytes, {f.shards}, bid {f.bid_id}, "
        f"{f.versions} version(s)"
    )
    health = _health_cell(st.health)
    console.print(f"  epoch {st.current_epoch}: {health} (any {st.needed} shards rebuild the file)")
    if st.bid is not None:
        console.print(
            f"  open slots {list(st.bid.open_slots)} (reserved {list(st.bid.reserved_slots)}), "
            f"escrow left {_eth(st.bid.escrow)}"
        )
    _print_deals(list(st.deals))


def _print_deals(deals: list[Any]) -> None:
    for d in sorted(deals, key=lambda d: (d.slot, d.deal_id)):
        pinned = {True: " pinned", False: " NOT pinned", None: ""}[d.pinned]
        live = "live" if d.live else d.status
        faults = f", {d.faults} missed proof(s)" if d.faults else ""
        console.print(
            f"  slot {d.slot}: deal {d.deal_id} {live}{pinned}{faults} hoster {d.hoster} at {d.endpoint}, "
            f"paid through {d.paid_through} ({d.paid_epochs} epochs), ends {d.end_epoch}",
            soft_wrap=True,
        )


def rm_command(
    ref: str = typer.Argument(..., help="File id or name."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Stop paying for a file: cancel its open slots (refund) and remove its entry.

    Filled deals run to their end (hosters locked collateral for them); what
    they do not earn comes back when they finish. An unfinished upload of a new
    version of the file is given up too (its bid cancelled, its local copy deleted).

    Examples:
      scatter rm 7
      scatter rm report.pdf --json
    """
    result = _sdk(rpc_url, dev_account).rm(ref)
    if json_out:
        emit_json(result.to_json())
        return
    refund = sum(c.refund for c in result.cancelled)
    console.print(f"removed file {result.file_id}; refunded {_eth(refund)} (see `scatter balance`)")


def cancel_command(
    bid_id: int = typer.Argument(..., help="The bid."),
    slot: list[int] | None = typer.Option(None, help="Only this slot (repeat); default: every open slot."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Cancel open (unfilled or reopened) slots of your bid; their escrow is credited to you.

    A slot a hoster reserved (it is receiving the content) can be cancelled once
    the reservation expired; without --slot such slots are left and listed. An
    unfinished upload of the bid can no longer finish: its local copy of the
    encoded shards (.scatter/uploads) is deleted.

    Examples:
      scatter cancel 12
      scatter cancel 12 --slot 4 --slot 5
    """
    result = _sdk(rpc_url, dev_account).cancel(bid_id, slot or None)
    if json_out:
        emit_json(result.to_json())
        return
    console.print(
        f"bid {bid_id}: cancelled slots {list(result.cancelled_slots)}, refunded {_eth(result.refund)}; "
        "`scatter withdraw` sends it to your wallet"
    )
    if result.reserved_slots:
        console.print(f"  slots {list(result.reserved_slots)} are reserved by hosters: cancel them later")
    _print_withdrawn(result)


def _print_withdrawn(result: CancelResult) -> None:
    if result.withdrawn_file is not None:
        console.print(
            f"  took back the entry of file {result.withdrawn_file} that the unfinished upload recorded: "
            "its bid stores nothing"
        )


def extend_command(
    ref: str | None = typer.Argument(None, help="File id or name (its current version's bid)."),
    duration: str = typer.Option(..., help="How much longer: 12h, 30d..."),
    bid: int | None = typer.Option(None, help="Extend this bid instead of a file's."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Pay to add epochs to the open slots of a file's (or a bid's) bid.

    Only open, unreserved slots grow: a filled deal's end is fixed when it is
    filled (it changes only with its hoster's signature, extendDeal, which this
    command does not collect). Extend a bid while slots wait for hosters, or
    upload again to store a file longer than its deals run.

    Examples:
      scatter extend 7 --duration 30d
      scatter extend --bid 12 --duration 12h --json
    """
    from scatter.errors import ScatterValueError

    sdk = _sdk(rpc_url, dev_account)
    if bid is not None:
        result = sdk.extend(bid, duration)
    elif ref is not None:
        result = sdk.extend_file(ref, duration)
    else:
        raise ScatterValueError("give a file id or name, or --bid N")
    if json_out:
        emit_json(result.to_json())
        return
    console.print(
        f"bid {result.bid_id}: +{result.extra_epochs} epochs on open slots {list(result.slots)}, "
        f"paid {_eth(result.paid)}"
    )
    if result.unchanged_deals:
        console.print(f"  live deals {list(result.unchanged_deals)} keep the end fixed at their fill")


def share_command(
    ref: str = typer.Argument(..., help="File id or name."),
    base: str = typer.Option("scatter:file", help="scatter:file, or the https URL of a Scatter dapp."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Print a link that lets anyone fetch and decrypt this one file (the key is in the #fragment).

    Examples:
      scatter share 7
      scatter download "$(scatter share 7)" -o copy.bin
    """
    link = _sdk(rpc_url, dev_account).share(ref, base=base)
    if json_out:
        emit_json({"link": link})
    else:
        console.print(link, soft_wrap=True, markup=False)


def watch_command(
    directory: Path = typer.Argument(..., help="The directory to back up."),
    interval: str = typer.Option("10s", help="Time between scans."),
    once: bool = typer.Option(False, help="One pass, then exit."),
    shards: str | None = typer.Option(None, help="Erasure coding k/n (default 3/6)."),
    duration: str = typer.Option("30d", help="How long each version is stored."),
    price: str | None = typer.Option(None, help=PRICE_HELP),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON line per file handled."),
) -> None:
    """Back up a directory: upload new files, keep versions of changed ones, skip unchanged ones.

    Stops with Ctrl-C; a restart carries on where it stopped.

    Examples:
      scatter watch ~/Documents
      scatter watch ./backup --once --json
    """
    import json

    sdk = _sdk(rpc_url, dev_account)
    events = sdk.watch(
        directory,
        interval=_seconds(interval),
        once=once,
        shards=shards,
        duration=duration,
        price=price,
        reporter=CliReporter(json_out),
    )
    try:
        with _price_warnings():
            for ev in events:
                if json_out:
                    print(json.dumps(ev.to_json(), sort_keys=True), flush=True)
                else:
                    console.print(f"{ev.action:12} {ev.path}  file {ev.file_id}  {ev.detail}")
    except KeyboardInterrupt:
        err_console.print("stopped")


def balance_command(
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the balances as JSON (wei)."),
) -> None:
    """Show ETH in your wallet, ETH the Market holds for you (withdrawable), and escrow in your bids.

    Examples:
      scatter balance
      scatter balance --dev-account 10 --json
    """
    b = _sdk(rpc_url, dev_account).balance()
    if json_out:
        emit_json(b.to_json())
        return
    console.print(f"account       {b.address}")
    console.print(f"wallet        {_eth(b.wallet)}")
    console.print(f"withdrawable  {_eth(b.withdrawable)}")
    console.print(f"in escrow     {_eth(b.escrow)}")


def withdraw_command(
    to: str | None = typer.Option(None, help="Send to this address (default: your account)."),
    rpc_url: str | None = typer.Option(None, help=RPC_HELP),
    dev_account: int | None = typer.Option(None, help=DEV_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Withdraw everything the Market credited to you (refunds, earnings, slashes).

    Examples:
      scatter withdraw
      scatter withdraw --to 0xYourColdWallet --json
    """
    result = _sdk(rpc_url, dev_account).withdraw(to)
    if json_out:
        emit_json(result.to_json())
        return
    console.print(f"withdrew {_eth(result.amount)} to {result.to} (tx {result.tx_hash})")


def register(app: typer.Typer) -> None:
    for name, fn in (
        ("upload", upload_command),
        ("download", download_command),
        ("pin", pin_command),
        ("ls", ls_command),
        ("status", status_command),
        ("rm", rm_command),
        ("cancel", cancel_command),
        ("extend", extend_command),
        ("share", share_command),
        ("watch", watch_command),
        ("balance", balance_command),
        ("withdraw", withdraw_command),
    ):
        app.command(name)(fn)
