"""Verify a store's index against its tree, and repair what a crash or an outside change left.

:func:`check` only looks (it writes nothing, so it works on read-only stores);
:func:`repair` removes stale temporary files and tombstones of crashed writers, then runs an
incremental :func:`~dicomfs.storage.scan.sync`, which adds files missing from the index, drops
rows whose file is gone and re-reads files whose size or mtime changed. ``dicomfs check ROOT
[--repair]`` is the command-line face of both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dicomfs.index.records import SyncReport
from dicomfs.storage import atomic

if TYPE_CHECKING:
    from dicomfs.index.repository import Repository

__all__ = ["CheckReport", "RepairReport", "check", "repair"]


@dataclass
class CheckReport:
    """Where the index and the tree disagree. Every path is POSIX, relative to the root, sorted.

    Attributes
    ----------
    not_indexed: list of str
        Files in the tree the index has never seen.
    missing_files: list of str
        Files the index knows (indexed or rejected) that are gone from the tree.
    changed: list of str
        Files whose size or modification time differ from the index's.
    stale_temporaries: list of str
        Temporary files and tombstones left by writers that are gone.
    active_temporaries: list of str
        Temporary files of writers still running (not a problem; never removed).
    files: int
        Regular files in the tree (temporaries excluded).
    """

    not_indexed: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    stale_temporaries: list[str] = field(default_factory=list)
    active_temporaries: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        """True when the index and the tree agree and no stale temporary file is left."""
        return self.problems() == 0

    def problems(self) -> int:
        """Number of disagreements found."""
        return (
            len(self.not_indexed)
            + len(self.missing_files)
            + len(self.changed)
            + len(self.stale_temporaries)
        )

    def __str__(self) -> str:
        return (
            f"{self.files} files: {len(self.not_indexed)} not indexed, "
            f"{len(self.missing_files)} missing, {len(self.changed)} changed, "
            f"{len(self.stale_temporaries)} stale temporary files"
        )


@dataclass
class RepairReport:
    """What :func:`repair` found and did.

    Attributes
    ----------
    before: CheckReport
        The check before repairing.
    removed_temporaries: list of str
        Stale temporary files and tombstones removed.
    sync: SyncReport
        What the incremental sync did.
    after: CheckReport
        The check after repairing (``after.ok`` unless the tree changed meanwhile).
    """

    before: CheckReport
    removed_temporaries: list[str]
    sync: SyncReport
    after: CheckReport


def check(root: Path, repo: Repository, *, max_age: float = atomic.DEFAULT_MAX_AGE) -> CheckReport:
    """Compare the tree under ``root`` with its index (reads only).

    Parameters
    ----------
    root: Path
        The store's root folder.
    repo: Repository
        Its index.
    max_age: float
        A temporary file older than this many seconds is stale even if its writer seems alive.

    Returns
    -------
    CheckReport
        The disagreements; ``report.ok`` when there are none.
    """
    from dicomfs.storage.scan import walk

    root = Path(root)
    on_disk, special = walk(root)
    known = repo.file_states()
    special_paths = {rejection.path for rejection, *_ in special}
    report = CheckReport(files=len(on_disk))
    report.not_indexed = sorted(p for p in on_disk if p not in known)
    report.missing_files = sorted(p for p in known if p not in on_disk and p not in special_paths)
    report.changed = sorted(
        p for p, (size, mtime) in on_disk.items()
        if p in known and known[p][:2] != (size, mtime)
    )
    for path in atomic.iter_temporaries(root):
        relpath = path.relative_to(root).as_posix()
        if atomic.is_stale_temporary(path, max_age=max_age):
            report.stale_temporaries.append(relpath)
        else:
            report.active_temporaries.append(relpath)
    report.stale_temporaries.sort()
    report.active_temporaries.sort()
    return report


def repair(
    root: Path,
    repo: Repository,
    *,
    workers: int | None = None,
    progress: bool = False,
    max_age: float = atomic.DEFAULT_MAX_AGE,
) -> RepairReport:
    """Bring the index and the tree back into agreement (never removes a DICOM file).

    Parameters
    ----------
    root: Path
        The store's root folder (must be writable).
    repo: Repository
        Its index.
    workers: int, optional
        Reader processes for the sync (see :func:`dicomfs.storage.scan.sync`).
    progress: bool
        Show a progress bar while reading files.
    max_age: float
        See :func:`check`.

    Returns
    -------
    RepairReport
        The check before, the temporary files removed, the sync's report and the check after.
    """
    from dicomfs.storage.scan import sync

    root = Path(root)
    before = check(root, repo, max_age=max_age)
    with atomic.write_lock(root):
        removed = atomic.cleanup_temporaries(root, max_age=max_age)
        report = sync(root, repo, workers=workers, progress=progress)
    after = check(root, repo, max_age=max_age)
    return RepairReport(
        before=before,
        removed_temporaries=sorted(p.relative_to(root).as_posix() for p in removed),
        sync=report,
        after=after,
    )
