"""The watcher's reconciliation logic: a plain function fed batches of changes.

:func:`reconcile` takes the state kept between batches, one batch of :class:`Change` values
(possibly empty: time passing is enough to make a file complete), the current time and a small
file-system interface, and returns a :class:`Plan`: which files are complete and should be acted
upon now, which files and folders are gone. It does no I/O of its own beyond ``fs.stat`` and
``fs.walk``, so tests drive it with scripted batches and a fake file system.

A file is *complete* when either

* a writer closed it (``CLOSED``, inotify's IN_CLOSE_WRITE) and it has not changed since, or
* its size and modification time stayed the same for ``settle`` seconds of observation,

and it is never reported before ``not_before`` when an earlier attempt asked to retry later.
A file renamed into place inside the folder is complete at once (renaming is how careful
writers publish a finished file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from dicomfs.watch.changes import Change, ChangeKind, is_noise, relevant

__all__ = [
    "DEFAULT_SETTLE",
    "FileStat",
    "Filesystem",
    "LocalFilesystem",
    "Pending",
    "Plan",
    "WatchState",
    "initial_changes",
    "reconcile",
]

#: Seconds a file's size and mtime must stay unchanged before it counts as complete.
DEFAULT_SETTLE = 1.0


@dataclass(frozen=True)
class FileStat:
    """What decides whether a file changed: its size and modification time (ns)."""

    size: int
    mtime_ns: int


class Filesystem(Protocol):
    """The two questions :func:`reconcile` asks the file system (relative POSIX paths)."""

    def stat(self, relpath: str) -> FileStat | None:
        """Size and mtime of a regular file, or None when it is missing or not a file."""

    def walk(self, reldir: str) -> Iterable[str]:
        """Every regular file below a folder (``""`` for the whole tree), noise excluded."""


class LocalFilesystem:
    """:class:`Filesystem` over a real folder.

    Parameters
    ----------
    root: Path
        The watched folder.
    """

    def __init__(self, root: Path, *, special_files: bool = False) -> None:
        self.root = Path(root)
        #: Also report symbolic links, FIFOs, sockets and devices (an inbox moves them aside;
        #: an index has nothing to do with them).
        self.special_files = special_files

    def stat(self, relpath: str) -> FileStat | None:
        try:
            st = os.stat(self.root / relpath, follow_symlinks=False)
        except OSError:
            return None
        if not _is_regular(st.st_mode) and not (
            self.special_files and not _is_directory(st.st_mode)
        ):
            return None
        return FileStat(st.st_size, st.st_mtime_ns)

    def walk(self, reldir: str) -> Iterator[str]:
        top = self.root / reldir if reldir else self.root
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = PurePosixPath(Path(dirpath).relative_to(self.root).as_posix())
            dirnames[:] = sorted(d for d in dirnames if not is_noise(str(rel_dir / d)))
            for name in sorted(filenames):
                rel = str(rel_dir / name) if str(rel_dir) != "." else name
                if not is_noise(rel):
                    yield rel


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _is_directory(mode: int) -> bool:
    import stat

    return stat.S_ISDIR(mode)


@dataclass
class Pending:
    """A file seen changing and not yet reported complete.

    Attributes
    ----------
    stat: FileStat
        Its size and mtime when last observed.
    since: float
        When that stat was first observed.
    closed: bool
        A writer closed the file while it had this stat.
    not_before: float
        Not reported complete before this time (a retry was asked for).
    """

    stat: FileStat
    since: float
    closed: bool = False
    not_before: float = 0.0


@dataclass
class WatchState:
    """What :func:`reconcile` remembers between batches: the files not complete yet."""

    pending: dict[str, Pending] = field(default_factory=dict)

    def retry(self, relpath: str, stat: FileStat, now: float, delay: float) -> None:
        """Put a file back, to be reported again ``delay`` seconds from ``now`` if unchanged.

        Parameters
        ----------
        relpath: str
            The file, relative to the watched folder.
        stat: FileStat
            Its stat when the attempt was made.
        now, delay: float
            The current time and the wait before the next report.
        """
        self.pending[relpath] = Pending(stat, now, closed=True, not_before=now + delay)


@dataclass
class Plan:
    """What to do after a batch.

    Attributes
    ----------
    ready: list of str
        Complete files to act upon now (ingest, or (re)index), sorted.
    removed: list of str
        Files that are gone (drop them from an index), in order of the changes.
    removed_dirs: list of str
        Folders that are gone with everything below them.
    """

    ready: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    removed_dirs: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ready or self.removed or self.removed_dirs)


def initial_changes(fs: Filesystem) -> list[Change]:
    """The batch that catches up with a folder after a (re)start: every file, as created.

    Parameters
    ----------
    fs: Filesystem
        The watched folder.

    Returns
    -------
    list of Change
        One ``CREATED`` change per file (noise excluded), sorted by path.
    """
    return [Change(ChangeKind.CREATED, path) for path in sorted(fs.walk(""))]


def reconcile(
    state: WatchState,
    changes: Iterable[Change],
    now: float,
    fs: Filesystem,
    settle: float = DEFAULT_SETTLE,
) -> Plan:
    """Fold one batch of changes into the state and say which files are complete.

    Parameters
    ----------
    state: WatchState
        Kept by the caller between calls; updated in place.
    changes: iterable of Change
        The batch, in the order the changes happened (may be empty).
    now: float
        The current time (any monotonic clock, in seconds).
    fs: Filesystem
        Used to stat files and to list folders that appeared.
    settle: float
        Seconds a file must stay unchanged to be complete when no close was seen.

    Returns
    -------
    Plan
        Complete files (removed from the state: the caller acts on them, and calls
        :meth:`WatchState.retry` to see one again), and what is gone.
    """
    if settle < 0:
        raise ValueError(f"settle must be >= 0, got {settle}")
    plan = Plan()
    # One stat per file and call: a burst of writes brings many events per file, and the answers
    # would all be the same moment's anyway.
    fs = _StatOnce(fs)
    for change in relevant(changes):
        _apply(state, change, now, fs, plan)
    for relpath in sorted(state.pending):
        pending = state.pending[relpath]
        current = fs.stat(relpath)
        if current is None:
            del state.pending[relpath]
            plan.removed.append(relpath)
            continue
        if current != pending.stat:
            state.pending[relpath] = Pending(current, now, not_before=pending.not_before)
            continue
        if now < pending.not_before:
            continue
        if pending.closed or now - pending.since >= settle:
            del state.pending[relpath]
            plan.ready.append(relpath)
    return plan


class _StatOnce:
    """A :class:`Filesystem` that stats each path once (within one :func:`reconcile` call)."""

    def __init__(self, fs: Filesystem) -> None:
        self.fs = fs
        self.stats: dict[str, FileStat | None] = {}

    def stat(self, relpath: str) -> FileStat | None:
        try:
            return self.stats[relpath]
        except KeyError:
            current = self.stats[relpath] = self.fs.stat(relpath)
            return current

    def walk(self, reldir: str) -> Iterable[str]:
        return self.fs.walk(reldir)


def _apply(state: WatchState, change: Change, now: float, fs: Filesystem, plan: Plan) -> None:
    kind = change.kind
    if kind is ChangeKind.DELETED:
        if change.is_dir:
            _forget_below(state, change.path)
            plan.removed_dirs.append(change.path)
        else:
            state.pending.pop(change.path, None)
            plan.removed.append(change.path)
    elif kind is ChangeKind.MOVED:
        if change.is_dir:
            _forget_below(state, change.path)
            plan.removed_dirs.append(change.path)
            if change.dest is not None:
                for relpath in fs.walk(change.dest):
                    _observe(state, relpath, now, fs, plan, complete=True)
        else:
            state.pending.pop(change.path, None)
            plan.removed.append(change.path)
            if change.dest is not None:
                _observe(state, change.dest, now, fs, plan, complete=True)
    elif change.is_dir:
        if kind is ChangeKind.CREATED:
            for relpath in fs.walk(change.path):
                _observe(state, relpath, now, fs, plan, complete=False)
    else:
        _observe(state, change.path, now, fs, plan, complete=kind is ChangeKind.CLOSED)


def _observe(
    state: WatchState, relpath: str, now: float, fs: Filesystem, plan: Plan, *, complete: bool
) -> None:
    current = fs.stat(relpath)
    if current is None:
        # Gone already (or not a regular file): nothing to wait for. It may have been
        # indexed under that name earlier, so report it as removed.
        state.pending.pop(relpath, None)
        plan.removed.append(relpath)
        return
    previous = state.pending.get(relpath)
    if previous is not None and previous.stat == current:
        # A close completes the file; a write event after a close means it is being written
        # again (inotify reports writes before the close that ends them).
        previous.closed = complete
        return
    not_before = previous.not_before if previous is not None else 0.0
    state.pending[relpath] = Pending(current, now, closed=complete, not_before=not_before)


def _forget_below(state: WatchState, reldir: str) -> None:
    prefix = reldir.rstrip("/") + "/"
    for relpath in [p for p in state.pending if p.startswith(prefix)]:
        del state.pending[relpath]
