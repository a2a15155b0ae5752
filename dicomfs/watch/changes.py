"""File-system changes as plain values, and the filter of noise the watcher never acts on.

A :class:`Change` is what the observer (``observer.py``) hands to the reconciliation logic
(``sync.py``): a kind, a path relative to the watched folder (POSIX), and for a move its
destination. Paths are relative so that the logic can be fed scripted batches in tests.

>>> is_noise("a/b/IM0001")
False
>>> is_noise(".dicomfs/index.sqlite")
True
>>> is_noise("scans/.IM0001.swp")
True
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from dicomfs.storage.names import IGNORED_DIRECTORIES, NOISE_PATTERNS, is_noise_name

__all__ = [
    "IGNORED_DIRECTORIES",
    "NOISE_PATTERNS",
    "REJECTED_DIR",
    "STORE_DIR",
    "Change",
    "ChangeKind",
    "WatchEvent",
    "is_noise",
    "relevant",
]

#: The store's own folder (index, locks, temporary files): never indexed or watched.
STORE_DIR = ".dicomfs"
#: Where the inbox watcher moves files it cannot ingest.
REJECTED_DIR = ".rejected"


class ChangeKind(enum.Enum):
    """What happened to a path."""

    CREATED = "created"
    MODIFIED = "modified"
    CLOSED = "closed"  # a writer closed the file (inotify IN_CLOSE_WRITE): it may be complete
    DELETED = "deleted"
    MOVED = "moved"


@dataclass(frozen=True)
class Change:
    """One file-system change, relative to the watched folder.

    Attributes
    ----------
    kind: ChangeKind
        What happened.
    path: str
        POSIX path relative to the watched folder (the source, for a move).
    dest: str or None
        For a move: the destination, relative to the watched folder, or ``None`` when the
        destination is outside it (then the move is a deletion).
    is_dir: bool
        The path is a directory.
    """

    kind: ChangeKind
    path: str
    dest: str | None = None
    is_dir: bool = False

    def __post_init__(self) -> None:
        for value in (self.path, self.dest):
            if value is None:
                continue
            # PurePosixPath(value).is_absolute() or ".." in its parts, without making the path
            # (a burst of copies brings thousands of changes a second).
            if value.startswith("/") or ".." in value.split("/"):
                raise ValueError(f"change paths must be relative and inside the folder: {value!r}")


@dataclass(frozen=True)
class WatchEvent:
    """What the watcher did with one file (reported to the command line, one line each).

    Attributes
    ----------
    action: {"caught-up", "indexed", "removed", "stored", "rejected", "retry"}
        The start-up sync of an index (``path`` is ``"."``, ``reason`` its counts), indexed (or
        re-indexed) in place, dropped from the index, stored into the target
        store and removed from the inbox, refused (moved to ``.rejected/`` for an inbox), or
        kept for another try.
    path: str
        The file, relative to the watched folder (POSIX).
    reason: str
        One line: why it was rejected or retried (empty otherwise).
    sop_instance_uid: str or None
        The instance's SOP Instance UID, when known.
    """

    action: str
    path: str
    reason: str = ""
    sop_instance_uid: str | None = None


@functools.lru_cache(maxsize=8192)
def is_noise(relpath: str) -> bool:
    """Tell whether a relative path is never acted upon.

    Parameters
    ----------
    relpath: str
        POSIX path relative to the watched folder.

    Returns
    -------
    bool
        True for anything inside an ignored folder (``.dicomfs/``, ``.rejected/``, VCS folders)
        and for editor, copy-tool and desktop temporary files.
    """
    parts = PurePosixPath(relpath).parts
    if not parts or parts == (".",):
        return True
    if any(part in IGNORED_DIRECTORIES for part in parts[:-1]):
        return True
    return is_noise_name(parts[-1])


def relevant(changes: Iterable[Change]) -> list[Change]:
    """Drop noise from a batch of changes; a move is kept when either end is relevant.

    A move from a noise name to a relevant one (a copy tool renaming ``.IM1.part`` to ``IM1``)
    becomes a creation of the destination; a move from a relevant name to a noise one becomes a
    deletion of the source.

    Parameters
    ----------
    changes: iterable of Change
        A batch in the order it happened.

    Returns
    -------
    list of Change
        The changes worth acting on, in order.
    """
    out: list[Change] = []
    for change in changes:
        if change.kind is ChangeKind.MOVED:
            src_ok = not is_noise(change.path)
            dest_ok = change.dest is not None and not is_noise(change.dest)
            if src_ok and dest_ok:
                out.append(change)
            elif dest_ok:
                assert change.dest is not None
                out.append(Change(ChangeKind.CREATED, change.dest, is_dir=change.is_dir))
            elif src_ok:
                out.append(Change(ChangeKind.DELETED, change.path, is_dir=change.is_dir))
        elif not is_noise(change.path):
            out.append(change)
    return out

