"""``dicomfs watch ROOT`` and ``dicomfs watch INBOX --into ROOT|URL``: run until SIGINT/SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from dicomfs.cli.options import auth_options, open_location, output_options, settings
from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.runner import InboxHandler, IndexKeeper, WatchOptions, run
from dicomfs.watch.sync import DEFAULT_SETTLE

__all__ = ["command", "stop_on_signals"]


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Printer:
    def __init__(self, as_json: bool, verbose: int) -> None:
        self.as_json = as_json
        self.verbose = verbose
        self.counts: dict[str, int] = {}

    def __call__(self, event: WatchEvent) -> None:
        self.counts[event.action] = self.counts.get(event.action, 0) + 1
        if event.action == "retry" and not self.verbose:
            return
        if self.as_json:
            record = {"time": round(time.time(), 3), "action": event.action, "path": event.path,
                      "reason": event.reason, "sop_instance_uid": event.sop_instance_uid}
            click.echo(json.dumps(record, sort_keys=True))
            return
        line = f"{time.strftime('%H:%M:%S')} {event.action:<9} {event.path}"
        if event.reason:
            line += f": {event.reason}"
        click.echo(line)


@click.command("watch")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--into", "into", metavar="ROOT|URL", default=None,
              help="Ingest files dropped into FOLDER into this store (a folder or a server), "
                   "removing them from FOLDER once stored.")
@click.option("--poll", is_flag=True,
              help="Poll for changes instead of native events (network file systems).")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=1.0,
              show_default=True, metavar="SECONDS", help="Seconds between polls.")
@click.option("--settle", type=click.FloatRange(min=0.0), default=DEFAULT_SETTLE,
              show_default=True, metavar="SECONDS",
              help="How long a file's size and mtime must stay unchanged to count as complete "
                   "(a file closed by its writer counts at once).")
@click.option("--db", metavar="URL", default=None,
              help="Index database URL of the local store (default ROOT/.dicomfs/index.sqlite).")
@auth_options
@output_options
def command(folder: Path, into: str | None, poll: bool, poll_interval: float, settle: float,
            db: str | None) -> None:
    """Keep a store's index in sync as files come and go, or ingest an inbox into a store.

    `dicomfs watch ROOT` indexes files added, modified or moved into ROOT and drops those
    deleted or moved away. `dicomfs watch INBOX --into ROOT` stores each complete file dropped
    into INBOX, then deletes it from INBOX; files that are not DICOM or that the store refuses
    go to INBOX/.rejected/ with a .reason file beside each. Both first catch up with what
    changed while nothing watched, print one line per file, and run until Ctrl-C or SIGTERM
    (exit code 0). `.dicomfs/`, `.rejected/`, hidden and temporary files are ignored.

    \b
    Examples:
      dicomfs watch my-store
      dicomfs watch ~/incoming --into my-store
      dicomfs watch /mnt/share/incoming --into http://pacs.local/dicom-web --poll
    """
    current = settings()
    current.db = db
    printer = _Printer(current.json, current.verbose)
    options = WatchOptions(poll=poll, poll_interval=poll_interval, settle=settle)
    stop = threading.Event()
    if into is None:
        from dicomfs.file.client import DICOMfileClient

        client = open_location(str(folder), current)
        assert isinstance(client, DICOMfileClient)
        handler: IndexKeeper | InboxHandler = IndexKeeper(client, printer)
        what = f"watching {folder} (index: {client.location.display})"
    else:
        target = open_location(into, current, create=True)
        if not into.startswith(("http://", "https://")) and _same(Path(into), folder):
            raise click.UsageError("--into must be another folder than the inbox")
        handler = InboxHandler(folder, target, printer)
        what = f"watching {folder}, storing into {into}"
    click.echo(f"{what}; Ctrl-C to stop", err=True)  # stderr: --json lines stay alone on stdout
    with stop_on_signals(stop):
        run(folder, handler, stop, options)
    summary = ", ".join(f"{n} {action}" for action, n in sorted(printer.counts.items()))
    click.echo(f"stopped ({summary or 'nothing to do'})", err=True)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
