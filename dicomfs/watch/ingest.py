"""Ingest complete files from an inbox folder into any store, then remove them from the inbox.

:class:`Inbox` is handed the files :func:`dicomfs.watch.sync.reconcile` found complete. Each is
read with pydicom and checked (a DICOM file, not truncated, with its four identifying UIDs); the
good ones are sent to the target store with ``store_instances`` in batches, and deleted from the
inbox once the store's response lists them as stored. A file that is not DICOM, is broken, or that
the store refused is moved to ``INBOX/.rejected/`` (same relative path) with a ``.reason`` file
beside it. A file that changed while it was read, or that the store could not take for a passing
reason (server down, disk full), is retried later.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pydicom
import requests
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomfs.errors import BadRequestError, ConflictError, ServerError
from dicomfs.protocol import DICOMClient
from dicomfs.transfer import NO_DATA_SET, dataset_without_preamble, stow_outcomes
from dicomfs.watch.changes import REJECTED_DIR, WatchEvent
from dicomfs.watch.sync import FileStat, LocalFilesystem, WatchState

__all__ = ["Candidate", "Inbox", "REQUIRED_UIDS", "RetryLater", "check_dataset", "read_candidate"]

#: Attributes an instance must have to be stored (CONFORMANCE I-12).
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
_UNDEFINED = 0xFFFFFFFF

#: ``retry(relpath, stat, delay)``: see the file again ``delay`` seconds from now if unchanged
#: (:meth:`dicomfs.watch.sync.WatchState.retry`, called by whoever owns the state).
RetryLater = Callable[[str, FileStat, float], None]


@dataclass(frozen=True)
class Candidate:
    """An inbox file read completely and checked, ready to be stored.

    Attributes
    ----------
    relpath: str
        The file, relative to the inbox.
    stat: FileStat
        Its size and mtime when read (it is removed only if still the same once stored).
    dataset: Dataset
        The instance.
    """

    relpath: str
    stat: FileStat
    dataset: Dataset


class _Incomplete(ValueError):
    """The file reads as DICOM but ends early: maybe still being written."""


class _Unusable(ValueError):
    """The file can never be stored (not DICOM, missing UIDs)."""


def check_dataset(ds: Dataset) -> None:
    """Raise when a dataset read from a file is truncated or lacks an identifying UID.

    Parameters
    ----------
    ds: Dataset
        As read by ``pydicom.dcmread`` (elements not accessed yet are still raw).

    Raises
    ------
    ValueError
        With a one-line reason.
    """
    for elem in ds._dict.values():
        if (
            isinstance(elem, RawDataElement)
            and elem.length != _UNDEFINED
            and elem.value is not None
            and len(elem.value) < elem.length
        ):
            raise _Incomplete(
                f"truncated: element {elem.tag} has {len(elem.value)} of {elem.length} bytes"
            )
    if not len(ds):  # pydicom gives an empty data set for a file cut right after its File Meta
        raise _Incomplete(NO_DATA_SET)
    missing = [keyword for keyword in REQUIRED_UIDS if not ds.get(keyword)]
    if missing:
        raise _Incomplete("missing " + ", ".join(missing))


#: Open without following a final symbolic link, without blocking on a FIFO put in place of the
#: file, and without leaking the descriptor to child processes (flags missing on a platform: 0).
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _read_regular(path: Path) -> tuple[FileStat, bytes] | None:
    """A regular file's stat, as opened, and content; None when it is gone.

    Raises :class:`_Unusable` for a symbolic link (never followed) or a FIFO, device or folder.

    Few system calls (open, fstat, read, close): each one gives up the interpreter lock, and
    getting it back is slow while the store's threads are busy.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symbolic link: its target is never read
            raise _Unusable("a symbolic link (its target is not read)") from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Unusable("not a regular file")
        chunks: list[bytes] = []
        left = st.st_size
        while left > 0:  # a file that grows meanwhile is caught by the stat after the read
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return FileStat(st.st_size, st.st_mtime_ns), data


def _parse(data: bytes) -> Dataset:
    ds: Dataset
    try:
        ds = pydicom.dcmread(BytesIO(data))
    except InvalidDicomError as exc:
        # A data set without preamble and File Meta, as the scanner and `dicomfs store` take.
        bare = dataset_without_preamble(data)
        if bare is None:
            raise _Unusable("not a DICOM file (no DICM prefix)") from exc
        ds = bare
    except (EOFError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise _Incomplete(f"cannot be parsed: {exc}".splitlines()[0]) from exc
    except (AttributeError, OverflowError, RecursionError, struct.error, zlib.error) as exc:
        # a corrupt file can make pydicom fail in any of these ways; waiting will not help
        raise _Unusable(f"cannot be parsed ({type(exc).__name__}): {exc}".splitlines()[0]) from exc
    check_dataset(ds)
    return ds


def read_candidate(path: Path) -> Dataset:
    """Read an inbox file completely and check it.

    Parameters
    ----------
    path: Path
        The file.

    Returns
    -------
    Dataset
        The instance, pixel data included.

    Raises
    ------
    ValueError
        The file is not DICOM, is truncated or lacks an identifying UID (one-line message).
    OSError
        It cannot be read.
    """
    with open(path, "rb") as handle:  # one read: parsing from memory makes no system calls
        return _parse(handle.read())


class Inbox:
    """Moves complete files from an inbox folder into a store.

    :meth:`ingest` does it all in the caller's thread; the watch loop instead calls :meth:`read`
    in its own thread and :meth:`store` in a worker thread (:mod:`dicomfs.watch.pipeline`), so
    that files are read while the previous batch is being stored.

    Parameters
    ----------
    folder: Path
        The inbox.
    target: DICOMClient
        Where instances are stored (a local store or a DICOMweb server).
    batch_size: int
        Most instances sent in one ``store_instances`` call by :meth:`ingest`.
    grace: float
        A broken file modified less than this many seconds ago is retried rather than
        rejected (a writer may still be at work on it).
    retry_delay: float
        Seconds before a file is tried again.
    report: callable, optional
        Called with each :class:`WatchEvent` by :meth:`ingest`.
    """

    def __init__(
        self,
        folder: Path,
        target: DICOMClient,
        *,
        batch_size: int = 64,
        grace: float = 10.0,
        retry_delay: float = 1.0,
        report: Callable[[WatchEvent], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if grace < 0 or retry_delay < 0:
            raise ValueError(f"grace and retry_delay must be >= 0, got {grace}, {retry_delay}")
        self.folder = Path(folder)
        # Links and FIFOs are seen too, so that they are moved aside (never read).
        self.fs = LocalFilesystem(self.folder, special_files=True)
        self.target = target
        self.batch_size = batch_size
        self.grace = grace
        self.retry_delay = retry_delay
        self.report = report or (lambda event: None)

    def ingest(self, relpaths: Iterable[str], state: WatchState, now: float) -> list[WatchEvent]:
        """Read, store and remove (or reject, or put back for later) complete files.

        Parameters
        ----------
        relpaths: iterable of str
            Complete files, relative to the inbox.
        state: WatchState
            Where files to retry are put back.
        now: float
            The clock of ``state``.

        Returns
        -------
        list of WatchEvent
            One per file, in the order handled.
        """
        events: list[WatchEvent] = []
        batch: list[Candidate] = []

        def retry(relpath: str, stat: FileStat, delay: float) -> None:
            state.retry(relpath, stat, now, delay)

        def emit(new_events: list[WatchEvent]) -> None:
            events.extend(new_events)
            for event in new_events:
                self.report(event)

        for relpath in relpaths:
            event, candidate = self.read(relpath, retry)
            if event is not None:
                emit([event])
            if candidate is not None:
                batch.append(candidate)
            if len(batch) >= self.batch_size:
                emit(self.store(batch, retry))
                batch = []
        if batch:
            emit(self.store(batch, retry))
        return events

    # ---- reading ----------------------------------------------------------------------------
    def read(self, relpath: str, retry: RetryLater) -> tuple[WatchEvent | None, Candidate | None]:
        """Read and check one complete file; reject it, or ask for a retry, when it is not usable.

        Parameters
        ----------
        relpath: str
            The file, relative to the inbox.
        retry: callable
            ``retry(relpath, stat, delay)``, called when the file should be seen again later.

        Returns
        -------
        (WatchEvent or None, Candidate or None)
            The event of a file rejected or retried; the candidate of a file to store. Both
            ``None`` when the file is gone.
        """
        try:
            content = _read_regular(self.folder / relpath)
        except _Unusable as exc:  # moved aside (the link itself, never its target)
            return self._reject(relpath, str(exc)), None
        except OSError as exc:
            current = self.fs.stat(relpath)
            if current is None:
                return None, None
            retry(relpath, current, self.retry_delay)
            return WatchEvent("retry", relpath, f"cannot be read: {exc.strerror or exc}"), None
        if content is None:
            return None, None  # gone meanwhile
        before, data = content
        try:
            ds = _parse(data)
        except _Unusable as exc:
            return self._reject(relpath, str(exc)), None
        except _Incomplete as exc:
            if time.time() - before.mtime_ns / 1e9 < self.grace:
                retry(relpath, before, self.retry_delay)
                return WatchEvent("retry", relpath, str(exc)), None
            return self._reject(relpath, str(exc)), None
        finally:
            del data
        after = self.fs.stat(relpath)
        if after != before:
            if after is not None:
                retry(relpath, after, 0.0)
            return WatchEvent("retry", relpath, "changed while being read"), None
        return None, Candidate(relpath, before, ds)

    # ---- storing ----------------------------------------------------------------------------
    def store(self, batch: list[Candidate], retry: RetryLater) -> list[WatchEvent]:
        """Store files read by :meth:`read` in one ``store_instances`` call, then remove them.

        A file is deleted from the inbox only once the store's response lists its instance as
        stored (the store has made it durable by then), and only if it did not change since it
        was read; a file the store refused goes to ``.rejected/``; on a passing failure (server
        down, disk full) every file is retried later. When the store refuses the request as a
        whole, it is split in halves to find the files at fault.

        Parameters
        ----------
        batch: list of Candidate
            Files read by :meth:`read` (not empty).
        retry: callable
            ``retry(relpath, stat, delay)``, called when a file should be seen again later.

        Returns
        -------
        list of WatchEvent
            One per file, in the order of ``batch``.
        """
        if not batch:
            return []
        try:
            response = self.target.store_instances([c.dataset for c in batch])
        except ConflictError as exc:
            response = exc.dataset if isinstance(exc.dataset, Dataset) else Dataset()
        except (ServerError, requests.ConnectionError, requests.Timeout, OSError) as exc:
            reason = f"store unavailable: {exc}".splitlines()[0]
            for c in batch:
                retry(c.relpath, c.stat, self.retry_delay)
            return [WatchEvent("retry", c.relpath, reason) for c in batch]
        except BadRequestError as exc:
            if len(batch) > 1:  # find the files at fault
                half = len(batch) // 2
                return self.store(batch[:half], retry) + self.store(batch[half:], retry)
            only = batch[0]
            sop = _sop(only.dataset)
            return [self._reject(only.relpath, f"refused by the store: {exc}", sop)]
        stored, failed = stow_outcomes(response)
        events = []
        for c in batch:
            sop = _sop(c.dataset)
            if sop in stored:
                events.append(self._finish(c, sop, retry))
            elif sop in failed:
                events.append(self._reject(c.relpath, f"refused by the store: {failed[sop]}", sop))
            else:
                events.append(
                    self._reject(c.relpath, "the store did not acknowledge the instance", sop)
                )
        return events

    def _finish(self, candidate: Candidate, sop: str | None, retry: RetryLater) -> WatchEvent:
        relpath = candidate.relpath
        current = self.fs.stat(relpath)
        if current is not None and current != candidate.stat:
            # Rewritten since it was read: what was stored is stale; take the new content.
            retry(relpath, current, 0.0)
            return WatchEvent("retry", relpath, "changed after it was stored", sop)
        try:
            os.unlink(self.folder / relpath)
        except FileNotFoundError:
            pass
        return WatchEvent("stored", relpath, "", sop)

    def _reject(self, relpath: str, reason: str, sop: str | None = None) -> WatchEvent:
        reason = " ".join(reason.split()) or "rejected"
        source = self.folder / relpath
        dest = _free_name(self.folder / REJECTED_DIR / relpath)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, dest)
            dest.with_name(dest.name + ".reason").write_text(reason + "\n", encoding="utf-8")
        except FileNotFoundError:
            pass
        return WatchEvent("rejected", relpath, reason, sop)


def _sop(ds: Dataset) -> str | None:
    value = ds.get("SOPInstanceUID")
    return str(value) if value else None


def _free_name(path: Path) -> Path:
    candidate = path
    n = 1
    while candidate.exists() or candidate.with_name(candidate.name + ".reason").exists():
        candidate = path.with_name(f"{path.name}.{n}")
        n += 1
    return candidate
