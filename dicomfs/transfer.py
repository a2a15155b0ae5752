"""Folder convenience and copying between stores, for any :class:`~dicomfs.protocol.DICOMClient`.

What a DICOMweb adapter usually offers, written once against the protocol so that it works the
same for a local store and a remote server:

* :func:`collect_files` + :func:`store_files`: store files and whole folders (recursively, with
  an include pattern), in batches;
* :func:`retrieve_series_into_folder`, :func:`retrieve_study_into_folder`: one subfolder per
  series, numbered files ``file000000.dcm``, ...;
* :func:`find_study_of_series`, :func:`list_series`;
* :func:`plan_copy` + :func:`copy_studies`: move studies between any two stores, skipping the
  instances the target already has (asked with ``search_for_instances``), streaming series with
  ``iter_series`` (never a whole study in memory) and storing in batches.

Long operations take ``progress``, a callable given the number of items just done, so a caller
can drive a progress bar.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO, FileIO
from pathlib import Path

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomfs._types import DicomJSON, MediaTypes
from dicomfs.errors import BadRequestError, ConflictError, NotFoundError
from dicomfs.protocol import DICOMClient
from dicomfs.storage.layout import validate_uid
from dicomfs.storage.safefile import BoundedReader
from dicomfs.watch.changes import is_noise

__all__ = [
    "AS_STORED",
    "CopyPlan",
    "CopySummary",
    "SeriesPlan",
    "StoreSummary",
    "UnusableFile",
    "collect_files",
    "copy_studies",
    "check_complete",
    "dataset_without_preamble",
    "NO_DATA_SET",
    "find_study_of_series",
    "list_series",
    "plan_copy",
    "read_instance_file",
    "retrieve_series_into_folder",
    "retrieve_study_into_folder",
    "store_files",
    "stow_outcomes",
]

#: Media types that ask for instances in their stored transfer syntax.
AS_STORED: MediaTypes = (("application/dicom", "*"),)
DEFAULT_BATCH = 32
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_STUDY, _SERIES, _SOP, _SERIES_NUMBER = "0020000D", "0020000E", "00080018", "00200011"

Progress = Callable[[int], None]


def _no_progress(n: int) -> None:
    return None


# ---- looking things up ---------------------------------------------------------------------
def _first(obj: DicomJSON, tag: str) -> str | None:
    values = obj.get(tag, {}).get("Value") or []
    return str(values[0]) if values else None


def find_study_of_series(client: DICOMClient, series_instance_uid: str) -> str | None:
    """The Study Instance UID of a series, or None when no store study holds it.

    Parameters
    ----------
    client: DICOMClient
        Any store.
    series_instance_uid: str
        The series.

    Returns
    -------
    str or None
        Its study's UID.
    """
    validate_uid(series_instance_uid, "Series Instance UID")
    found = client.search_for_series(
        search_filters={"SeriesInstanceUID": series_instance_uid}, fields=["StudyInstanceUID"]
    )
    for obj in found:
        study = _first(obj, _STUDY)
        if study:
            return study
    return None


def list_series(client: DICOMClient, study_instance_uid: str) -> list[str]:
    """Series Instance UIDs of a study, by Series Number (then UID); ``[]`` for an unknown study.

    Parameters
    ----------
    client: DICOMClient
        Any store.
    study_instance_uid: str
        The study.

    Returns
    -------
    list of str
        The series UIDs.
    """
    validate_uid(study_instance_uid, "Study Instance UID")
    try:
        found = client.search_for_series(study_instance_uid, get_remaining=True)
    except NotFoundError:
        return []
    keyed: dict[str, int] = {}
    for obj in found:
        uid = _first(obj, _SERIES)
        if uid:
            number = _first(obj, _SERIES_NUMBER)
            keyed[uid] = int(number) if number is not None and number.lstrip("-").isdigit() else 0
    return sorted(keyed, key=lambda uid: (keyed[uid], uid))


def _instance_uids(client: DICOMClient, study: str, series: str) -> list[str]:
    try:
        found = client.search_for_instances(
            study, series, fields=["SOPInstanceUID"], get_remaining=True
        )
    except NotFoundError:
        return []
    return sorted({uid for obj in found if (uid := _first(obj, _SOP))})


# ---- storing files and folders -------------------------------------------------------------
@dataclass
class StoreSummary:
    """The outcome of :func:`store_files`.

    Attributes
    ----------
    stored: list of str
        Paths of the files stored.
    failed: list of (str, str)
        ``(path, reason)`` of DICOM files the store refused or that could not be read.
    skipped: list of (str, str)
        ``(path, reason)`` of files that are not DICOM instances (not DICOM, DICOMDIR).
    """

    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def collect_files(
    paths: Iterable[str | os.PathLike[str]], include: str | re.Pattern[str] | None = None
) -> list[Path]:
    """The files named, and the files below the folders named, that match ``include``.

    Parameters
    ----------
    paths: iterable of path
        Files and folders.
    include: str or compiled pattern, optional
        A regular expression searched (``re.search``) in each file's POSIX path relative to the
        folder it was found in (its name, for a file named directly).

    Returns
    -------
    list of Path
        In the order given, each folder's files sorted; ``.dicomfs/``, ``.rejected/``, hidden and
        temporary files are left out of folders.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    BadRequestError
        ``include`` is not a valid regular expression.
    """
    try:
        pattern = re.compile(include) if isinstance(include, str) else include
    except re.error as exc:
        raise BadRequestError(f"invalid include pattern {include!r}: {exc}") from exc
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = []
            for dirpath, dirnames, filenames in os.walk(path):
                rel_dir = Path(dirpath).relative_to(path)
                dirnames[:] = [d for d in dirnames if not is_noise((rel_dir / d).as_posix())]
                for name in filenames:
                    rel = (rel_dir / name).as_posix()
                    if not is_noise(rel) and (pattern is None or pattern.search(rel)):
                        found.append(path / rel)
            out.extend(sorted(found))
        elif path.is_file():
            if pattern is None or pattern.search(path.name):
                out.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return out


def stow_outcomes(response: Dataset) -> tuple[set[str], dict[str, str]]:
    """Read a STOW-RS response: the SOP Instance UIDs stored, and those that failed with why.

    Parameters
    ----------
    response: Dataset
        The Store Instances Response Module (CONFORMANCE I-04).

    Returns
    -------
    (set of str, dict of str to str)
        Stored UIDs (ReferencedSOPSequence), and failed UID -> ``"failure reason 0xC000"``
        (FailedSOPSequence, reason codes of CONFORMANCE I-07).
    """
    stored: set[str] = set()
    failed: dict[str, str] = {}
    for item in _items(response, 0x00081199):
        uid = item.get("ReferencedSOPInstanceUID")
        if uid:
            stored.add(str(uid))
    for item in _items(response, 0x00081198):
        uid = item.get("ReferencedSOPInstanceUID")
        if uid:
            code = item.get("FailureReason")
            failed[str(uid)] = f"failure reason 0x{int(code):04X}" if code is not None else "failed"
    return stored, failed


def _items(response: Dataset, tag: int) -> list[Dataset]:
    elem = response.get(tag)
    return list(elem.value or []) if elem is not None else []


def _store_batch(
    client: DICOMClient, datasets: Sequence[Dataset], study: str | None
) -> tuple[set[str], dict[str, str]]:
    """Store a batch; a request refused as a whole is retried one by one to name the culprit."""
    try:
        return stow_outcomes(client.store_instances(list(datasets), study))
    except ConflictError as exc:
        response = exc.dataset if isinstance(exc.dataset, Dataset) else Dataset()
        stored, failed = stow_outcomes(response)
        for ds in datasets:
            uid = str(ds.SOPInstanceUID)
            if uid not in stored:
                failed.setdefault(uid, f"refused: {exc}")
        return stored, failed
    except BadRequestError as exc:
        if len(datasets) == 1:
            return set(), {str(datasets[0].SOPInstanceUID): f"refused: {exc}"}
        stored, failed = set(), {}
        for ds in datasets:
            one_stored, one_failed = _store_batch(client, [ds], study)
            stored |= one_stored
            failed.update(one_failed)
        return stored, failed


class UnusableFile(Exception):
    """A file :func:`store_files` cannot store: skipped (not DICOM) or failed (broken DICOM).

    Attributes
    ----------
    reason: str
        One line.
    skip: bool
        True when the file is not a DICOM file at all (or not a regular file).
    """

    def __init__(self, reason: str, *, skip: bool) -> None:
        super().__init__(reason)
        self.reason = " ".join(reason.split()) or "unreadable"
        self.skip = skip


#: What pydicom raises on a file it cannot parse (a corrupt file can trigger any of these).
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, LookupError, TypeError, AttributeError, NotImplementedError,
    OverflowError, RecursionError, struct.error, zlib.error,
)


def _has_dicm(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def read_instance_file(path: str | os.PathLike[str]) -> Dataset:
    """Read a whole DICOM file to store it, refusing what would store a damaged instance.

    Never blocks on a FIFO, never allocates what a corrupt length claims, and refuses a file
    cut short (pydicom itself reads a truncated last element without a word).

    Parameters
    ----------
    path: path
        The file (symbolic links are followed: the user named it).

    Returns
    -------
    Dataset
        The instance, every element complete.

    Raises
    ------
    UnusableFile
        ``skip=True``: not a regular file, or not DICOM; ``skip=False``: a DICOM file that is
        broken (truncated, unparsable).
    """
    text = os.fspath(path)
    try:
        st = os.stat(text)
    except OSError as exc:
        raise UnusableFile(f"cannot be read: {exc.strerror or exc}", skip=False) from exc
    if not stat.S_ISREG(st.st_mode):
        raise UnusableFile("not a regular file", skip=True)
    try:
        with BoundedReader(FileIO(text, "rb"), st.st_size) as fh:
            ds: Dataset | None = pydicom.dcmread(fh)
            assert ds is not None
            check_complete(ds, st.st_size)
    except InvalidDicomError as exc:
        if _has_dicm(text):
            raise UnusableFile(f"not a valid DICOM file: {exc}", skip=False) from exc
        ds = _read_without_preamble(text, st.st_size)  # as the scanner indexes such files
        if ds is None:
            raise UnusableFile("not a DICOM file", skip=True) from exc
    except _READ_ERRORS as exc:
        raise UnusableFile(f"cannot be read ({type(exc).__name__}): {exc}", skip=False) from exc
    assert ds is not None
    return ds


_FORCED_READ_ERRORS: tuple[type[BaseException], ...] = (InvalidDicomError, *_READ_ERRORS)
_IDENTITY = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


def _read_without_preamble(path: str, size: int) -> Dataset | None:
    """A file with no preamble/File Meta (old or raw datasets) that is still a whole instance:
    read by force, accepted only when it holds the four identifying UIDs, which random bytes do
    not. ``None`` when it is not DICOM."""
    try:
        with BoundedReader(FileIO(path, "rb"), size) as fh:
            ds = pydicom.dcmread(fh, force=True)
            check_complete(ds, size)
            if not all(str(ds.get(keyword, "") or "").strip() for keyword in _IDENTITY):
                return None
    except _FORCED_READ_ERRORS:
        return None
    return ds


#: Why a file whose data set pydicom reads as empty is refused (not "missing every UID").
NO_DATA_SET = "no data set element after the File Meta (the file is truncated or empty)"


def dataset_without_preamble(data: bytes) -> Dataset | None:
    """:func:`_read_without_preamble` for a file's bytes held in memory (the watch inbox).

    Returns
    -------
    Dataset or None
        The whole instance, or None when the bytes are no DICOM data set with the four
        identifying UIDs (or hold the ``DICM`` prefix, which a valid file would have parsed).
    """
    if data[128:132] == b"DICM":
        return None
    try:
        ds = pydicom.dcmread(BytesIO(data), force=True)
        check_complete(ds, len(data))
    except _FORCED_READ_ERRORS:
        return None
    if not all(str(ds.get(keyword, "") or "").strip() for keyword in _IDENTITY):
        return None
    return ds


_PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)


def check_complete(ds: Dataset, size: int) -> None:
    """Raise EOFError when the file was cut: its last element holds fewer bytes than it
    declares, or the file ends inside an element header (pydicom stops there without a word).

    pydicom reads elements one after the other and stops at a cut, so only the last element
    read can be short: one element is looked at, whatever the size of the data set.
    """
    if not ds._dict:
        return
    elem = ds.get_item(list(ds._dict)[-1])  # raw: not converted
    if not isinstance(elem, RawDataElement):
        return
    if elem.length != 0xFFFFFFFF:
        got = 0 if elem.value is None else len(elem.value)
        if got != elem.length:
            raise EOFError(f"truncated: element {int(elem.tag):08X} holds {got} of its "
                           f"{elem.length} bytes")
    if int(elem.tag) in _PIXEL_TAGS:  # what may follow pixel data is padding
        return
    if elem.length != 0xFFFFFFFF and elem.value_tell + elem.length < size:
        raise EOFError(f"truncated: the file ends inside an element header at "
                       f"{elem.value_tell + elem.length}")


def store_files(
    client: DICOMClient,
    files: Iterable[str | os.PathLike[str]],
    *,
    study_instance_uid: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> StoreSummary:
    """Store DICOM files into any store, ``batch_size`` instances per ``store_instances`` call.

    Parameters
    ----------
    client: DICOMClient
        The store.
    files: iterable of path
        The files (see :func:`collect_files` for folders).
    study_instance_uid: str, optional
        Store into this study only (``POST /studies/{study}``): other instances fail.
    batch_size: int
        Instances per request; only one batch is held in memory.
    progress: callable, optional
        Called with the number of files just handled.

    Returns
    -------
    StoreSummary
        What was stored, what failed, what was skipped, each with its path.
    """
    if batch_size < 1:
        raise BadRequestError(f"batch_size must be >= 1, got {batch_size}")
    if study_instance_uid is not None:
        validate_uid(study_instance_uid, "Study Instance UID")
    tick = progress or _no_progress
    summary = StoreSummary()
    batch: list[tuple[str, Dataset]] = []

    def flush() -> None:
        stored, failed = _store_batch(client, [ds for _, ds in batch], study_instance_uid)
        for path, ds in batch:
            uid = str(ds.SOPInstanceUID)
            if uid in stored:
                summary.stored.append(path)
            else:
                summary.failed.append((path, failed.get(uid, "not acknowledged by the store")))
        tick(len(batch))
        batch.clear()

    for given in files:
        path = str(given)
        try:
            ds = read_instance_file(path)
        except UnusableFile as exc:
            (summary.skipped if exc.skip else summary.failed).append((path, exc.reason))
            tick(1)
            continue
        media_class = getattr(ds.get("file_meta"), "MediaStorageSOPClassUID", None)
        if media_class == _DICOMDIR_CLASS:
            summary.skipped.append((path, "DICOMDIR (a media directory, not an instance)"))
            tick(1)
            continue
        missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                               "SOPClassUID") if not ds.get(k)]
        if missing:
            reason = NO_DATA_SET if not len(ds) else "missing " + ", ".join(missing)
            summary.failed.append((path, reason))
            tick(1)
            continue
        batch.append((path, ds))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return summary


# ---- retrieving into folders ---------------------------------------------------------------
def retrieve_series_into_folder(
    client: DICOMClient,
    study_instance_uid: str,
    series_instance_uid: str,
    target_folder: str | os.PathLike[str],
    *,
    use_study_subfolder: bool = True,
    media_types: MediaTypes | None = AS_STORED,
    progress: Progress | None = None,
) -> list[Path]:
    """Write a series as ``[<study>/]<series>/file000000.dcm, file000001.dcm, ...``.

    Instances are streamed (``iter_series``) and written as they arrive.

    Parameters
    ----------
    client: DICOMClient
        Any store.
    study_instance_uid, series_instance_uid: str
        The series.
    target_folder: path
        An existing folder; the series subfolder must not exist yet.
    use_study_subfolder: bool
        Put the series folder inside a ``<study>`` folder.
    media_types: tuple, optional
        Passed to ``iter_series`` (default: as stored).
    progress: callable, optional
        Called with 1 per file written.

    Returns
    -------
    list of Path
        The files written, in the order received.

    Raises
    ------
    FileNotFoundError
        ``target_folder`` does not exist.
    FileExistsError
        The series folder exists already.
    NotFoundError
        The series does not exist.
    """
    validate_uid(study_instance_uid, "Study Instance UID")
    validate_uid(series_instance_uid, "Series Instance UID")
    root = Path(target_folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    parent = root / study_instance_uid if use_study_subfolder else root
    folder = parent / series_instance_uid
    if folder.exists():
        raise FileExistsError(f"folder exists already: {folder}")
    tick = progress or _no_progress
    written: list[Path] = []
    instances = client.iter_series(study_instance_uid, series_instance_uid, media_types)
    for n, ds in enumerate(instances):
        if n == 0:
            folder.mkdir(parents=True)
        path = folder / f"file{n:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
        tick(1)
    return written


def retrieve_study_into_folder(
    client: DICOMClient,
    study_instance_uid: str,
    target_folder: str | os.PathLike[str],
    *,
    media_types: MediaTypes | None = AS_STORED,
    progress: Progress | None = None,
) -> list[Path]:
    """Write a study as ``<study>/<series>/file000000.dcm``, one subfolder per series.

    Parameters
    ----------
    client: DICOMClient
        Any store.
    study_instance_uid: str
        The study.
    target_folder: path
        An existing folder; the study subfolder must not exist yet.
    media_types: tuple, optional
        Passed to ``iter_series`` (default: as stored).
    progress: callable, optional
        Called with 1 per file written.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    FileExistsError
        The study folder exists already.
    NotFoundError
        The study does not exist.
    """
    validate_uid(study_instance_uid, "Study Instance UID")
    root = Path(target_folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    if (root / study_instance_uid).exists():
        raise FileExistsError(f"folder exists already: {root / study_instance_uid}")
    series = list_series(client, study_instance_uid)
    if not series:
        raise NotFoundError(f"study not found: {study_instance_uid}")
    written: list[Path] = []
    for series_uid in series:
        written += retrieve_series_into_folder(
            client, study_instance_uid, series_uid, root,
            media_types=media_types, progress=progress,
        )
    return written


# ---- copying between stores ----------------------------------------------------------------
@dataclass(frozen=True)
class SeriesPlan:
    """One series to copy: the instances the target lacks, and how many it has already."""

    study_instance_uid: str
    series_instance_uid: str
    missing: tuple[str, ...]
    present: int


@dataclass(frozen=True)
class CopyPlan:
    """What :func:`copy_studies` will do, series by series."""

    series: tuple[SeriesPlan, ...]

    @property
    def to_copy(self) -> int:
        """Instances the target lacks."""
        return sum(len(s.missing) for s in self.series)

    @property
    def present(self) -> int:
        """Instances the target has already (skipped)."""
        return sum(s.present for s in self.series)

    @property
    def studies(self) -> list[str]:
        """The studies concerned, in plan order."""
        return list(dict.fromkeys(s.study_instance_uid for s in self.series))


@dataclass
class CopySummary:
    """The outcome of :func:`copy_studies`: SOP Instance UIDs copied, skipped, failed (why)."""

    copied: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def plan_copy(
    source: DICOMClient,
    target: DICOMClient,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
) -> CopyPlan:
    """Compare source and target: which instances of which series the target lacks.

    Parameters
    ----------
    source, target: DICOMClient
        Any two stores.
    study_instance_uid: str, optional
        Copy this study only (default: every study of the source).
    series_instance_uid: str, optional
        Copy this series of the study only.

    Returns
    -------
    CopyPlan
        Series by series, the missing SOP Instance UIDs.

    Raises
    ------
    NotFoundError
        The study or series is not in the source.
    BadRequestError
        A series without its study, or a malformed UID.
    """
    if series_instance_uid is not None and study_instance_uid is None:
        raise BadRequestError("a series can only be copied with its study (--study)")
    if study_instance_uid is None:
        found = source.search_for_studies(get_remaining=True, fields=["StudyInstanceUID"])
        studies = sorted({uid for obj in found if (uid := _first(obj, _STUDY))})
    else:
        studies = [validate_uid(study_instance_uid, "Study Instance UID")]
    plans: list[SeriesPlan] = []
    for study in studies:
        if series_instance_uid is not None:
            all_series = [validate_uid(series_instance_uid, "Series Instance UID")]
        else:
            all_series = list_series(source, study)
            if not all_series:
                raise NotFoundError(f"study not found in the source: {study}")
        for series in all_series:
            wanted = _instance_uids(source, study, series)
            if not wanted:
                raise NotFoundError(f"series not found in the source: {series}")
            have = set(_instance_uids(target, study, series))
            missing = tuple(uid for uid in wanted if uid not in have)
            plans.append(SeriesPlan(study, series, missing, len(wanted) - len(missing)))
    return CopyPlan(tuple(plans))


def _fetch(
    source: DICOMClient, plan: SeriesPlan, media_types: MediaTypes | None
) -> Iterator[Dataset]:
    wanted = set(plan.missing)
    if plan.present == 0:
        for ds in source.iter_series(plan.study_instance_uid, plan.series_instance_uid,
                                     media_types):
            if str(ds.SOPInstanceUID) in wanted:
                yield ds
    else:
        for sop in plan.missing:
            yield source.retrieve_instance(
                plan.study_instance_uid, plan.series_instance_uid, sop, media_types
            )


def copy_studies(
    source: DICOMClient,
    target: DICOMClient,
    plan: CopyPlan,
    *,
    batch_size: int = DEFAULT_BATCH,
    media_types: MediaTypes | None = AS_STORED,
    progress: Progress | None = None,
) -> CopySummary:
    """Copy the instances a :class:`CopyPlan` lists from ``source`` to ``target``.

    A series the target lacks entirely is streamed with ``iter_series``; from a series it has
    in part, only the missing instances are retrieved. At most ``batch_size`` instances are
    held in memory and sent in one ``store_instances`` call.

    Parameters
    ----------
    source, target: DICOMClient
        Any two stores.
    plan: CopyPlan
        Made by :func:`plan_copy`.
    batch_size: int
        Instances per store request.
    media_types: tuple, optional
        How instances are retrieved (default: as stored, no transcoding).
    progress: callable, optional
        Called with the number of instances just handled.

    Returns
    -------
    CopySummary
        Instances copied and failed (with the store's reason), and how many were skipped.
    """
    if batch_size < 1:
        raise BadRequestError(f"batch_size must be >= 1, got {batch_size}")
    tick = progress or _no_progress
    summary = CopySummary(skipped=plan.present)
    for series_plan in plan.series:
        if not series_plan.missing:
            continue
        batch: list[Dataset] = []
        for ds in _fetch(source, series_plan, media_types):
            batch.append(ds)
            if len(batch) >= batch_size:
                _copy_batch(target, batch, series_plan.study_instance_uid, summary, tick)
        if batch:
            _copy_batch(target, batch, series_plan.study_instance_uid, summary, tick)
    return summary


def _copy_batch(
    target: DICOMClient, batch: list[Dataset], study: str, summary: CopySummary, tick: Progress
) -> None:
    stored, failed = _store_batch(target, batch, study)
    for ds in batch:
        uid = str(ds.SOPInstanceUID)
        if uid in stored:
            summary.copied.append(uid)
        else:
            summary.failed.append((uid, failed.get(uid, "not acknowledged by the store")))
    tick(len(batch))
    batch.clear()
