"""The DICOM JSON the index stores for an instance: every top-level non-bulk attribute.

Equal to :func:`dicomfs.dicomjson.dataset_to_json` with ``bulk_threshold=1024`` and
``skip_bulk=True``: group 0002, the pixel data elements and binary values longer than
:data:`BULK_THRESHOLD` bytes are left out (WADO serves those from the file); shorter binary
values are kept as InlineBinary. Keys are sorted.

Two ways to make it: :func:`dataset_json` from a pydicom dataset, and :func:`raw_json` from the
elements found by the scanner's fast path (:mod:`dicomfs.storage.rawheader`), which skips
pydicom's datasets entirely and converts the same bytes with the same value functions.
"""

from __future__ import annotations

import json
from typing import Any

from pydicom.dataset import Dataset

from dicomfs._jsonvalues import (
    BULK_VRS,
    DEFAULT_CHARSET,
    SIMPLE_VRS,
    charset_for,
    charset_terms_from_bytes,
    inline_binary,
    values_from_bytes,
)
from dicomfs.dicomjson import dataset_to_json
from dicomfs.storage.rawheader import Element, Fallback

__all__ = ["BULK_THRESHOLD", "dataset_json", "dumps", "raw_json"]

#: Binary values longer than this (bytes) are bulk data, never stored in the index.
BULK_THRESHOLD = 1024
_CHARSET_TAG = 0x00080005
_KEYS: dict[int, str] = {}


def dataset_json(ds: Dataset) -> dict[str, Any]:
    """DICOM JSON of ``ds`` for the index (see the module docstring)."""
    return dataset_to_json(ds, bulk_threshold=BULK_THRESHOLD, skip_bulk=True)


def raw_json(data: bytes, elements: list[Element]) -> dict[str, Any]:
    """DICOM JSON of top-level little-endian elements ``(tag, vr, start, end)`` of ``data``.

    The elements are in ascending tag order, without group 0002, sequences, ``UN`` or pixel
    data (what :func:`dicomfs.storage.rawheader.parse` returns).

    Raises
    ------
    Fallback
        An element of a VR this function does not convert.
    """
    charset = DEFAULT_CHARSET
    for tag, _vr, start, end in elements:
        if tag >= _CHARSET_TAG:
            if tag == _CHARSET_TAG:
                charset = charset_for(charset_terms_from_bytes(data[start:end]))
            break
    out: dict[str, Any] = {}
    keys = _KEYS
    for tag, vr, start, end in elements:
        if not tag & 0xFFFF:  # group length (J-01)
            continue
        key = keys.get(tag)
        if key is None:
            key = keys[tag] = f"{tag:08X}"
        if vr in SIMPLE_VRS:
            values = values_from_bytes(vr, data[start:end], charset, True)
            out[key] = {"vr": vr, "Value": values} if values else {"vr": vr}
        elif vr in BULK_VRS and vr != "UN":
            length = end - start
            if length == 0:
                out[key] = {"vr": vr}
            elif length <= BULK_THRESHOLD:
                out[key] = {"vr": vr, "InlineBinary": inline_binary(vr, data[start:end], True)}
        else:
            raise Fallback
    return out


def dumps(attributes: dict[str, Any]) -> str:
    """The text the index stores for DICOM JSON (keys sorted, compact, UTF-8 characters kept)."""
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
