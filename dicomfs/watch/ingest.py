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

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pydicom
import requests
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomfs.errors import BadRequestError, ConflictError, ServerError
from dicomfs.protocol import DICOMClient
from dicomfs.transfer import stow_outcomes
from dicomfs.watch.changes import REJECTED_DIR, WatchEvent
from dicomfs.watch.sync import FileStat, LocalFilesystem, WatchState

__all__ = ["Inbox", "REQUIRED_UIDS", "check_dataset", "read_candidate"]

#: Attributes an instance must have to be stored (CONFORMANCE I-12).
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
_UNDEFINED = 0xFFFFFFFF


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
    missing = [keyword for keyword in REQUIRED_UIDS if not ds.get(keyword)]
    if missing:
        raise _Incomplete("missing " + ", ".join(missing))


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
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise _Unusable("not a DICOM file (no DICM prefix)") from exc
    except (EOFError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise _Incomplete(f"cannot be parsed: {exc}".splitlines()[0]) from exc
    check_dataset(ds)
    return ds


class Inbox:
    """Moves complete files from an inbox folder into a store.

    Parameters
    ----------
    folder: Path
        The inbox.
    target: DICOMClient
        Where instances are stored (a local store or a DICOMweb server).
    batch_size: int
        Most instances sent in one ``store_instances`` call.
    grace: float
        A broken file modified less than this many seconds ago is retried rather than
        rejected (a writer may still be at work on it).
    retry_delay: float
        Seconds before a file is tried again.
    report: callable, optional
        Called with each :class:`WatchEvent`.
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
        self.folder = Path(folder)
        self.fs = LocalFilesystem(self.folder)
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
        batch: list[tuple[str, FileStat, Dataset]] = []

        def emit(new_events: list[WatchEvent]) -> None:
            events.extend(new_events)
            for event in new_events:
                self.report(event)

        for relpath in relpaths:
            event, item = self._read(relpath, state, now)
            if event is not None:
                emit([event])
            if item is not None:
                batch.append(item)
            if len(batch) >= self.batch_size:
                emit(self._store(batch, state, now))
                batch = []
        if batch:
            emit(self._store(batch, state, now))
        return events

    # ---- reading ----------------------------------------------------------------------------
    def _read(
        self, relpath: str, state: WatchState, now: float
    ) -> tuple[WatchEvent | None, tuple[str, FileStat, Dataset] | None]:
        before = self.fs.stat(relpath)
        if before is None:
            return None, None  # gone meanwhile
        path = self.folder / relpath
        try:
            ds = read_candidate(path)
        except _Unusable as exc:
            return self._reject(relpath, str(exc)), None
        except _Incomplete as exc:
            if time.time() - before.mtime_ns / 1e9 < self.grace:
                state.retry(relpath, before, now, self.retry_delay)
                return WatchEvent("retry", relpath, str(exc)), None
            return self._reject(relpath, str(exc)), None
        except OSError as exc:
            state.retry(relpath, before, now, self.retry_delay)
            return WatchEvent("retry", relpath, f"cannot be read: {exc.strerror or exc}"), None
        after = self.fs.stat(relpath)
        if after != before:
            if after is not None:
                state.retry(relpath, after, now, 0.0)
            return WatchEvent("retry", relpath, "changed while being read"), None
        return None, (relpath, before, ds)

    # ---- storing ----------------------------------------------------------------------------
    def _store(
        self, batch: list[tuple[str, FileStat, Dataset]], state: WatchState, now: float
    ) -> list[WatchEvent]:
        try:
            response = self.target.store_instances([ds for _, _, ds in batch])
        except ConflictError as exc:
            response = exc.dataset if isinstance(exc.dataset, Dataset) else Dataset()
        except (ServerError, requests.ConnectionError, requests.Timeout, OSError) as exc:
            return [self._retry(relpath, stat, state, now, f"store unavailable: {exc}")
                    for relpath, stat, _ in batch]
        except BadRequestError as exc:
            if len(batch) > 1:  # find the file at fault
                events: list[WatchEvent] = []
                for item in batch:
                    events.extend(self._store([item], state, now))
                return events
            relpath, _, ds = batch[0]
            return [self._reject(relpath, f"refused by the store: {exc}", _sop(ds))]
        stored, failed = stow_outcomes(response)
        events = []
        for relpath, stat, ds in batch:
            sop = _sop(ds)
            if sop in stored:
                events.append(self._finish(relpath, stat, sop, state, now))
            elif sop in failed:
                events.append(self._reject(relpath, f"refused by the store: {failed[sop]}", sop))
            else:
                events.append(
                    self._reject(relpath, "the store did not acknowledge the instance", sop)
                )
        return events

    def _finish(
        self, relpath: str, stat: FileStat, sop: str | None, state: WatchState, now: float
    ) -> WatchEvent:
        current = self.fs.stat(relpath)
        if current is not None and current != stat:
            # Rewritten since it was read: what was stored is stale; take the new content.
            state.retry(relpath, current, now, 0.0)
            return WatchEvent("retry", relpath, "changed after it was stored", sop)
        try:
            os.unlink(self.folder / relpath)
        except FileNotFoundError:
            pass
        return WatchEvent("stored", relpath, "", sop)

    def _retry(
        self, relpath: str, stat: FileStat, state: WatchState, now: float, reason: str
    ) -> WatchEvent:
        state.retry(relpath, stat, now, self.retry_delay)
        return WatchEvent("retry", relpath, reason.splitlines()[0])

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
