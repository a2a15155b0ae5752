"""From an instance's DICOM JSON to the index's rows: level split and column values.

One source for the scanner (which builds :class:`~dicomfs.index.records.InstanceRecord`) and for
the repository (which re-derives a study's or series' row from a remaining instance when the
instance that supplied it is removed). The normalised ``*_key`` forms are those of
:mod:`dicomfs.index.models`; QIDO must normalise query values with :func:`pn_key`,
:func:`tm_key` and :func:`datetime_key` so that both sides agree.

>>> tm_key("0930")
'093000.000000'
>>> datetime_key("20200315", "093000.5")
'20200315093000.500000'
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydicom.datadict import keyword_for_tag

from dicomfs.index.attributes import ALL_LEVELS, Level, level_of, tag_of

__all__ = [
    "datetime_key",
    "instance_columns",
    "level_of_tag",
    "levels_of_tag",
    "pn_key",
    "series_columns",
    "split_levels",
    "study_columns",
    "tm_key",
]

_ALL_LEVEL_TAGS = frozenset(tag_of(k) for k in ALL_LEVELS)
_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$")
_DA = re.compile(r"^\d{8}$")


@functools.lru_cache(maxsize=4096)
def level_of_tag(tag: str) -> Level:
    """The level of an 8-hex-digit tag (private and unknown tags: instance)."""
    keyword = keyword_for_tag(int(tag, 16))
    return level_of(keyword) if keyword else "instance"


@functools.lru_cache(maxsize=4096)
def levels_of_tag(tag: str) -> tuple[bool, bool]:
    """Whether an 8-hex-digit tag goes into the study part and the series part of an instance.

    As :func:`split_levels` does: the attributes of
    :data:`~dicomfs.index.attributes.ALL_LEVELS` go into both.
    """
    if tag in _ALL_LEVEL_TAGS:
        return True, True
    level = level_of_tag(tag)
    return level == "study", level == "series"


def split_levels(
    attributes: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an instance's DICOM JSON into its study (with patient) and series parts.

    The attributes of :data:`~dicomfs.index.attributes.ALL_LEVELS` (SpecificCharacterSet,
    TimezoneOffsetFromUTC) go into both parts (QIDO returns them at every level, and B-21 needs
    the entity's offset).
    """
    study: dict[str, Any] = {}
    series: dict[str, Any] = {}
    for tag, element in attributes.items():
        if tag in _ALL_LEVEL_TAGS:
            study[tag] = series[tag] = element
            continue
        level = level_of_tag(tag)
        if level == "study":
            study[tag] = element
        elif level == "series":
            series[tag] = element
    return study, series


def pn_key(value: str | None) -> str | None:
    """Matching form of a PN value: upper case (CONFORMANCE B-02)."""
    return None if value is None else value.upper()


def tm_key(value: str | None) -> str | None:
    """``HHMMSS.ffffff`` (13 characters) of a TM value; ``None`` if absent or malformed."""
    if not value:
        return None
    match = _TM.match(value.replace(":", "").strip())
    if match is None:
        return None
    hh, mm, ss, frac = match.groups()
    return f"{hh}{mm or '00'}{ss or '00'}.{(frac or '').ljust(6, '0')}"


_ACR_NEMA_DA = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")


def da_key(date: str | None) -> str | None:
    """A DA as ``YYYYMMDD``: the old ACR-NEMA form ``YYYY.MM.DD`` (PS3.5 6.2, retired but found
    in old files) is normalised so SQL range matching sees the same date QIDO's parser does."""
    if date is None:
        return None
    match = _ACR_NEMA_DA.match(date)
    return "".join(match.groups()) if match else date


def datetime_key(date: str | None, time: str | None) -> str | None:
    """``YYYYMMDDHHMMSS.ffffff`` of a DA and a TM (missing time: midnight), for B-19."""
    date = da_key(date)
    if not date or not _DA.match(date):
        return None
    return date + (tm_key(time) or "000000.000000")


def _first(attributes: dict[str, Any], tag: str) -> Any:
    element = attributes.get(tag)
    if not element:
        return None
    values = element.get("Value")
    if not values:
        return None
    return values[0]


def _text(attributes: dict[str, Any], tag: str) -> str | None:
    """The value as stored (multiple values joined by backslash), ``None`` when empty."""
    element = attributes.get(tag)
    if not element:
        return None
    values = element.get("Value")
    if not values:
        return None
    parts = []
    for value in values:
        if isinstance(value, dict):  # PN
            groups = [value.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
            while groups and not groups[-1]:
                groups.pop()
            parts.append("=".join(groups))
        elif value is None:
            parts.append("")
        else:
            parts.append(str(value))
    text = "\\".join(parts)
    return text or None


def _int(attributes: dict[str, Any], tag: str) -> int | None:
    value = _first(attributes, tag)
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def study_columns(attributes: dict[str, Any]) -> dict[str, Any]:
    """Column values of a ``studies`` row (without ``attributes``) from DICOM JSON."""
    name = _text(attributes, "00100010")
    date = da_key(_text(attributes, "00080020"))
    time = _text(attributes, "00080030")
    return {
        "study_instance_uid": _text(attributes, "0020000D"),
        "patient_id": _text(attributes, "00100020"),
        "patient_name": name,
        "patient_name_key": pn_key(name),
        "patient_birth_date": da_key(_text(attributes, "00100030")),
        "patient_sex": _text(attributes, "00100040"),
        "study_date": date,
        "study_time": time,
        "study_time_key": tm_key(time),
        "study_datetime_key": datetime_key(date, time),
        "accession_number": _text(attributes, "00080050"),
        "study_id": _text(attributes, "00200010"),
        "referring_physician_name": _text(attributes, "00080090"),
        "study_description": _text(attributes, "00081030"),
    }


def series_columns(attributes: dict[str, Any]) -> dict[str, Any]:
    """Column values of a ``series`` row (without ``attributes``) from DICOM JSON."""
    return {
        "series_instance_uid": _text(attributes, "0020000E"),
        "study_instance_uid": _text(attributes, "0020000D"),
        "modality": _text(attributes, "00080060"),
        "series_number": _int(attributes, "00200011"),
        "series_description": _text(attributes, "0008103E"),
        "series_date": da_key(_text(attributes, "00080021")),
        "series_time": _text(attributes, "00080031"),
        "body_part_examined": _text(attributes, "00180015"),
    }


def instance_columns(attributes: dict[str, Any]) -> dict[str, Any]:
    """Column values of an ``instances`` row read from DICOM JSON (not the file/pixel ones)."""
    return {
        "sop_instance_uid": _text(attributes, "00080018"),
        "series_instance_uid": _text(attributes, "0020000E"),
        "study_instance_uid": _text(attributes, "0020000D"),
        "sop_class_uid": _text(attributes, "00080016"),
        "instance_number": _int(attributes, "00200013"),
        "rows": _int(attributes, "00280010"),
        "columns": _int(attributes, "00280011"),
        "bits_allocated": _int(attributes, "00280100"),
        "samples_per_pixel": _int(attributes, "00280002"),
        "number_of_frames": _int(attributes, "00280008"),
    }
