"""Walk a store's tree, read DICOM headers, and keep the index in step with the files.

* :func:`read_file` reads one file (headers only) into an
  :class:`~dicomfs.index.records.InstanceRecord`, or says why it cannot be used
  (:class:`~dicomfs.index.records.Rejection`, one line).
* :func:`sync` brings the index up to date incrementally: only new and changed files (size or
  ``mtime_ns``) are read, removed files are dropped; unchanged files, rejected or not, are not
  read again. Reading runs in a process pool over batches of paths; rows are written in batches
  of a few thousand, one transaction each.

What is walked
--------------
Everything under the root except ``<root>/.dicomfs/``. Symbolic links are never followed: a link
whose target lies inside the root is skipped (the target is indexed under its own path, so
nothing is indexed twice); a link pointing outside the root, a dangling link and a link loop are
rejected with a reason. Other non-regular files (FIFOs, sockets, devices) are rejected too.

Counting in :class:`~dicomfs.index.records.SyncReport`
------------------------------------------------------
Every file in the tree after a sync is in exactly one of ``added`` (new and indexed),
``updated`` (changed and indexed), ``unchanged`` (not read again and still indexed) or
``rejected`` (every file the index cannot use, whether found now or earlier). ``removed``
counts the files (indexed or rejected) the index knew that are gone from the tree.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dicomfs.index.records import InstanceRecord, Rejection, SyncReport
from dicomfs.index.repository import PreparedInstance, Repository
from dicomfs.storage import header
from dicomfs.storage.names import is_noise_name

__all__ = ["DICOMFS_DIR", "read_buffer", "read_file", "sync", "walk"]

#: The folder under the root where dicomfs keeps its own files (never indexed).
DICOMFS_DIR = ".dicomfs"
#: Paths per task handed to a worker process (at most; at least _TASK_MIN).
_TASK = 500
_TASK_MIN = 50
#: Records per write transaction.
_WRITE_BATCH = 2000
#: Below this many files to read, reading happens in this process (a pool costs more).
_POOL_MIN = 200

#: A rejected file, as the index stores it: (rejection, size, mtime_ns, SOP Instance UID).
RejectedFile = tuple[Rejection, int, int, str | None]


def walk(root: Path) -> tuple[dict[str, tuple[int, int]], list[RejectedFile]]:
    """List the regular files under ``root`` (see the module docstring for what is skipped).

    Returns
    -------
    files: dict
        ``relative POSIX path -> (size, mtime_ns)``.
    rejected: list
        Links and special files that cannot be indexed, with their ``lstat`` size and time.
    """
    root = Path(root)
    real_root = os.path.realpath(root)
    files: dict[str, tuple[int, int]] = {}
    rejected: list[RejectedFile] = []
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as entries:
                items = list(entries)
        except OSError as exc:
            if prefix:
                try:
                    st = os.lstat(folder)
                except OSError:  # removed since it was listed: nothing to index
                    continue
                reason = f"unreadable folder: {exc.strerror or exc}"
                rejected.append((Rejection(prefix.rstrip("/"), reason), 0, st.st_mtime_ns, None))
                continue
            raise
        for entry in items:
            relpath = prefix + entry.name
            if not prefix and entry.name == DICOMFS_DIR:
                continue
            if is_noise_name(entry.name):  # temporaries (dicomfs's too), .git, .rejected...
                continue
            if not _is_utf8(entry.name):  # the index keys paths by UTF-8 text
                item = _bad_name_rejection(entry, relpath)
                if item is not None:
                    rejected.append(item)
                continue
            try:
                if entry.is_symlink():
                    link = _symlink_rejection(entry.path, real_root)
                    if link is not None:
                        st = entry.stat(follow_symlinks=False)
                        item = (Rejection(relpath, link), st.st_size, st.st_mtime_ns, None)
                        rejected.append(item)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, relpath + "/"))
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                reason = f"cannot stat: {exc.strerror or exc}"
                rejected.append((Rejection(relpath, reason), 0, 0, None))
                continue
            if stat.S_ISREG(st.st_mode):
                files[relpath] = (st.st_size, st.st_mtime_ns)
            else:
                reason = "not a regular file"
                rejected.append((Rejection(relpath, reason), 0, st.st_mtime_ns, None))
    return files, rejected


def _is_utf8(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (decoded as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_name_rejection(entry: os.DirEntry[str], relpath: str) -> RejectedFile | None:
    """A file or folder whose name is not UTF-8, rejected under a printable (escaped) path."""
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:  # gone since it was listed
        return None
    shown = relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    reason = "name is not valid UTF-8: not indexed"
    return (Rejection(shown, reason), st.st_size, st.st_mtime_ns, None)


def _symlink_rejection(path: str, real_root: str) -> str | None:
    """Why a symlink is rejected, or ``None`` when its target is inside the root (skipped)."""
    try:
        target = Path(path).resolve(strict=True)
    except RuntimeError:
        return "symlink loop: not followed"
    except FileNotFoundError:
        return "broken symlink: target does not exist"
    except OSError as exc:
        if "loop" in str(exc).lower() or exc.errno == 40:
            return "symlink loop: not followed"
        return f"symlink cannot be resolved: {exc.strerror or exc}"
    real = str(target)
    if real == real_root or real.startswith(real_root.rstrip("/") + "/"):
        inside = real[len(real_root) :].lstrip("/")
        if inside == DICOMFS_DIR or inside.startswith(DICOMFS_DIR + "/"):
            return "symlink into the .dicomfs folder: not followed"
        return None
    return "symlink to outside the root: not followed"


def read_file(root: Path, relpath: str) -> InstanceRecord | Rejection:
    """Read one file's headers (not its pixel data) into an index record.

    Parameters
    ----------
    root: Path
        The store's root.
    relpath: str
        POSIX path relative to ``root``.

    Returns
    -------
    InstanceRecord or Rejection
        A record when the file can be indexed, else why not (one line).
    """
    result = _read_quietly(Path(root), relpath)
    if isinstance(result, InstanceRecord):
        return result
    return result[0]


def read_buffer(relpath: str, data: bytes, mtime_ns: int) -> PreparedInstance | Rejection:
    """Like :func:`read_file`, for a file whose content is in memory (STOW reads its own files).

    Parameters
    ----------
    relpath: str
        The file's POSIX path relative to the root.
    data: bytes
        The file's whole content (its size is ``len(data)``).
    mtime_ns: int
        The file's modification time.

    Returns
    -------
    PreparedInstance or Rejection
        The index rows :func:`read_file` gives for the file (as ``Repository.upsert`` takes
        them), or why the file cannot be indexed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = header.read_buffer(relpath, data, mtime_ns)
    return result if isinstance(result, PreparedInstance) else result[0]


def _read_quietly(root: Path, relpath: str) -> InstanceRecord | RejectedFile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return header.read(root, relpath)


Result = PreparedInstance | RejectedFile


def _read_batch(args: tuple[str, Sequence[str]]) -> list[Result]:
    root, paths = args
    base = Path(root)
    return [header.read_prepared(base, path) for path in paths]


def _read_batch_quietly(args: tuple[str, Sequence[str]]) -> list[Result]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read_batch(args)


def _init_worker() -> None:
    warnings.simplefilter("ignore")


def _pool_context() -> Any:
    # fork is cheapest, but unsafe when this process runs other threads.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _workers(workers: int | None) -> int:
    return workers if workers is not None else (os.cpu_count() or 1)


def _read_all(root: Path, paths: Sequence[str], workers: int) -> Iterator[list[Result]]:
    """Batches of read results, in path order: read here, or by a pool of worker processes.

    The workers only read (and encode the JSON); this process writes the index while they read
    the next batches, so one writer holds the index and no lock is ever waited for.
    """
    if workers <= 1 or len(paths) < _POOL_MIN:
        for start in range(0, len(paths), _TASK):
            yield _read_batch_quietly((str(root), paths[start : start + _TASK]))
        return
    size = max(_TASK_MIN, min(_TASK, -(-len(paths) // (workers * 8))))
    tasks = [(str(root), paths[i : i + size]) for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_pool_context(), initializer=_init_worker
    ) as pool:
        yield from pool.map(_read_batch, tasks)


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file")


def sync(
    root: Path, repo: Repository, workers: int | None = None, progress: bool = False
) -> SyncReport:
    """Bring the index of ``root`` up to date with the tree (incrementally).

    Parameters
    ----------
    root: Path
        The store's root folder.
    repo: Repository
        Its index.
    workers: int, optional
        Reader processes (default: the number of CPUs; 1 reads in this process).
    progress: bool
        Show a progress bar (tqdm) while reading.

    Returns
    -------
    SyncReport
        Counts as described in the module docstring, and every rejected file.
    """
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        from dicomfs.errors import BadRequestError

        raise BadRequestError(f"workers must be at least 1 (an integer), got {workers!r}")
    root = Path(root)
    on_disk, special = walk(root)
    known = repo.file_states()
    special_paths = {rejection.path for rejection, *_ in special}
    gone = [p for p in known if p not in on_disk and p not in special_paths]
    repo.remove_paths(gone)
    new = [p for p in on_disk if p not in known]
    changed = [
        p for p, (size, mtime) in on_disk.items()
        if p in known and (known[p][0], known[p][1]) != (size, mtime)
    ]
    fresh_special = []
    for item in special:
        state = known.get(item[0].path)
        if state is None or state != (item[1], item[2], True):
            fresh_special.append(item)
    repo.reject_many(fresh_special)
    to_read = sorted(set(new) | set(changed))
    orphans = [p for p in repo.orphaned_duplicates() if p in on_disk and p not in to_read]
    to_read = sorted(set(to_read) | set(orphans))
    _read_into(root, repo, to_read, workers, progress)
    # Nothing written: the states read at the start still hold.
    states = repo.file_states() if gone or fresh_special or to_read else known
    indexed = {path for path, (_s, _m, rejected) in states.items() if not rejected}
    new_set = set(new)
    changed_set = set(changed) | set(orphans)
    report = SyncReport(removed=len(gone))
    for path in on_disk:
        if path not in indexed:
            continue
        if path in new_set:
            report.added += 1
        elif path in changed_set:
            report.updated += 1
        else:
            report.unchanged += 1
    report.rejected = repo.rejections()
    return report


def _read_into(
    root: Path, repo: Repository, paths: Sequence[str], workers: int | None, progress: bool
) -> None:
    bar = _progress(len(paths), progress, "indexing")
    records: list[PreparedInstance] = []
    rejected: list[RejectedFile] = []
    try:
        for batch in _read_all(root, paths, _workers(workers)):
            for result in batch:
                if isinstance(result, PreparedInstance):
                    records.append(result)
                else:
                    rejected.append(result)
            if bar is not None:
                bar.update(len(batch))
            if len(records) + len(rejected) >= _WRITE_BATCH:
                _flush(repo, records, rejected)
        _flush(repo, records, rejected)
    finally:
        if bar is not None:
            bar.close()


def _flush(repo: Repository, records: list[PreparedInstance], rejected: list[RejectedFile]) -> None:
    repo.write_batch(records, rejected)
    records.clear()
    rejected.clear()
