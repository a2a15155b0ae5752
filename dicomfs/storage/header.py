"""Read one file's header into an index record (private to :mod:`dicomfs.storage.scan`).

Only headers are read. Most files go through the fast path (:mod:`dicomfs.storage.rawheader`
and :func:`dicomfs.storage.indexjson.raw_json`: no pydicom dataset is built); the others, and
every file the fast path is unsure of, are read with ``dcmread(fp, stop_before_pixels=True)``
and the pixel data element is located by :mod:`dicomfs.storage.pixeldata` with seeks. Both paths
give the same record. Files without a File Meta header are read with ``force=True`` when they
look like a DICOM data set (their transfer syntax is deduced from the encoding and
``has_file_meta`` is ``False``).

Deflated files (Deflated Explicit VR Little Endian) are indexed, but their pixel data cannot be
located in the file: ``pixel_data_tag`` says which pixel data element they hold, while
``pixel_data_offset``, ``pixel_data_length`` and ``frame_fragments`` are ``None`` (WADO parses
the whole file to serve their frames).
"""

from __future__ import annotations

import functools
import os
import re
import struct
import zlib
from io import BytesIO, FileIO
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _at_pixel_data, _read_file_meta_info, read_dataset, read_preamble
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomfs.index.columns import instance_columns, series_columns, split_levels, study_columns
from dicomfs.index.records import InstanceRecord, Rejection
from dicomfs.index.repository import PreparedInstance, prepare
from dicomfs.storage import indexjson, rawheader
from dicomfs.storage.pixeldata import PixelDataError, locate_pixel_data
from dicomfs.storage.safefile import BoundedReader

__all__ = ["READ_ERRORS", "read", "read_prepared"]

#: What pydicom (or the file system) raises on files it cannot read; each becomes a Rejection.
READ_ERRORS: tuple[type[BaseException], ...] = (
    InvalidDicomError,
    OSError,
    EOFError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    RecursionError,
    struct.error,
    zlib.error,
    UnicodeError,
)

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_ENCODINGS = {
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
}


class _Rejected(Exception):
    def __init__(self, reason: str, sop: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sop = sop


RejectedFile = tuple[Rejection, int, int, str | None]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class _Parsed(NamedTuple):
    size: int
    mtime_ns: int
    instance: dict[str, Any]
    attributes: dict[str, Any]
    #: The index texts (whole, study part, series part), when the fast path made them.
    texts: indexjson.Texts | None


def read(root: Path, relpath: str) -> InstanceRecord | RejectedFile:
    """Read ``root/relpath``; a record, or ``(Rejection, size, mtime_ns, sop_uid)``."""
    parsed = _read(root, relpath, False)
    if not isinstance(parsed, _Parsed):
        return parsed
    attributes = parsed.attributes
    study_json, series_json = split_levels(attributes)
    return InstanceRecord(
        path=relpath,
        size=parsed.size,
        mtime_ns=parsed.mtime_ns,
        study=study_columns(attributes),
        series=series_columns(attributes),
        instance=parsed.instance,
        study_attributes=study_json,
        series_attributes=series_json,
        instance_attributes=attributes,
    )


def read_prepared(root: Path, relpath: str) -> PreparedInstance | RejectedFile:
    """Like :func:`read`, in the compact form the scanner's workers send back."""
    parsed = _read(root, relpath, True)
    if not isinstance(parsed, _Parsed):
        return parsed
    return prepare(
        relpath, parsed.size, parsed.mtime_ns, parsed.instance, parsed.attributes, parsed.texts
    )


def _read(root: Path, relpath: str, encode: bool) -> _Parsed | RejectedFile:
    try:
        fp = open(os.path.join(root, relpath), "rb", buffering=0)
    except OSError as exc:
        return (Rejection(relpath, f"unreadable: {exc.strerror or _one_line(exc)}"), 0, 0, None)
    with fp:
        st = os.fstat(fp.fileno())
        size, mtime = st.st_size, st.st_mtime_ns
        try:
            instance, attributes, texts = _parse(fp, size, encode)
        except _Rejected as rejected:
            return (Rejection(relpath, rejected.reason), size, mtime, rejected.sop)
        except READ_ERRORS as exc:
            reason = f"unreadable DICOM ({type(exc).__name__}): {_one_line(exc)}"
            return (Rejection(relpath, reason), size, mtime, None)
    return _Parsed(size, mtime, instance, attributes, texts)


class _NamedBuffer(BytesIO):
    """Bytes read like a file: pydicom asks a ``BufferedReader`` for its raw stream's name."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def read_buffer(relpath: str, data: bytes, mtime_ns: int) -> PreparedInstance | RejectedFile:
    """Like :func:`read_prepared`, for a file whose whole content is ``data`` (STOW's own files).

    The same parser as for a file on disk; ``size`` is ``len(data)``.
    """
    size = len(data)
    try:
        instance, attributes, texts = _parse(cast(FileIO, _NamedBuffer(data, relpath)), size, True)
    except _Rejected as rejected:
        return (Rejection(relpath, rejected.reason), size, mtime_ns, rejected.sop)
    except READ_ERRORS as exc:
        reason = f"unreadable DICOM ({type(exc).__name__}): {_one_line(exc)}"
        return (Rejection(relpath, reason), size, mtime_ns, None)
    return prepare(relpath, size, mtime_ns, instance, attributes, texts)


def _looks_like_dataset(fp: BinaryIO) -> bool:
    """A file without preamble may still be DICOM: does it start with a group 0002/0008 tag?"""
    fp.seek(0)
    head = fp.read(4)
    fp.seek(0)
    if len(head) < 4:
        return False
    return head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x08")


def _check_complete(ds: Dataset, position: int, size: int, sop: str | None) -> None:
    """A data set without pixel data must end exactly at the end of the file.

    pydicom stops quietly at the end of a file cut in the middle of an element.
    """
    if position < size:
        raise _Rejected(f"truncated: the file ends inside an element header at {position}", sop)
    keys = [k for k in ds.keys() if k >> 16 != 0x0002]
    if not keys:
        return
    last = ds.get_item(max(keys))
    if isinstance(last, RawDataElement) and last.length != 0xFFFFFFFF:
        end = last.value_tell + last.length
        if end != size or (last.value is not None and len(last.value) != last.length):
            raise _Rejected(
                f"truncated: element {int(last.tag):08X} of {last.length} bytes ends beyond "
                f"the end of the file ({size} bytes)",
                sop,
            )


def _parse(
    fp: FileIO, size: int, encode: bool
) -> tuple[dict[str, Any], dict[str, Any], indexjson.Texts | None]:
    """Instance columns, DICOM JSON (and its text if ``encode``): the fast path, else pydicom.

    The attributes made with ``encode`` share element dicts with a cache: read-only.
    """
    if size == 0:
        raise _Rejected("not a DICOM file (empty)")
    texts: indexjson.Texts | None = None
    try:
        raw = rawheader.parse(fp, size)
        if encode:
            attributes, texts = indexjson.raw_json_text(raw)
        else:
            attributes = indexjson.raw_json(raw)
    except rawheader.Fallback:
        fp.seek(0)
        return (*_parse_with_pydicom(BoundedReader(fp, size), size), None)
    pixel: dict[str, Any] = {
        "pixel_data_tag": raw.pixel_tag,
        "pixel_data_offset": raw.pixel_offset,
        "pixel_data_length": raw.pixel_length,
        "frame_fragments": None,
    }
    if raw.pixel_length == -1:
        assert raw.pixel_header is not None
        fp.seek(raw.pixel_header)
        try:
            pixel = locate_pixel_data(
                fp, _frame_tables(raw), implicit_vr=raw.implicit, little_endian=True,
                file_size=size,
            )
        except PixelDataError as exc:
            raise _Rejected(str(exc)) from exc
    return (*_finish(attributes, pixel, raw.transfer_syntax, True), texts)


def _frame_tables(raw: rawheader.RawHeader) -> Dataset:
    """The elements :func:`locate_pixel_data` reads (NumberOfFrames, Extended Offset Table)."""
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    for tag, vr, start, end in raw.elements:
        if tag in (0x00280008, 0x7FE00001):
            key = BaseTag(tag)
            empty = cast(bytes | None, empty_value_for_VR(vr, raw=True))
            value = raw.data[start:end] if end > start else empty
            elements[key] = RawDataElement(
                key, None if raw.implicit else vr, end - start, value, start, raw.implicit, True
            )
    return Dataset(elements)


def _parse_with_pydicom(
    fp: BinaryIO, file_size: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    size = file_size
    ds: Dataset
    try:
        ds = dcmread(fp, stop_before_pixels=True)
    except InvalidDicomError as exc:
        if not _looks_like_dataset(fp):
            raise _Rejected("not a DICOM file (no DICM prefix, no data set)") from exc
        ds = dcmread(fp, stop_before_pixels=True, force=True)
    meta = ds.file_meta
    has_meta = len(meta) > 0
    transfer_syntax = meta.get("TransferSyntaxUID")
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        raise _Rejected("not a DICOM file (no data set)")
    deflated = transfer_syntax == DeflatedExplicitVRLittleEndian
    if deflated:
        # Read the inflated data set again, to find where the pixel data element starts.
        fp.seek(0)
        read_preamble(fp, False)
        _read_file_meta_info(fp)
        inflated = zlib.decompress(fp.read(), -zlib.MAX_WBITS)
        fp = BytesIO(inflated)
        size = len(inflated)
        ds = read_dataset(fp, False, True, stop_when=_at_pixel_data)
    if not transfer_syntax:
        transfer_syntax = _ENCODINGS.get((bool(implicit), bool(little)), ExplicitVRLittleEndian)
    transfer_syntax = str(transfer_syntax).strip().rstrip("\0")
    position = fp.tell()
    try:
        pixel = locate_pixel_data(
            fp, ds, implicit_vr=bool(implicit), little_endian=bool(little), file_size=size
        )
    except PixelDataError as exc:
        raise _Rejected(str(exc)) from exc
    if pixel["pixel_data_tag"] is None:
        _check_complete(ds, position, size, None)
    if deflated and pixel["pixel_data_length"] != -1:  # -1: rejected by _finish
        pixel.update(pixel_data_offset=None, pixel_data_length=None)
    return _finish(indexjson.dataset_json(ds), pixel, transfer_syntax, has_meta)


def _finish(
    attributes: dict[str, Any], pixel: dict[str, Any], transfer_syntax: str, has_meta: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the UIDs and the pixel data encoding; the instance columns."""
    instance = instance_columns(attributes)
    sop = instance["sop_instance_uid"]
    for keyword, key in (
        ("StudyInstanceUID", "study_instance_uid"),
        ("SeriesInstanceUID", "series_instance_uid"),
        ("SOPInstanceUID", "sop_instance_uid"),
    ):
        value = instance[key]
        if not value:
            raise _Rejected(f"no {keyword}", sop)
        if len(value) > 64 or not _UID.match(value):
            raise _Rejected(f"invalid {keyword} {value[:80]!r}", sop)
    encapsulated = pixel["pixel_data_length"] == -1
    expected = _is_encapsulated(transfer_syntax)
    if pixel["pixel_data_tag"] is not None and expected is not None and encapsulated != expected:
        if not has_meta:
            raise _Rejected(
                "encapsulated pixel data without File Meta (transfer syntax unknown)", sop
            )
        raise _Rejected(
            f"pixel data is {'' if encapsulated else 'not '}encapsulated but the transfer syntax "
            f"is {transfer_syntax}",
            sop,
        )
    instance.update(pixel)
    instance["transfer_syntax_uid"] = transfer_syntax
    instance["has_file_meta"] = has_meta
    return instance, attributes


@functools.lru_cache(maxsize=64)
def _is_encapsulated(transfer_syntax: str) -> bool | None:
    """Whether the syntax encapsulates pixel data; None for a syntax pydicom does not know
    (a newer one, such as 2024's Deflated Image Frame Compression): the data says it then."""
    try:
        return bool(UID(transfer_syntax).is_encapsulated)
    except ValueError:
        return None
