"""STOW-RS for the file store: write instances as Part10 files, index them, answer like a server.

One call of :func:`store` goes through four steps:

1. **Check** each dataset (a :class:`~pydicom.dataset.Dataset` with well-formed SOP Class, SOP
   Instance, Study and Series Instance UIDs, CONFORMANCE I-12; the Study Instance UID of the
   request, if any, I-09) and **encode** it as a Part10 file with a File Meta header made here
   (:func:`dicomfs.file.part10.encode_part10`).
2. **Stage**: parse each file's bytes with the scanner's parser
   (:func:`dicomfs.storage.scan.read_buffer`), so the index rows are those ``sync`` would make;
   create the folders, once each; write every file under a temporary name next to its final
   name; then make them all durable at once (:func:`dicomfs.storage.atomic.sync_staged`: one
   ``syncfs`` of a local Linux file system for four files or more, else an fsync per file).
3. **Commit**, holding the store's writer lock: rename the files over their final names, fsync
   their folders, and upsert their index rows in one transaction. A file that replaces an
   instance stored elsewhere in the tree removes the old file (tombstone, rows, unlink).
4. **Answer** with the Store Instances Response (PS3.18 Annex I, CONFORMANCE I-04, I-06, I-07).

Duplicate SOP Instance UIDs (CONFORMANCE I-10) are **replaced**, as Orthanc does with
``OverwriteInstances``: the store keeps exactly one file and one index row per SOP Instance UID,
and the response reports the instance as stored, without a warning. See ``docs/stow.md``.
"""

from __future__ import annotations

import dataclasses
import errno
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from dicomfs.errors import BadRequestError, ConflictError, ReadOnlyError
from dicomfs.file.part10 import (
    FAILURE_PROCESSING,
    FAILURE_TRANSFER_SYNTAX,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    EncodingError,
    encode_part10,
)
from dicomfs.index.repository import INSTANCE_COLUMNS, PreparedInstance
from dicomfs.pixels.frames import missing_pixel_bytes
from dicomfs.storage import atomic, layout
from dicomfs.storage.scan import read_buffer

if TYPE_CHECKING:
    from dicomfs.file.context import StoreContext

__all__ = [
    "FAILURE_CANNOT_UNDERSTAND",
    "FAILURE_DATASET_MISMATCH",
    "FAILURE_OUT_OF_RESOURCES",
    "FAILURE_PROCESSING",
    "FAILURE_STUDY_MISMATCH",
    "FAILURE_TRANSFER_SYNTAX",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "encode_part10",
    "store",
]

#: FailureReason A700: out of resources (the disk is full).
FAILURE_OUT_OF_RESOURCES = 0xA700
#: FailureReason A901 (43265): the instance's Study Instance UID is not the request's (I-09).
FAILURE_STUDY_MISMATCH = 0xA901
#: FailureReason A900: the data set does not match its SOP Class (native pixel data shorter
#: than its Image Pixel attributes declare).
FAILURE_DATASET_MISMATCH = 0xA900
#: FailureReason C000: cannot understand (not a dataset; a required UID missing or malformed).
FAILURE_CANNOT_UNDERSTAND = 0xC000

_REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
_STOW_PATH_RE = re.compile(r"[0-9.]+/[0-9.]+/[0-9.]+\.dcm")
_SOP_CLASS = BaseTag(0x00080016)
_SOP_INSTANCE = BaseTag(0x00080018)
_STUDY_INSTANCE = BaseTag(0x0020000D)
_SERIES_INSTANCE = BaseTag(0x0020000E)
_REFERENCED_CLASS = BaseTag(0x00081150)
_REFERENCED_SOP = BaseTag(0x00081155)
_RETRIEVE_URL = BaseTag(0x00081190)
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
    record: PreparedInstance | None = None
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
        studies, or nothing was stored), ReferencedSOPSequence (0008,1199) for the stored
        instances and FailedSOPSequence (0008,1198) only when something failed (I-04).

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

    items = [_check(n, ds, study_instance_uid) for n, ds in enumerate(datasets)]
    pending: list[_Item] = []
    try:
        pending = _stage(ctx, items, datasets)
        _share_failures(items, pending)
        ready = [item for item in pending if item.failure is None]
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
def _uid_value(ds: Dataset, tag: BaseTag) -> str | None:
    element = ds.get(tag) if tag in ds._dict else None  # by tag: no failed attribute lookup
    value = element.value if element is not None else None
    if isinstance(value, str) and layout.is_valid_uid(str(value)):
        return str(value)
    return None


def _check(position: int, ds: object, study: str | None) -> _Item:
    item = _Item(position)
    if not isinstance(ds, Dataset):
        item.failure, item.message = FAILURE_CANNOT_UNDERSTAND, "not a pydicom Dataset"
        return item
    item.sop_class = _uid_value(ds, _SOP_CLASS)
    item.sop = _uid_value(ds, _SOP_INSTANCE)
    item.study = _uid_value(ds, _STUDY_INSTANCE)
    item.series = _uid_value(ds, _SERIES_INSTANCE)
    values = (item.sop_class, item.sop, item.study, item.series)
    bad = [kw for kw, v in zip(_REQUIRED, values, strict=True) if v is None]
    if bad:
        item.failure = FAILURE_CANNOT_UNDERSTAND
        item.message = "missing or malformed " + ", ".join(bad)
    elif study is not None and item.study != study:
        item.failure = FAILURE_STUDY_MISMATCH
        item.message = f"StudyInstanceUID {item.study} is not the request's {study}"
    return item


def _encode(item: _Item, ds: Dataset) -> None:
    try:
        item.data = encode_part10(ds)
    except EncodingError as exc:
        item.failure, item.message = exc.reason, str(exc)


# ---- step 2: stage ------------------------------------------------------------------------------
def _holders(ctx: StoreContext, sops: list[str]) -> dict[str, str]:
    """``SOP Instance UID -> relative path`` of the indexed files holding these instances."""
    return ctx.repo.paths_of_sops(sops)


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


def _stage(ctx: StoreContext, items: list[_Item], datasets: Sequence[Dataset]) -> list[_Item]:
    """Encode, write and flush the files; return the items written (one per SOP Instance UID).

    The same SOP Instance UID twice in one request: the last dataset that encodes is written.
    Files are written one after the other by this thread (without fsync, a write only fills
    the page cache) and made durable together at the end: threads fsyncing files one by one
    were slower (8 ms for 50 small files, against 3 ms for one ``syncfs``) and fought this
    thread for the GIL.
    """
    left = Counter(item.sop for item in items if item.failure is None)
    holders = _holders(ctx, [sop for sop in left if sop is not None])
    best: dict[str, _Item] = {}
    written: list[_Item] = []
    for item in items:
        if item.failure is not None or item.sop is None:
            continue
        _encode(item, datasets[item.position])
        if item.failure is None:
            best[item.sop] = item
        left[item.sop] -= 1
        if left[item.sop] == 0 and item.sop in best:
            chosen = best.pop(item.sop)
            chosen.relpath = _target(ctx, chosen, holders.get(item.sop))
            written.append(chosen)
    folders = _make_folders(ctx, written)
    try:
        for item in written:
            if item.failure is None:
                _parse(item)
        for item in written:
            if item.failure is None:
                _write(ctx, item, folders)
        _sync(written)
    except BaseException:
        atomic.discard(item.staged for item in written if item.staged is not None)
        raise
    return written


def _share_failures(items: list[_Item], written: list[_Item]) -> None:
    """An earlier dataset with the SOP Instance UID of one written fails when that one failed."""
    by_sop = {item.sop: item for item in written}
    for item in items:
        chosen = by_sop.get(item.sop)
        if item.failure is None and chosen is not None and chosen.failure is not None:
            item.failure, item.message = chosen.failure, chosen.message
        item.data = b""  # the encodings of datasets not written


def _make_folders(ctx: StoreContext, items: list[_Item]) -> dict[Path, list[Path]]:
    """Create the items' folders, each once: ``folder -> folders created for it``.

    An item whose folder leads outside the store, or cannot be created, fails here.
    """
    folders: dict[Path, list[Path] | OSError | None] = {}
    for item in items:
        folder = (ctx.root / item.relpath).parent
        if folder not in folders:
            try:
                inside = layout.is_inside(ctx.root, folder)
                folders[folder] = atomic.ensure_directory(folder, ctx.root) if inside else None
            except OSError as exc:
                folders[folder] = exc
        made = folders[folder]
        if made is None:
            item.failure, item.message = FAILURE_PROCESSING, "the folder leads outside the store"
        elif isinstance(made, OSError):
            _write_failed(item, made)
    return {folder: made for folder, made in folders.items() if isinstance(made, list)}


def _parse(item: _Item) -> None:
    """The item's index record, parsed from the bytes being written meanwhile."""
    record = read_buffer(item.relpath, item.data, 0)
    if not isinstance(record, PreparedInstance):
        item.failure, item.message = FAILURE_PROCESSING, f"cannot index: {record.reason}"
        return
    values = dict(zip(INSTANCE_COLUMNS, record.values, strict=True))
    missing = missing_pixel_bytes(
        values["rows"], values["columns"], values["samples_per_pixel"],
        values["bits_allocated"], values["number_of_frames"], values["pixel_data_length"],
    )
    if missing:  # its frames could not be served: refused now rather than a 500 later
        item.failure = FAILURE_DATASET_MISMATCH
        item.message = (
            f"the pixel data lacks {missing} bytes of the frames that Rows, Columns, "
            "SamplesPerPixel, BitsAllocated and NumberOfFrames declare"
        )
        return
    item.record = record


def _write_failed(item: _Item, exc: OSError) -> None:
    if item.failure is None:
        item.failure = (
            FAILURE_OUT_OF_RESOURCES
            if exc.errno in (errno.ENOSPC, errno.EDQUOT)
            else FAILURE_PROCESSING
        )
        item.message = f"cannot write the file: {exc.strerror or exc}"


def _sync(items: list[_Item]) -> None:
    """Make the written files durable, all at once; if that fails, every one of them fails."""
    staged = [(item, item.staged) for item in items if item.staged is not None]
    try:
        atomic.sync_staged(file for _item, file in staged)
    except OSError as exc:
        atomic.discard(file for _item, file in staged)
        for item, _file in staged:
            item.staged = None
            _write_failed(item, exc)


def _write(ctx: StoreContext, item: _Item, folders: dict[Path, list[Path]]) -> None:
    """Write the item's file under a temporary name (made durable by the caller for all at once).

    A rename keeps size and mtime, so the record completed here stays true of the final file.
    """
    target = ctx.root / item.relpath
    try:
        item.staged = atomic.stage(
            target, item.data, durable=False, root=ctx.root, created=folders[target.parent]
        )
    except OSError as exc:
        _write_failed(item, exc)
        return
    finally:
        item.data = b""
    if item.record is not None:
        item.record = item.record._replace(mtime_ns=item.staged.mtime_ns)


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
    if stored and study is not None:
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
    # The UIDs were checked by _check: the elements are made without validating them again.
    url = f"{base}/studies/{item.study}/series/{item.series}/instances/{item.sop}"
    return Dataset(
        {
            _REFERENCED_CLASS: _element(_REFERENCED_CLASS, "UI", item.sop_class),
            _REFERENCED_SOP: _element(_REFERENCED_SOP, "UI", item.sop),
            _RETRIEVE_URL: _element(_RETRIEVE_URL, "UR", url),
        }
    )


def _element(tag: BaseTag, vr: str, value: str | None) -> DataElement:
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _failed_item(item: _Item) -> Dataset:
    out = Dataset()
    out.ReferencedSOPClassUID = item.sop_class
    out.ReferencedSOPInstanceUID = item.sop
    out.FailureReason = item.failure
    return out
