"""The watch loop: observer -> :func:`reconcile` -> a handler, until asked to stop.

Two handlers exist: :class:`IndexKeeper` keeps a store's own index in sync with its tree
(``dicomfs watch ROOT``), and :class:`InboxHandler` ingests an inbox into a store
(``dicomfs watch INBOX --into ROOT``). Both first catch up with what happened while nothing
was watching (a full reconcile), then act on batches of changes.

The observer is started *before* the catch-up, so a change made during the catch-up is seen
too (handlers are idempotent: a file seen twice is handled once more at worst, never lost).

The inbox handler stores in a worker thread (:mod:`dicomfs.watch.pipeline`) while the loop goes
on reading the files that become complete; each round of the loop first folds back what the
worker finished (:meth:`Handler.collect`), and :func:`run` closes the handler (joining the
worker) before it returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dicomfs.file.client import DICOMfileClient
from dicomfs.index.records import InstanceRecord
from dicomfs.protocol import DICOMClient
from dicomfs.storage import atomic, scan
from dicomfs.watch.changes import Change, WatchEvent
from dicomfs.watch.ingest import Inbox
from dicomfs.watch.observer import FolderObserver
from dicomfs.watch.pipeline import DEFAULT_MAX_BYTES, DEFAULT_MAX_COUNT, InboxPipeline
from dicomfs.watch.sync import (
    DEFAULT_SETTLE,
    Filesystem,
    LocalFilesystem,
    Plan,
    WatchState,
    initial_changes,
    reconcile,
)

__all__ = ["Handler", "InboxHandler", "IndexKeeper", "WatchOptions", "run"]


@dataclass(frozen=True)
class WatchOptions:
    """How the loop watches.

    Attributes
    ----------
    poll: bool
        Poll directory snapshots instead of native events (network file systems).
    poll_interval: float
        Seconds between snapshots when polling.
    settle: float
        Seconds a file's size and mtime must stay unchanged (when no close event is seen).
    tick: float
        Longest wait for events before pending files are looked at again (and the stop
        request is checked).
    """

    poll: bool = False
    poll_interval: float = 1.0
    settle: float = DEFAULT_SETTLE
    tick: float = 0.2

    def __post_init__(self) -> None:
        if self.poll_interval <= 0 or self.tick <= 0 or self.settle < 0:
            raise ValueError(f"invalid watch options: {self}")


class Handler(Protocol):
    """What the loop drives."""

    def catch_up(self) -> list[Change]:
        """Reconcile with the folder as it is now; return changes to feed the first batch."""

    def apply(self, plan: Plan, state: WatchState, now: float) -> None:
        """Act on a plan (may put files back into ``state`` to retry them)."""

    def collect(self, state: WatchState, now: float) -> None:
        """Fold work finished in the background back into ``state`` (each round, before
        :func:`reconcile`); raise what the background work raised."""

    def close(self) -> None:
        """Finish or abandon background work and join its threads (when the loop ends)."""


class IndexKeeper:
    """Keeps a local store's index in sync with its tree, file by file.

    The catch-up is an incremental sync of the whole tree (what changed while nothing
    watched); afterwards only the files of each plan are read, under the store's writer lock:
    complete files are (re)indexed or recorded as rejected, vanished files and folders are
    dropped.

    Parameters
    ----------
    client: DICOMfileClient
        The store.
    report: callable, optional
        Called with a :class:`WatchEvent` per file indexed, rejected or removed.
    """

    def __init__(
        self, client: DICOMfileClient, report: Callable[[WatchEvent], None] | None = None
    ) -> None:
        self.client = client
        self.root = client.ctx.root
        self.repo = client.ctx.repo
        self.report = report or (lambda event: None)

    def catch_up(self) -> list[Change]:
        result = self.client.sync()
        self.report(WatchEvent("caught-up", ".", str(result)))
        return []

    def apply(self, plan: Plan, state: WatchState, now: float) -> None:
        if not plan:
            return
        fs = LocalFilesystem(self.root)
        events: list[WatchEvent] = []
        with atomic.write_lock(self.root):
            gone = [p for p in plan.removed if fs.stat(p) is None]
            if plan.removed_dirs:
                prefixes = tuple(d.rstrip("/") + "/" for d in plan.removed_dirs)
                gone += [p for p in self.repo.file_states() if p.startswith(prefixes)]
            gone = sorted({_shown(p) for p in gone})
            self.repo.remove_paths(gone)
            events += [WatchEvent("removed", p) for p in gone]
            records: list[InstanceRecord] = []
            for relpath in plan.ready:
                if _shown(relpath) != relpath:  # the index keys paths by UTF-8 text (as sync)
                    stat = fs.stat(relpath)
                    if stat is not None:
                        shown, reason = _shown(relpath), "name is not valid UTF-8: not indexed"
                        self.repo.reject(shown, stat.size, stat.mtime_ns, reason)
                        events.append(WatchEvent("rejected", shown, reason))
                    continue
                result = scan.read_file(self.root, relpath)
                if isinstance(result, InstanceRecord):
                    records.append(result)
                    continue
                stat = fs.stat(relpath)
                if stat is not None:
                    self.repo.reject(relpath, stat.size, stat.mtime_ns, result.reason)
                    events.append(WatchEvent("rejected", relpath, result.reason))
            duplicates = {r.path: r.reason for r in self.repo.upsert(records)}
        for record in records:
            if record.path in duplicates:
                events.append(WatchEvent("rejected", record.path, duplicates[record.path],
                                         record.sop_instance_uid))
            else:
                events.append(WatchEvent("indexed", record.path, "", record.sop_instance_uid))
        for event in events:
            self.report(event)

    def collect(self, state: WatchState, now: float) -> None:
        """Nothing runs in the background in index mode."""

    def close(self) -> None:
        """Nothing runs in the background in index mode."""


def _shown(relpath: str) -> str:
    """A path as the index keys it: bytes that are not UTF-8 escaped as ``\\xNN``."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class InboxHandler:
    """Ingests complete inbox files into a store (see :class:`dicomfs.watch.ingest.Inbox`).

    Complete files are read in the loop's thread and stored by a worker thread in batches:
    everything read while the previous batch was being stored goes into the next
    ``store_instances`` call (:class:`dicomfs.watch.pipeline.InboxPipeline`). :func:`run` calls
    :meth:`close`; whoever drives the handler otherwise must call it too.

    Parameters
    ----------
    folder: Path
        The inbox.
    target: DICOMClient
        The store receiving the instances.
    report: callable, optional
        Called with each :class:`WatchEvent` (from the loop's or the worker's thread, one call
        at a time).
    batch_size: int
        Most instances per ``store_instances`` call.
    max_bytes: int
        Most bytes of files per ``store_instances`` call, and read ahead of the store.
    """

    def __init__(
        self,
        folder: Path,
        target: DICOMClient,
        report: Callable[[WatchEvent], None] | None = None,
        *,
        batch_size: int = DEFAULT_MAX_COUNT,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.inbox = Inbox(folder, target, batch_size=batch_size)
        self.pipeline = InboxPipeline(self.inbox, report, max_count=batch_size,
                                      max_bytes=max_bytes)

    def catch_up(self) -> list[Change]:
        return initial_changes(self.inbox.fs)

    def apply(self, plan: Plan, state: WatchState, now: float) -> None:
        if plan.ready:
            self.pipeline.apply(plan, state, now)

    def collect(self, state: WatchState, now: float) -> None:
        self.pipeline.collect(state, now)

    def close(self) -> None:
        self.pipeline.close()


def run(
    folder: Path,
    handler: Handler,
    stop: threading.Event,
    options: WatchOptions | None = None,
    *,
    started: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Watch ``folder`` and drive ``handler`` until ``stop`` is set.

    Parameters
    ----------
    folder: Path
        The folder to watch.
    handler: Handler
        :class:`IndexKeeper` or :class:`InboxHandler`.
    stop: threading.Event
        Set it (from a signal handler or another thread) to end the loop; the batch being
        stored is finished, then the observer's and the handler's threads are joined before
        returning.
    options: WatchOptions, optional
        Polling, settle time, tick.
    started: threading.Event, optional
        Set once the observer runs and the catch-up is done.
    clock: callable
        Monotonic clock in seconds.
    """
    options = options or WatchOptions()
    folder = Path(folder)
    # The handler's view of the folder when it has one (an inbox also sees links and FIFOs).
    fs: Filesystem = getattr(getattr(handler, "inbox", None), "fs", None) or LocalFilesystem(folder)
    state = WatchState()
    with FolderObserver(folder, poll=options.poll, poll_interval=options.poll_interval) as obs:
        try:
            batch = handler.catch_up()
            if started is not None:
                started.set()
            while not stop.is_set():
                handler.collect(state, clock())
                plan = reconcile(state, batch, clock(), fs, options.settle)
                if plan:
                    handler.apply(plan, state, clock())
                batch = obs.next_batch(timeout=options.tick)
        finally:
            handler.close()
