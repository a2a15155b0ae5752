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
    Charset,
    charset_for,
    charset_terms_from_bytes,
    inline_binary,
    values_from_bytes,
)
from dicomfs.dicomjson import dataset_to_json
from dicomfs.index.columns import levels_of_tag
from dicomfs.storage.rawheader import Element, Fallback, RawHeader

#: Items of each sequence, by the offset of its value (see RawHeader.sequences).
Sequences = dict[int, list[list[Element]]]

__all__ = ["BULK_THRESHOLD", "Texts", "dataset_json", "dumps", "raw_json", "raw_json_text"]

#: Binary values longer than this (bytes) are bulk data, never stored in the index.
BULK_THRESHOLD = 1024
_CHARSET_TAG = 0x00080005


def dataset_json(ds: Dataset) -> dict[str, Any]:
    """DICOM JSON of ``ds`` for the index (see the module docstring)."""
    return dataset_to_json(ds, bulk_threshold=BULK_THRESHOLD, skip_bulk=True)


def raw_json(header: RawHeader) -> dict[str, Any]:
    """DICOM JSON of the elements found by :func:`dicomfs.storage.rawheader.parse`.

    Raises
    ------
    Fallback
        An element of a VR this function does not convert.
    """
    return _dataset(header.data, header.elements, header.sequences, DEFAULT_CHARSET)


def raw_json_text(header: RawHeader) -> tuple[dict[str, Any], Texts]:
    """:func:`raw_json` and the :func:`dumps` texts of it and of its study and series parts.

    The parts are those of :func:`dicomfs.index.columns.split_levels`. Files of one study or
    series repeat most of their values: each distinct ``(tag, VR, value)`` is converted and
    encoded once per process (a cache). The returned dict shares its element dicts with the
    cache: do not modify it.
    """
    data, sequences = header.data, header.sequences
    charset = _charset(data, header.elements, DEFAULT_CHARSET)
    sq = "SQ implicit" if header.implicit else "SQ"  # items are read in the file's encoding
    out: dict[str, Any] = {}
    parts: list[str] = []
    study: list[str] = []
    series: list[str] = []
    cache = _CACHE
    for tag, vr, start, end in header.elements:
        if not tag & 0xFFFF:  # group length (J-01)
            continue
        raw = data[start:end]
        ckey = (tag, sq if vr == "SQ" else vr, raw, charset)
        hit = cache.get(ckey)
        if hit is None:
            key = f"{tag:08X}"
            element = _element(tag, vr, data, start, end, sequences, charset)
            text = "" if element is None else f'"{key}":{dumps(element)}'
            in_study, in_series = levels_of_tag(key)
            hit = (key, element, text, in_study, in_series)
            if end - start <= _CACHED:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[ckey] = hit
        key, element, text, in_study, in_series = hit
        if element is not None:
            out[key] = element
            parts.append(text)
            if in_study:
                study.append(text)
            if in_series:
                series.append(text)
    return out, (_join(parts), _join(study), _join(series))


#: The index texts of an instance's DICOM JSON: whole, study part, series part.
Texts = tuple[str, str, str]
_Hit = tuple[str, "dict[str, Any] | None", str, bool, bool]
#: ``(tag, vr, raw value, charset) -> (key, element, '"key":element' text, study?, series?)``.
_CACHE: dict[tuple[int, str, bytes, Charset], _Hit] = {}
#: Longer values are not cached.
_CACHED = 256
_CACHE_SIZE = 50_000
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})


def _join(parts: list[str]) -> str:
    return "{" + ",".join(parts) + "}"


def _charset(data: bytes, elements: list[Element], inherited: Charset) -> Charset:
    for tag, _vr, start, end in elements:
        if tag >= _CHARSET_TAG:
            if tag == _CHARSET_TAG:
                return charset_for(charset_terms_from_bytes(data[start:end]))
            break
    return inherited


def _dataset(
    data: bytes, elements: list[Element], sequences: Sequences, inherited: Charset
) -> dict[str, Any]:
    """DICOM JSON of a data set or sequence item (its own character set, else ``inherited``)."""
    charset = _charset(data, elements, inherited)
    out: dict[str, Any] = {}
    for tag, vr, start, end in elements:
        if tag & 0xFFFF:  # not a group length (J-01)
            element = _element(tag, vr, data, start, end, sequences, charset)
            if element is not None:
                out[f"{tag:08X}"] = element
    return out


def _element(
    tag: int, vr: str, data: bytes, start: int, end: int, sequences: Sequences, charset: Charset
) -> dict[str, Any] | None:
    """One element's DICOM JSON (``None``: bulk data, left out)."""
    if vr == "SQ":
        items = [_dataset(data, item, sequences, charset) for item in sequences[start]]
        return {"vr": vr, "Value": items} if items else {"vr": vr}
    raw = data[start:end]
    if vr in SIMPLE_VRS:
        values = values_from_bytes(vr, raw, charset, True)
        return {"vr": vr, "Value": values} if values else {"vr": vr}
    if vr in BULK_VRS and vr != "UN":
        if not raw:
            return {"vr": vr}
        if tag in _PIXEL_TAGS or len(raw) > BULK_THRESHOLD:  # pixel data: always bulk (G-05)
            return None
        return {"vr": vr, "InlineBinary": inline_binary(vr, raw, True)}
    raise Fallback


def dumps(attributes: dict[str, Any]) -> str:
    """The text the index stores for DICOM JSON (keys sorted, compact, UTF-8 characters kept)."""
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
