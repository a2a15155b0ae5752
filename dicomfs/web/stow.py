"""STOW-RS for the web client: a streamed multipart request body and the response dataset.

The body is produced lazily, one instance at a time (a dataset is encoded when its turn comes,
a file is read in ``chunk_size`` pieces), so storing a large series never holds it in memory.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any
from xml.etree import ElementTree

import pydicom
import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import FLOAT_VR, INT_VR

from dicomfs.dicomjson import load_json_dataset
from dicomfs.errors import BadRequestError
from dicomfs.web.multipart import encode_multipart, parse_media_type

__all__ = ["StowItem", "encode_dataset", "iter_stow_body", "parse_stow_response"]

logger = logging.getLogger("dicomfs.web")

#: What ``store_instances`` accepts: datasets, or paths of Part10 files (streamed from disk).
StowItem = Dataset | str | os.PathLike[str]

_PART_HEADERS = {"Content-Type": "application/dicom"}


def _detached(dataset: Dataset) -> Dataset:
    """A new dataset sharing ``dataset``'s values, with its own copy of every element whose VR
    is ambiguous (``OB or OW``, ``US or SS``...), nested ones included: pydicom resolves those
    VRs in place when it writes, and ``store_instances`` must not modify its input."""
    out = Dataset()
    for element in dataset:
        if element.VR == "SQ":
            element = copy.copy(element)
            element.value = [_detached(item) for item in element.value]
        elif " or " in element.VR:
            element = copy.copy(element)
        out.add(element)
    return out


def _file_meta(dataset: Dataset) -> FileMetaDataset:
    """A copy of the File Meta Information, completed from the dataset where elements are
    missing (no File Meta at all: Explicit VR Little Endian, as the file client stores it)."""
    original = getattr(dataset, "file_meta", None)
    meta = FileMetaDataset(copy.deepcopy(original)) if original is not None else FileMetaDataset()
    if not meta.get("TransferSyntaxUID"):
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if not meta.get("MediaStorageSOPClassUID") and dataset.get("SOPClassUID"):
        meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    if not meta.get("MediaStorageSOPInstanceUID") and dataset.get("SOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return meta


def encode_dataset(dataset: Dataset) -> bytes:
    """A dataset as a Part10 file (File Meta Information added when missing; Explicit VR Little
    Endian without a Transfer Syntax UID). ``dataset`` itself is not modified.

    Raises
    ------
    BadRequestError
        The dataset cannot be written as a Part10 file (e.g. no SOP Instance UID).
    """
    buffer = io.BytesIO()
    try:
        out = _detached(dataset)
        out.file_meta = _file_meta(dataset)
        out.preamble = getattr(dataset, "preamble", None)
        pydicom.dcmwrite(buffer, out, enforce_file_format=True)
    except (ValueError, AttributeError, TypeError, KeyError) as exc:
        uid = dataset.get("SOPInstanceUID", "?")
        raise BadRequestError(f"cannot encode instance {uid} as a Part10 file: {exc}") from exc
    return buffer.getvalue()


def check_items(items: Sequence[Any]) -> list[StowItem]:
    """Validate ``store_instances``'s argument before anything is sent."""
    if isinstance(items, (Dataset, str, bytes)) or not isinstance(items, Sequence):
        raise BadRequestError("datasets must be a sequence of pydicom Datasets (or file paths)")
    if not items:
        raise BadRequestError("nothing to store: datasets is empty")
    checked: list[StowItem] = []
    for item in items:
        if isinstance(item, Dataset):
            checked.append(item)
        elif isinstance(item, (str, os.PathLike)):
            if not os.path.isfile(item):
                raise BadRequestError(f"not a file: {os.fspath(item)!r}")
            checked.append(item)
        else:
            raise BadRequestError(f"not a pydicom Dataset or a file path: {type(item).__name__}")
    return checked


def _content(item: StowItem, chunk_size: int) -> Iterator[bytes]:
    if isinstance(item, Dataset):
        yield encode_dataset(item)
        return
    with open(item, "rb") as file:
        while chunk := file.read(chunk_size):
            yield chunk


def iter_stow_body(items: Sequence[StowItem], boundary: str, chunk_size: int) -> Iterator[bytes]:
    """The multipart/related request body, produced lazily."""
    return encode_multipart(
        ((_PART_HEADERS, _content(item, chunk_size)) for item in items), boundary
    )


def parse_stow_response(response: requests.Response) -> Dataset:
    """The Store Instances Response dataset from a STOW-RS response (JSON or XML body).

    The media type is read with its parameters (``application/dicom+json; charset=utf-8``
    works, CONFORMANCE I-16); a body without Content-Type (Orthanc's 4xx) is sniffed. An empty
    FailedSOPSequence is dropped (I-04: present only when something failed).

    Raises
    ------
    ValueError
        The body is neither DICOM JSON nor DICOM XML.
    """
    content = response.content
    if not content.strip():
        return Dataset()
    media_type, _ = parse_media_type(response.headers.get("Content-Type", ""))
    is_xml = media_type.endswith("xml") or (not media_type and content.lstrip()[:1] == b"<")
    if is_xml:
        dataset = load_xml_dataset(ElementTree.fromstring(content))
    else:
        body = json.loads(content)
        if isinstance(body, list) and len(body) == 1:
            body = body[0]
        if not isinstance(body, dict):
            raise ValueError("the STOW response is not a DICOM JSON object")
        dataset = load_json_dataset(body)
    if "FailedSOPSequence" in dataset and not dataset.FailedSOPSequence:
        del dataset.FailedSOPSequence
    for item in dataset.get("FailedSOPSequence", []):
        logger.warning(
            "storage of instance %s failed (FailureReason %s)",
            item.get("ReferencedSOPInstanceUID", "?"),
            item.get("FailureReason", "?"),
        )
    return dataset


def _xml_value(vr: str, text: str) -> Any:
    if vr == "AT":
        return int(text, 16)
    if vr in INT_VR:
        return int(text)
    if vr in FLOAT_VR and vr != "DS":
        return float(text)
    return text


def _person_name(element: ElementTree.Element) -> str:
    groups = []
    for group in ("Alphabetic", "Ideographic", "Phonetic"):
        node = _child(element, group)
        if node is None:
            groups.append("")
            continue
        components = [
            (_child_text(node, name) or "")
            for name in ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
        ]
        groups.append("^".join(components).rstrip("^"))
    return "=".join(groups).rstrip("=")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _child_text(element: ElementTree.Element, name: str) -> str | None:
    child = _child(element, name)
    return child.text if child is not None else None


def load_xml_dataset(root: ElementTree.Element) -> Dataset:
    """A dataset from the DICOM Native XML model (PS3.19 A.1), as sent by STOW-RS servers."""
    dataset = Dataset()
    for element in root:
        if _local(element.tag) != "DicomAttribute":
            continue
        tag = int(element.attrib["tag"], 16)
        vr = element.attrib.get("vr", "UN")
        value: Any
        if vr == "SQ":
            value = [load_xml_dataset(item) for item in element if _local(item.tag) == "Item"]
        elif vr == "PN":
            value = [_person_name(v) for v in element if _local(v.tag) == "PersonName"]
        else:
            value = [
                _xml_value(vr, (v.text or "").strip())
                for v in sorted(
                    (v for v in element if _local(v.tag) == "Value"),
                    key=lambda v: int(v.attrib.get("number", "0")),
                )
            ]
        if vr != "SQ":
            value = None if not value else value[0] if len(value) == 1 else value
        dataset.add_new(tag, vr, value)
    return dataset
