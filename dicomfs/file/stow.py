"""STOW-RS for the file store: write instances as Part10 files, index them, answer like a server.

One call of :func:`store` goes through four steps:

1. **Check** each dataset (a :class:`~pydicom.dataset.Dataset` with well-formed SOP Class, SOP
   Instance, Study and Series Instance UIDs, CONFORMANCE I-12; the Study Instance UID of the
   request, if any, I-09) and **encode** it as a Part10 file with a File Meta header made here.
2. **Stage**: write every file under a temporary name next to its final name and fsync it
   (:mod:`dicomfs.storage.atomic`), then read it back with the scanner, as ``sync`` would.
3. **Commit**, holding the store's writer lock: rename the files over their final names, fsync
   their folders, and upsert their index rows in one transaction. A file that replaces an
   instance stored elsewhere in the tree removes the old file (tombstone, rows, unlink).
4. **Answer** with the Store Instances Response (PS3.18 Annex I, CONFORMANCE I-04, I-06, I-07).

Duplicate SOP Instance UIDs (CONFORMANCE I-10) are **replaced**, as Orthanc does with
``OverwriteInstances``: the store keeps exactly one file and one index row per SOP Instance UID,
and the response reports the instance as stored, without a warning. See ``docs/stow.md``.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import re
import struct
from collections.abc import Sequence
from io import BytesIO
from typing import TYPE_CHECKING

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from sqlalchemy import select

from dicomfs.errors import BadRequestError, ConflictError, ReadOnlyError
from dicomfs.index.models import File, Instance
from dicomfs.index.records import InstanceRecord
from dicomfs.storage import atomic, layout

if TYPE_CHECKING:
    from dicomfs.file.context import StoreContext

__all__ = [
    "FAILURE_CANNOT_UNDERSTAND",
    "FAILURE_OUT_OF_RESOURCES",
    "FAILURE_PROCESSING",
    "FAILURE_STUDY_MISMATCH",
    "FAILURE_TRANSFER_SYNTAX",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "encode_part10",
    "store",
]

#: FailureReason 0110: processing failure (PS3.18 Table I.2-2, CONFORMANCE I-07).
FAILURE_PROCESSING = 0x0110
#: FailureReason A700: out of resources (the disk is full).
FAILURE_OUT_OF_RESOURCES = 0xA700
#: FailureReason A901 (43265): the instance's Study Instance UID is not the request's (I-09).
FAILURE_STUDY_MISMATCH = 0xA901
#: FailureReason C000: cannot understand (not a dataset; a required UID missing or malformed).
FAILURE_CANNOT_UNDERSTAND = 0xC000
#: FailureReason C122: transfer syntax unknown (compressed pixel data and no File Meta).
FAILURE_TRANSFER_SYNTAX = 0xC122

#: (0002,0012) of the files dicomfs writes: a UUID-derived UID (PS3.5 §B.2) fixed for dicomfs.
IMPLEMENTATION_CLASS_UID = "2.25.156139212408259408969647901920460388034"
#: (0002,0013) of the files dicomfs writes.
IMPLEMENTATION_VERSION_NAME = "DICOMFS_0_1"

_CHUNK = 900
_REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
_STOW_PATH_RE = re.compile(r"[0-9.]+/[0-9.]+/[0-9.]+\.dcm")
_ENCODING_TS = {
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
}
#: What pydicom raises for a dataset it cannot encode.
_ENCODING_ERRORS = (
    ValueError, TypeError, AttributeError, KeyError, OverflowError, struct.error, UnicodeError,
)


class _Failed(ValueError):
    def __init__(self, reason: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass
class _Item:
    """One dataset of the request on its way to the store."""

    position: int
    sop_class: str | None = None
    sop: str | None = None
    study: str | None = None
    series: str | None = None
    data: bytes = b""
    relpath: str = ""
    staged: atomic.StagedFile | None = None
    record: InstanceRecord | None = None
    failure: int | None = None
    message: str = ""


def store(
    ctx: StoreContext, datasets: Sequence[Dataset], study_instance_uid: str | None = None
) -> Dataset:
    """Store instances in the file store and return the STOW-RS response dataset.

    Parameters
    ----------
    ctx: StoreContext
        The store.
    datasets: sequence of pydicom.Dataset
        The instances; each is written as ``<root>/<Study>/<Series>/<SOP>.dcm``.
    study_instance_uid: str, optional
        When given, instances of another study fail with FailureReason 43265 (CONFORMANCE I-09).

    Returns
    -------
    pydicom.Dataset
        RetrieveURL (0008,1190) of the study (empty when the stored instances span several
        studies), ReferencedSOPSequence (0008,1199) for the stored instances and
        FailedSOPSequence (0008,1198) only when something failed (CONFORMANCE I-04).

    Raises
    ------
    ReadOnlyError
        The store is read-only; nothing is written.
    BadRequestError
        ``datasets`` is not a non-empty sequence, or ``study_instance_uid`` is malformed.
    ConflictError
        Nothing could be stored; ``.dataset`` holds the response with every failure.
    """
    if ctx.readonly:
        raise ReadOnlyError("the store is read-only: store_instances is not allowed")
    if study_instance_uid is not None:
        layout.validate_uid(study_instance_uid, "Study Instance UID")
    if isinstance(datasets, (Dataset, str, bytes)) or not isinstance(datasets, Sequence):
        raise BadRequestError("datasets must be a sequence of pydicom Dataset objects")
    if len(datasets) == 0:
        raise BadRequestError("store_instances needs at least one dataset")

    items = [_prepare(ctx, n, ds, study_instance_uid) for n, ds in enumerate(datasets)]
    # The same SOP Instance UID twice in one request: the last one is written.
    last = {item.sop: item.position for item in items if item.failure is None}
    pending = [item for item in items if item.failure is None and last[item.sop] == item.position]
    try:
        _stage(ctx, pending)
        ready = [item for item in pending if item.failure is None]
        # fsync outside the writer lock (commit only renames and fsyncs folders).
        atomic.sync_staged(item.staged for item in ready if item.staged is not None)
        if ready:
            _commit(ctx, ready)
    finally:
        atomic.discard(item.staged for item in pending if item.staged is not None)

    response = _response(ctx, items, study_instance_uid)
    if all(item.failure is not None for item in items):
        reasons = sorted({f"{item.failure} ({item.message})" for item in items})
        raise ConflictError("no instance was stored: " + "; ".join(reasons), dataset=response)
    return response


# ---- step 1: check and encode -----------------------------------------------------------------
def _uid_value(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if isinstance(value, str) and layout.is_valid_uid(str(value)):
        return str(value)
    return None


def _prepare(ctx: StoreContext, position: int, ds: object, study: str | None) -> _Item:
    item = _Item(position)
    if not isinstance(ds, Dataset):
        item.failure, item.message = FAILURE_CANNOT_UNDERSTAND, "not a pydicom Dataset"
        return item
    item.sop_class = _uid_value(ds, "SOPClassUID")
    item.sop = _uid_value(ds, "SOPInstanceUID")
    item.study = _uid_value(ds, "StudyInstanceUID")
    item.series = _uid_value(ds, "SeriesInstanceUID")
    values = (item.sop_class, item.sop, item.study, item.series)
    bad = [kw for kw, v in zip(_REQUIRED, values, strict=True) if v is None]
    if bad:
        item.failure = FAILURE_CANNOT_UNDERSTAND
        item.message = "missing or malformed " + ", ".join(bad)
        return item
    if study is not None and item.study != study:
        item.failure = FAILURE_STUDY_MISMATCH
        item.message = f"StudyInstanceUID {item.study} is not the request's {study}"
        return item
    try:
        item.data = encode_part10(ds)
    except _Failed as exc:
        item.failure, item.message = exc.reason, str(exc)
    return item


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None and layout.is_valid_uid(str(syntax)):
        # Deflate only compresses the byte stream; the scanner needs the data set unwrapped.
        return ExplicitVRLittleEndian if syntax == DeflatedExplicitVRLittleEndian else str(syntax)
    encoding = ds.original_encoding
    if encoding in _ENCODING_TS:
        return _ENCODING_TS[encoding]
    pixel = ds.get_item(0x7FE00010) if 0x7FE00010 in ds else None
    if pixel is not None:
        value = pixel.value
        undefined = getattr(pixel, "is_undefined_length", False) or (
            getattr(pixel, "length", 0) == 0xFFFFFFFF
        )
        if undefined or (isinstance(value, bytes) and value[:4] == b"\xfe\xff\x00\xe0"):
            raise _Failed(
                FAILURE_TRANSFER_SYNTAX,
                "compressed pixel data without a File Meta TransferSyntaxUID",
            )
    return ExplicitVRLittleEndian


def encode_part10(ds: Dataset) -> bytes:
    """Encode a dataset as a DICOM Part10 file (preamble, File Meta, data set).

    The File Meta is made here: MediaStorageSOPClassUID/InstanceUID from the data set,
    TransferSyntaxUID kept from the dataset's File Meta or original encoding (Explicit VR Little
    Endian when unknown), ImplementationClassUID and ImplementationVersionName of dicomfs. The
    dataset itself is not modified.

    Parameters
    ----------
    ds: pydicom.Dataset
        An instance with SOPClassUID and SOPInstanceUID.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    ValueError
        (internal ``_Failed``) the dataset cannot be encoded; ``.reason`` is the FailureReason.
    """
    syntax = _transfer_syntax(ds)
    old_meta = getattr(ds, "file_meta", None)
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(str(ds.SOPClassUID))
    meta.MediaStorageSOPInstanceUID = UID(str(ds.SOPInstanceUID))
    meta.TransferSyntaxUID = UID(syntax)
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    if old_meta is not None and "SourceApplicationEntityTitle" in old_meta:
        meta.SourceApplicationEntityTitle = old_meta.SourceApplicationEntityTitle
    # A shallow copy without group 0002 (it belongs in the File Meta). pydicom's writer resolves
    # ambiguous VRs ("OB or OW") and sets the pixel data's length flag in place: those elements
    # are copied so that ``ds`` is left as it was.
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    for tag in ds.keys():
        if tag.group == 0x0002:
            continue
        element = ds.get_item(tag)
        if isinstance(element, DataElement) and (" or " in element.VR or tag == 0x7FE00010):
            element = copy.copy(element)
        elements[tag] = element
    copy_ = Dataset(elements)
    copy_.file_meta = meta
    buffer = BytesIO()
    try:
        dcmwrite(buffer, copy_, enforce_file_format=True)
    except _ENCODING_ERRORS as exc:
        raise _Failed(FAILURE_PROCESSING, f"cannot encode the dataset: {exc}") from exc
    return buffer.getvalue()


# ---- step 2: stage ------------------------------------------------------------------------------
def _holders(ctx: StoreContext, sops: list[str]) -> dict[str, str]:
    """``SOP Instance UID -> relative path`` of the indexed files holding these instances."""
    out: dict[str, str] = {}
    with ctx.repo.session() as session:
        for start in range(0, len(sops), _CHUNK):
            query = (
                select(Instance.sop_instance_uid, File.path)
                .join(File, File.id == Instance.file_id)
                .where(Instance.sop_instance_uid.in_(sops[start : start + _CHUNK]))
            )
            out.update({sop: path for sop, path in session.execute(query)})
    return out


def _target(ctx: StoreContext, item: _Item, current: str | None) -> str:
    """Where the item goes: the STOW layout, or in place of a file of the tree holding its SOP."""
    assert item.study and item.series and item.sop
    canonical = layout.relative_instance_path(item.study, item.series, item.sop)
    if current is None or current == canonical or _STOW_PATH_RE.fullmatch(current):
        return canonical
    try:
        layout.resolve_inside(ctx.root, current)
    except BadRequestError:
        return canonical
    return current  # a file of the tree under its own name: replaced where it is


def _stage(ctx: StoreContext, items: list[_Item]) -> None:
    from dicomfs.storage.scan import read_file

    holders = _holders(ctx, [item.sop for item in items if item.sop is not None])
    for item in items:
        assert item.sop is not None
        item.relpath = _target(ctx, item, holders.get(item.sop))
        target = ctx.root / item.relpath
        if not layout.is_inside(ctx.root, target.parent):
            item.failure, item.message = FAILURE_PROCESSING, "the folder leads outside the store"
            continue
        try:
            item.staged = atomic.stage(target, item.data, durable=False, root=ctx.root)
        except OSError as exc:
            item.failure = (
                FAILURE_OUT_OF_RESOURCES
                if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else FAILURE_PROCESSING
            )
            item.message = f"cannot write the file: {exc.strerror or exc}"
            continue
        item.data = b""
        temp_rel = item.staged.temporary.relative_to(ctx.root).as_posix()
        record = read_file(ctx.root, temp_rel)
        if not isinstance(record, InstanceRecord):
            item.failure, item.message = FAILURE_PROCESSING, f"cannot index: {record.reason}"
            atomic.discard([item.staged])
            item.staged = None
            continue
        # A rename keeps size and mtime, so the record stays true under the final name.
        item.record = dataclasses.replace(record, path=item.relpath)


# ---- step 3: commit -----------------------------------------------------------------------------
def _commit(ctx: StoreContext, items: list[_Item]) -> None:
    staged = [item.staged for item in items if item.staged is not None]
    records = [item.record for item in items if item.record is not None]
    targets = {item.relpath for item in items}
    with atomic.write_lock(ctx.root):
        # Instances held elsewhere by now (another writer, or a move to another study).
        holders = _holders(ctx, [item.sop for item in items if item.sop is not None])
        previous = sorted(
            {held for held in holders.values() if held not in targets}
        )
        tombstones = atomic.tombstone(ctx.root, previous)
        existed = {item.relpath for item in items if (ctx.root / item.relpath).exists()}
        atomic.commit(staged, durable=True)
        for item in items:
            item.staged = None
        try:
            if previous:
                ctx.repo.remove_paths(previous)
            ctx.repo.upsert(records)
        except BaseException:
            # Best effort: keep the tree as the index still describes it.
            for relpath in targets - existed:
                atomic.unlink_quietly(ctx.root / relpath)
            for original, tomb in tombstones:
                tomb.replace(original)
            raise
        for _original, tomb in tombstones:
            atomic.unlink_quietly(tomb)
        atomic.fsync_directories(tomb.parent for _original, tomb in tombstones)


# ---- step 4: answer ----------------------------------------------------------------------------
def _response(ctx: StoreContext, items: list[_Item], study: str | None) -> Dataset:
    base = ctx.base_url
    response = Dataset()
    stored = [item for item in items if item.failure is None]
    studies = {item.study for item in stored}
    if study is not None:
        response.RetrieveURL = f"{base}/studies/{study}"
    elif len(studies) == 1:
        response.RetrieveURL = f"{base}/studies/{studies.pop()}"
    else:
        response.RetrieveURL = None
    failed = [item for item in items if item.failure is not None]
    if failed:
        response.FailedSOPSequence = DicomSequence([_failed_item(item) for item in failed])
    if stored:
        response.ReferencedSOPSequence = DicomSequence(
            [_referenced_item(base, item) for item in stored]
        )
    return response


def _referenced_item(base: str, item: _Item) -> Dataset:
    out = Dataset()
    out.ReferencedSOPClassUID = item.sop_class
    out.ReferencedSOPInstanceUID = item.sop
    out.RetrieveURL = (
        f"{base}/studies/{item.study}/series/{item.series}/instances/{item.sop}"
    )
    return out


def _failed_item(item: _Item) -> Dataset:
    out = Dataset()
    out.ReferencedSOPClassUID = item.sop_class
    out.ReferencedSOPInstanceUID = item.sop
    out.FailureReason = item.failure
    return out
