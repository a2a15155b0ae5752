"""The only module that imports watchdog: it turns watchdog events into :class:`Change` batches.

:class:`FolderObserver` watches a folder recursively with the platform's native API (inotify,
FSEvents, ReadDirectoryChangesW) or, with ``poll=True``, by comparing directory snapshots every
``poll_interval`` seconds (for network file systems, where native events do not arrive).
Events are queued by watchdog's thread; :meth:`FolderObserver.next_batch` hands them over.
"""

from __future__ import annotations

import os
import queue
from pathlib import Path
from types import TracebackType

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from dicomfs.watch.changes import Change, ChangeKind

__all__ = ["FolderObserver"]

_KINDS = {
    "created": ChangeKind.CREATED,
    "modified": ChangeKind.MODIFIED,
    "closed": ChangeKind.CLOSED,
    "deleted": ChangeKind.DELETED,
    "moved": ChangeKind.MOVED,
}


#: The events acted upon (:data:`_KINDS`); the others (opened, closed without writing, attribute
#: changes, a folder's "modified" for each file made in it) are not even asked of the system:
#: with inotify the mask is made from this list, which roughly halves the events of a burst.
_WANTED: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileMovedEvent,
    DirMovedEvent,
]


class _Handler(FileSystemEventHandler):
    def __init__(self, root: str, sink: queue.SimpleQueue[Change]) -> None:
        self.root = root
        self.sink = sink
        self._prefix = root.rstrip("/") + "/" if os.sep == "/" else None

    def _relative(self, path: bytes | str) -> str | None:
        text = os.fsdecode(path)
        if self._prefix is not None and text.startswith(self._prefix):
            rel = text[len(self._prefix):]
            parts = rel.split("/")
            if "" not in parts and "." not in parts and ".." not in parts:
                return rel  # already what the general case below makes, only faster
        try:
            rel = os.path.relpath(text, self.root)
        except ValueError:  # another drive (Windows)
            return None
        if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
            return None
        return Path(rel).as_posix()

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = _KINDS.get(event.event_type)
        if kind is None:  # opened, closed_no_write: nothing changed
            return
        src = self._relative(event.src_path)
        if kind is ChangeKind.MOVED:
            dest = self._relative(event.dest_path) if event.dest_path else None
            if src is None and dest is None:
                return
            if src is None:
                assert dest is not None
                change = Change(ChangeKind.CREATED, dest, is_dir=event.is_directory)
            else:
                change = Change(kind, src, dest, is_dir=event.is_directory)
        else:
            if src is None:
                return
            change = Change(kind, src, is_dir=event.is_directory)
        self.sink.put(change)


class FolderObserver:
    """Watch a folder recursively; collect its changes into batches.

    Parameters
    ----------
    root: Path
        The folder to watch (must exist).
    poll: bool
        Poll directory snapshots instead of using native events (network file systems).
    poll_interval: float
        Seconds between snapshots when polling.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, FolderObserver(Path(tmp)) as observer:
    ...     batch = observer.next_batch(timeout=0.01)
    >>> batch
    []
    """

    def __init__(self, root: Path, *, poll: bool = False, poll_interval: float = 1.0) -> None:
        root = Path(root)
        if not root.is_dir():
            raise NotADirectoryError(f"not a folder: {root}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval}")
        self.root = root.resolve()
        self.poll = poll
        self._queue: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self._observer: BaseObserver = (
            PollingObserver(timeout=poll_interval) if poll else Observer()
        )
        handler = _Handler(str(self.root), self._queue)
        try:
            self._observer.schedule(handler, str(self.root), recursive=True, event_filter=_WANTED)
        except TypeError:  # a watchdog without event filters: the handler drops the others
            self._observer.schedule(handler, str(self.root), recursive=True)
        self._started = False

    def start(self) -> None:
        """Start watching (watchdog's threads are daemons; :meth:`stop` joins them)."""
        self._observer.start()
        self._started = True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and wait for watchdog's threads to end."""
        if self._started:
            self._observer.stop()
            self._observer.join(timeout)
            self._started = False

    def next_batch(self, timeout: float) -> list[Change]:
        """Wait up to ``timeout`` seconds for a change, then return every change queued.

        Parameters
        ----------
        timeout: float
            Longest wait for the first change, in seconds.

        Returns
        -------
        list of Change
            The changes in the order they happened; ``[]`` when none came in time.
        """
        batch: list[Change] = []
        try:
            batch.append(self._queue.get(timeout=max(timeout, 0.0)))
        except queue.Empty:
            return batch
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return batch

    def __enter__(self) -> FolderObserver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
