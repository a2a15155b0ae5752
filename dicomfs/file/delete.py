"""Delete a study, series or instance from the file store, files and index rows together.

The order makes a crash at any moment heal on the next ``sync``/``dicomfs check --repair``:

1. holding the store's writer lock, rename every file of the instances to a tombstone name
   (``.<name>.dicomfs-del-<pid>-<token>``, never indexed);
2. delete the index rows in one transaction;
3. unlink the tombstones, fsync their folders, and remove folders left empty (never the root
   and never ``.dicomfs``).

A crash after 1 leaves rows whose files are gone and stale tombstones: ``sync`` drops the rows and
the tombstones, so the delete completes. A crash after 2 leaves only stale tombstones. Once
:func:`delete` returns, the files are gone for good (the unlinks are fsynced).

Files of the tree rejected as duplicates of a deleted instance (same SOP Instance UID) are
removed too; otherwise the next ``sync`` would index them and bring the instance back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from dicomfs.errors import BadRequestError, NotFoundError, ReadOnlyError
from dicomfs.file.wado import check_level
from dicomfs.index.models import File
from dicomfs.storage import atomic, layout

if TYPE_CHECKING:
    from dicomfs.file.context import StoreContext

__all__ = ["delete", "remove_empty_folders"]

_DUPLICATE_PREFIX = "duplicate of "
_CHUNK = 900


def delete(
    ctx: StoreContext,
    study: str,
    series: str | None,
    sop: str | None,
    *,
    level: str | None = None,
) -> None:
    """Delete a study (``series`` and ``sop`` None), a series (``sop`` None) or an instance.

    Parameters
    ----------
    ctx: StoreContext
        The store.
    study, series, sop: str or None
        UIDs of what to delete (validated before anything else).
    level: str, optional
        ``"study"``, ``"series"`` or ``"instance"``: what the caller means to delete. A UID the
        level needs must then be given, so that ``delete_series(study, None)`` is an error and
        not the deletion of the whole study. None infers the level from the UIDs given.

    Raises
    ------
    ReadOnlyError
        The store is read-only; nothing is written.
    BadRequestError
        A UID is malformed or missing for ``level``, or ``sop`` is given without ``series``.
    NotFoundError
        Nothing in the index matches.
    """
    if ctx.readonly:
        raise ReadOnlyError("the store is read-only: delete is not allowed")
    check_level(level, series, sop)
    layout.validate_uid(study, "Study Instance UID")
    if series is not None:
        layout.validate_uid(series, "Series Instance UID")
    if sop is not None:
        if series is None:
            raise BadRequestError("an instance is addressed by its study and series")
        layout.validate_uid(sop, "SOP Instance UID")

    with atomic.write_lock(ctx.root):
        stored = ctx.repo.instances(study, series, sop)
        if not stored:
            raise NotFoundError(_not_found(study, series, sop))
        paths = [instance.path for instance in stored]
        duplicates = _duplicate_paths(ctx, [instance.sop_instance_uid for instance in stored])
        tombstones = atomic.tombstone(ctx.root, paths + duplicates)
        try:
            removed = ctx.repo.delete(study, series, sop)
        except NotFoundError:
            # A concurrent sync saw the files gone and dropped the rows: the delete is done.
            removed = []
        except BaseException:
            for original, tomb in tombstones:
                tomb.replace(original)
            raise
        if duplicates:
            ctx.repo.remove_paths(duplicates)
        # Rows another writer added between the listing and the delete (not under our lock).
        late = sorted(set(removed) - set(paths))
        tombstones += atomic.tombstone(ctx.root, late)
        for _original, tomb in tombstones:
            atomic.unlink_quietly(tomb)
        folders = [tomb.parent for _original, tomb in tombstones]
        atomic.fsync_directories(folders)
        remove_empty_folders(ctx.root, folders)


def remove_empty_folders(root: Path, folders: Iterable[Path]) -> list[Path]:
    """Remove each folder and then its parents while they are empty, up to (not including) root.

    ``root`` and anything under ``root/.dicomfs`` are never removed, nor folders outside root.

    Parameters
    ----------
    root: Path
        The store's root.
    folders: iterable of Path
        Folders that may have become empty.

    Returns
    -------
    list of Path
        The folders removed (their parents are fsynced).
    """
    removed: list[Path] = []
    internal = root / layout.INTERNAL_DIR
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        current = folder
        while (
            current != root
            and root in current.parents
            and current != internal
            and internal not in current.parents
            and not current.is_symlink()
        ):
            try:
                os.rmdir(current)
            except OSError:  # not empty, already gone, or not ours to remove
                break
            removed.append(current)
            current = current.parent
    atomic.fsync_directories(p.parent for p in removed)
    return removed


def _duplicate_paths(ctx: StoreContext, sops: Sequence[str]) -> list[str]:
    """Files rejected as duplicates of these SOP Instance UIDs."""
    out: list[str] = []
    with ctx.repo.session() as session:
        for start in range(0, len(sops), _CHUNK):
            chunk = list(sops[start : start + _CHUNK])
            query = select(File.path).where(
                File.sop_instance_uid.in_(chunk),
                File.rejected_reason.like(_DUPLICATE_PREFIX + "%"),
            )
            out.extend(session.execute(query).scalars())
    return sorted(out)


def _not_found(study: str, series: str | None, sop: str | None) -> str:
    if sop is not None:
        return f"instance {sop} of series {series} of study {study} not found"
    if series is not None:
        return f"series {series} of study {study} not found"
    return f"study {study} not found"
