"""STOW-RS over HTTP: parse the multipart request, store in batches, answer per PS3.18 Annex I.

* The request must be ``multipart/related; type="application/dicom"`` (a missing ``type`` is
  read as application/dicom); any other Content-Type is 415 (I-03), a multipart without a
  boundary is 400. The body is parsed as it arrives by :func:`dicomfs.web.multipart.iter_parts`
  (quoted boundary, CRLF preamble, parts without Content-Length, chunked bodies: I-15).
* **Nothing is stored before the whole body has arrived well-formed**: the parts are spooled
  (in memory up to :data:`BATCH_BYTES`, then in a temporary file outside the store), and the
  UIDs of each are read. A truncated or malformed body, or a part that is not DICOM and whose
  UIDs cannot be read, makes the request a 400 that stored nothing (I-11, I-08).
* Then the parts are read with pydicom and handed to ``store_instances`` in batches
  (:data:`BATCH_PARTS` parts or :data:`BATCH_BYTES` bytes), so a large request is never held in
  memory whole; the responses of the batches are merged into one Store Instances Response. A
  part whose UIDs were read but whose data set cannot be is a failure with FailureReason C000
  (49152) naming those UIDs (I-11).
* Status (I-08): 200 when everything was stored, 202 when something was stored and something
  failed or has a warning; when nothing was stored, 400 if every failure is a syntax failure
  (Cxxx: cannot understand, a required UID missing or malformed) and 409 otherwise (a study
  mismatch, a data set that does not match its SOP Class, the disk full...). RetrieveURL is
  empty when nothing was stored (it would not resolve).
* The response is ``application/dicom+json`` exactly (I-16), also for 400 and 409.
"""

from __future__ import annotations

import io
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pydicom
from pydicom import config
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence as DicomSequence

from dicomfs.dicomjson import dataset_to_json
from dicomfs.errors import BadRequestError, ConflictError, UnsupportedMediaTypeError
from dicomfs.protocol import DICOMClient
from dicomfs.server.messages import Response, json_response
from dicomfs.web.multipart import MultipartError, iter_parts, parse_media_type

__all__ = ["BATCH_BYTES", "BATCH_PARTS", "FAILURE_CANNOT_UNDERSTAND", "store"]

#: Parts stored per ``store_instances`` call.
BATCH_PARTS = 32
#: Bytes of parts stored per ``store_instances`` call (whichever limit comes first).
BATCH_BYTES = 64 * 1024 * 1024
#: FailureReason C000: the part cannot be understood (not DICOM).
FAILURE_CANNOT_UNDERSTAND = 0xC000

_READ_ERRORS = (InvalidDicomError, ValueError, EOFError, struct.error, KeyError, TypeError,
                AttributeError, IndexError, OverflowError, UnicodeError, NotImplementedError)
_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
_UID_TAGS = [0x00080016, 0x00080018, 0x0020000D, 0x0020000E]  # the tags of _UIDS


def check_content_type(value: str | None) -> str:
    """The boundary of a STOW request's Content-Type.

    Raises
    ------
    UnsupportedMediaTypeError
        Not ``multipart/related`` with type ``application/dicom`` (I-03).
    BadRequestError
        No boundary.
    """
    if not value:
        raise UnsupportedMediaTypeError("a STOW-RS request needs a Content-Type (I-03)")
    media_type, params = parse_media_type(value)
    part_type = params.get("type", "application/dicom").strip().lower()
    if media_type != "multipart/related" or part_type != "application/dicom":
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Type {value!r}: only multipart/related; "
            'type="application/dicom" is accepted (I-03)'
        )
    boundary = params.get("boundary", "")
    if not boundary:
        raise BadRequestError("the multipart Content-Type has no boundary")
    return boundary


def _uids_as_read(ds: Dataset) -> None:
    """Convert the four UIDs from their raw bytes without pydicom's validation warnings: a
    malformed UID is the store's to report (C000, I-12), not a warning of the server."""
    for keyword in _UIDS:
        tag = tag_for_keyword(keyword)
        if tag is None or tag not in ds:
            continue
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes):
            text = raw.value.decode("ascii", "replace").rstrip("\0 ").strip()
            ds[tag] = DataElement(tag, "UI", text, validation_mode=config.IGNORE)


def _read(content: bytes, content_type: str | None) -> Dataset | None:
    """The part as a dataset, or None when it is not DICOM (the UIDs are read here, so a
    garbled data set fails now rather than inside the store)."""
    if content_type is not None and parse_media_type(content_type)[0] != "application/dicom":
        return None
    for force in (False, True):
        try:
            ds = pydicom.dcmread(io.BytesIO(content), force=force)
            _uids_as_read(ds)
            if force and not any(keyword in ds for keyword in _UIDS):
                return None
            return ds
        except InvalidDicomError:
            continue
        except _READ_ERRORS:
            return None
    return None


def _uids_of(content: bytes, content_type: str | None) -> dict[str, str] | None:
    """The UIDs a part's header holds (those of :data:`_UIDS` it has), or None when the part
    is not DICOM at all."""
    if content_type is not None and parse_media_type(content_type)[0] != "application/dicom":
        return None
    for force in (False, True):
        try:
            ds = pydicom.dcmread(
                io.BytesIO(content), force=force, stop_before_pixels=True,
                specific_tags=_UID_TAGS,
            )
            _uids_as_read(ds)
        except InvalidDicomError:
            continue
        except _READ_ERRORS:
            return None
        uids = {kw: str(ds.get(kw)) for kw in _UIDS if isinstance(ds.get(kw), str)}
        return uids or None
    return None


@dataclass
class _Spooled:
    """Where a part's content lies in the spool, and what its header says."""

    offset: int
    length: int
    content_type: str | None
    uids: dict[str, str]


@dataclass
class _Outcome:
    """The merged response of every batch."""

    stored: list[Dataset] = field(default_factory=list)
    failed: list[Dataset] = field(default_factory=list)
    studies: dict[str, str] = field(default_factory=dict)  # SOP Instance UID -> Study UID

    def add(self, response: Dataset | None) -> None:
        if response is None:
            return
        self.stored.extend(response.get("ReferencedSOPSequence", []))
        self.failed.extend(response.get("FailedSOPSequence", []))


def _unreadable_item(uids: dict[str, str]) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = uids.get("SOPClassUID", "")
    item.ReferencedSOPInstanceUID = uids.get("SOPInstanceUID", "")
    item.FailureReason = FAILURE_CANNOT_UNDERSTAND
    return item


def _spool(
    body: Iterable[bytes], boundary: str, spool: tempfile.SpooledTemporaryFile[bytes]
) -> list[_Spooled]:
    """Every part of the body into ``spool``, with its UIDs; nothing is stored yet.

    Raises
    ------
    BadRequestError
        A malformed or truncated body, no part, or a part that is not DICOM (I-11).
    """
    spooled: list[_Spooled] = []
    unreadable: list[int] = []
    try:
        for number, part in enumerate(iter_parts(body, boundary), 1):
            uids = _uids_of(part.content, part.content_type)
            if uids is None:
                unreadable.append(number)
                continue
            spooled.append(_Spooled(spool.tell(), len(part.content), part.content_type, uids))
            spool.write(part.content)
    except MultipartError as exc:
        raise BadRequestError(f"malformed multipart body (nothing was stored): {exc}") from exc
    if unreadable:
        listed = ", ".join(map(str, unreadable[:10])) + (", ..." if len(unreadable) > 10 else "")
        raise BadRequestError(
            f"part {listed} of the request is not a DICOM instance whose UIDs can be read "
            "(nothing was stored, I-11)"
        )
    if not spooled:
        raise BadRequestError("the STOW-RS request holds no part")
    return spooled


def _batches(
    spooled: list[_Spooled], spool: tempfile.SpooledTemporaryFile[bytes], outcome: _Outcome
) -> Iterator[list[Dataset]]:
    batch: list[Dataset] = []
    size = 0
    for entry in spooled:
        spool.seek(entry.offset)
        ds = _read(spool.read(entry.length), entry.content_type)
        if ds is None:
            outcome.failed.append(_unreadable_item(entry.uids))
            continue
        sop, study = ds.get("SOPInstanceUID"), ds.get("StudyInstanceUID")
        if isinstance(sop, str) and isinstance(study, str):
            outcome.studies[str(sop)] = str(study)
        batch.append(ds)
        size += entry.length
        if len(batch) >= BATCH_PARTS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def store(
    client: DICOMClient, body: Iterable[bytes], boundary: str, study: str | None, base_url: str
) -> Response:
    """Store the parts of a STOW-RS request body and build the HTTP response.

    Raises
    ------
    BadRequestError
        A malformed multipart body, no part at all, or a part that is not DICOM: nothing was
        stored.
    ReadOnlyError
        The store is read-only.
    """
    outcome = _Outcome()
    with tempfile.SpooledTemporaryFile(max_size=BATCH_BYTES) as spool:
        spooled = _spool(body, boundary, spool)
        for batch in _batches(spooled, spool, outcome):
            try:
                outcome.add(client.store_instances(batch, study))
            except ConflictError as exc:
                outcome.add(exc.dataset if isinstance(exc.dataset, Dataset) else None)
    return _response(outcome, study, base_url)


def _is_syntax_failure(item: Dataset) -> bool:
    reason = item.get("FailureReason")
    return isinstance(reason, int) and 0xC000 <= reason <= 0xCFFF


def _response(outcome: _Outcome, study: str | None, base_url: str) -> Response:
    dataset = Dataset()
    stored_studies = {
        outcome.studies.get(str(item.get("ReferencedSOPInstanceUID", "")), "")
        for item in outcome.stored
    }
    if outcome.stored and study is not None:
        dataset.RetrieveURL = f"{base_url}/studies/{study}"
    elif len(stored_studies) == 1 and "" not in stored_studies:
        dataset.RetrieveURL = f"{base_url}/studies/{stored_studies.pop()}"
    else:
        dataset.RetrieveURL = None  # Type 2: empty when no one study was stored
    if outcome.failed:
        dataset.FailedSOPSequence = DicomSequence(outcome.failed)
    if outcome.stored:
        dataset.ReferencedSOPSequence = DicomSequence(outcome.stored)
    warned = any("WarningReason" in item for item in outcome.stored)
    if outcome.stored:
        status = 202 if outcome.failed or warned else 200
    else:
        status = 400 if all(_is_syntax_failure(item) for item in outcome.failed) else 409
    return json_response(status, dataset_to_json(dataset))
