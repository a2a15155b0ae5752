"""Encode a dataset as a DICOM Part 10 file: the bytes pydicom's ``dcmwrite`` writes, faster.

:func:`encode_part10` makes the file STOW writes: a 128-byte zero preamble, ``DICM``, a File Meta
header made by dicomfs (see its docstring) and the data set. The bytes are those of
``dcmwrite(copy, enforce_file_format=True)`` on a shallow copy of the dataset that keeps the
dataset's original encoding and character set, so elements still held as raw bytes (a dataset
read from a file) are written as they were read whenever the transfer syntax keeps their
encoding.

Most datasets take the fast path: the elements are framed here, in one pass over the sorted
tags, and their values are encoded like pydicom's writers do (with pydicom's own character set
encoders for text and person names); an element this module is unsure of goes through pydicom's
``write_data_element``. Datasets that need more (a sequence built in memory, an ambiguous VR
other than the pixel data's, a big endian or unknown transfer syntax, a command element) are
written by ``dcmwrite`` itself. Both paths give the same bytes (``tests/unit/test_part10.py``);
the dataset passed in is never modified.
"""

from __future__ import annotations

import copy
import functools
import struct
from io import BytesIO
from typing import Any

from pydicom.charset import convert_encodings, encode_string
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_data_element
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, PersonName

from dicomfs.storage import layout

__all__ = [
    "FAILURE_PROCESSING",
    "FAILURE_TRANSFER_SYNTAX",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "EncodingError",
    "encode_part10",
]

#: FailureReason 0110: processing failure (PS3.18 Table I.2-2, CONFORMANCE I-07).
FAILURE_PROCESSING = 0x0110
#: FailureReason C122: transfer syntax unknown (compressed pixel data and no File Meta).
FAILURE_TRANSFER_SYNTAX = 0xC122
#: (0002,0012) of the files dicomfs writes: a UUID-derived UID (PS3.5 §B.2) fixed for dicomfs.
IMPLEMENTATION_CLASS_UID = "2.25.156139212408259408969647901920460388034"
#: (0002,0013) of the files dicomfs writes.
IMPLEMENTATION_VERSION_NAME = "DICOMFS_0_1"

_ENCODING_TS = {
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
}
#: What pydicom raises for a dataset it cannot encode (OSError: a number out of range).
_ENCODING_ERRORS = (
    ValueError, TypeError, AttributeError, KeyError, OverflowError, struct.error, UnicodeError,
    OSError, RecursionError,
)
_PIXEL_DATA = 0x7FE00010
_SOURCE_AE = BaseTag(0x00020016)
_CHARSET = BaseTag(0x00080005)
_LONG_VRS = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
_SHORT = struct.Struct("<HH2sH").pack
_LONG = struct.Struct("<HH2s2xL").pack
_IMPLICIT = struct.Struct("<HHL").pack
_UNDEFINED = 0xFFFFFFFF
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_ITEM_TAG = b"\xfe\xff\x00\xe0"
_ITEM_UNDEFINED = _ITEM_TAG + b"\xff\xff\xff\xff"
_ITEM_DELIMITER = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
_PREAMBLE = b"\x00" * 128 + b"DICM"
_NUMBERS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
#: VRs written by pydicom's ``write_string`` (DA, DT, TM only when their value is text).
_STRING_PADDING = {
    "AE": " ", "AS": " ", "CS": " ", "UR": " ", "DA": " ", "DT": " ", "TM": " ", "UI": "\0",
}
_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT"})
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW"})
_MULTI = (MultiValue, list, tuple)


class EncodingError(ValueError):
    """The dataset cannot be written; ``reason`` is the STOW FailureReason."""

    def __init__(self, reason: int, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line (pydicom's messages have several)
        self.reason = reason


class _Slow(Exception):
    """The dataset needs ``dcmwrite`` itself."""


def encode_part10(ds: Dataset) -> bytes:
    """Encode a dataset as a DICOM Part10 file (preamble, File Meta, data set).

    The File Meta is made here: MediaStorageSOPClassUID/InstanceUID from the data set,
    TransferSyntaxUID kept from the dataset's File Meta or original encoding (Explicit VR Little
    Endian when unknown; a deflated dataset is written inflated, as Explicit VR Little Endian),
    ImplementationClassUID and ImplementationVersionName of dicomfs, and
    SourceApplicationEntityTitle when the dataset's File Meta has one. Group 0002 elements of
    the data set itself are left out. The dataset is not modified.

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
    EncodingError
        The dataset cannot be encoded; ``.reason`` is the FailureReason (0110, or C122 for
        compressed pixel data without a transfer syntax).

    Examples
    --------
    >>> from pydicom import dcmread
    >>> from pydicom.uid import generate_uid
    >>> ds = Dataset()
    >>> ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", generate_uid()
    >>> data = encode_part10(ds)
    >>> data[128:132], dcmread(BytesIO(data)).file_meta.ImplementationVersionName
    (b'DICM', 'DICOMFS_0_1')
    """
    syntax = _transfer_syntax(ds)
    try:
        meta = _meta_bytes(ds, syntax)
        return _PREAMBLE + meta + _fast_dataset(ds, syntax)
    except _Slow:
        pass
    except _ENCODING_ERRORS as exc:
        raise EncodingError(FAILURE_PROCESSING, f"cannot encode the dataset: {exc}") from exc
    return _slow_part10(ds, syntax)


def _shallow_copy(ds: Dataset) -> Dataset:
    """The data set without group 0002, sharing the elements, with the same original encoding."""
    copy_ = Dataset({tag: element for tag, element in ds._dict.items() if tag >> 16 != 0x0002})
    implicit, little = ds.original_encoding
    copy_.set_original_encoding(implicit, little, ds.original_character_set)
    return copy_


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
        if undefined or (isinstance(value, bytes) and value[:4] == _ITEM_TAG):
            raise EncodingError(
                FAILURE_TRANSFER_SYNTAX,
                "compressed pixel data without a File Meta TransferSyntaxUID",
            )
    return ExplicitVRLittleEndian


def _file_meta(ds: Dataset, syntax: str) -> FileMetaDataset:
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
    return meta


def _slow_part10(ds: Dataset, syntax: str) -> bytes:
    """``dcmwrite`` on a shallow copy; the elements it changes in place are copied first."""
    copy_ = _shallow_copy(ds)
    for tag in list(copy_._dict):
        element = copy_._dict[tag]
        if isinstance(element, DataElement):
            if element.VR == "SQ":  # ambiguous VRs of the items are resolved in place
                copy_._dict[tag] = copy.deepcopy(element)
            elif " or " in element.VR or tag == _PIXEL_DATA:
                copy_._dict[tag] = copy.copy(element)
    pixels = copy_._dict.get(BaseTag(_PIXEL_DATA))
    value = getattr(pixels, "value", None)
    if isinstance(value, bytes) and len(value) % 2 and value[:4] == _ITEM_TAG:
        try:  # as the fast path writes it (dcmwrite pads after the last item)
            padded = _pad_last_fragment(value)
        except _Slow:
            padded = value
        if isinstance(pixels, RawDataElement):
            copy_._dict[BaseTag(_PIXEL_DATA)] = pixels._replace(value=padded)
        elif isinstance(pixels, DataElement):
            pixels.value = padded
    try:
        copy_.file_meta = _file_meta(ds, syntax)
        buffer = BytesIO()
        dcmwrite(buffer, copy_, enforce_file_format=True)
    except _ENCODING_ERRORS as exc:
        raise EncodingError(FAILURE_PROCESSING, f"cannot encode the dataset: {exc}") from exc
    return buffer.getvalue()


# ---- the fast path ------------------------------------------------------------------------------
def _meta_bytes(ds: Dataset, syntax: str) -> bytes:
    """The File Meta group, as ``write_file_meta_info`` writes :func:`_file_meta`'s."""
    values = [
        (0x0001, "OB", b"\x00\x01"),
        (0x0002, "UI", _padded(str(ds.SOPClassUID), "\0")),
        (0x0003, "UI", _padded(str(ds.SOPInstanceUID), "\0")),
        (0x0010, "UI", _padded(syntax, "\0")),
        (0x0012, "UI", _padded(IMPLEMENTATION_CLASS_UID, "\0")),
        (0x0013, "SH", _padded(IMPLEMENTATION_VERSION_NAME, " ")),
    ]
    old_meta = getattr(ds, "file_meta", None)
    title = old_meta._dict.get(_SOURCE_AE) if isinstance(old_meta, Dataset) else None
    if title is not None:
        if isinstance(title, RawDataElement):
            title = convert_raw_data_element(title)  # a copy: old_meta is left as it is
        value = b"" if _is_empty(title.value) else _string(title.value, " ")
        if value is None:
            raise _Slow
        values.append((0x0016, "AE", value))
    body = b"".join(
        (_LONG if vr == "OB" else _SHORT)(0x0002, element, vr.encode(), len(value)) + value
        for element, vr, value in values
    )
    return _SHORT(0x0002, 0x0000, b"UL", 4) + struct.pack("<L", len(body)) + body


def _padded(text: str, padding: str) -> bytes:
    if len(text) % 2:
        text += padding
    return text.encode("iso8859")


@functools.lru_cache(maxsize=64)
def _syntax_flags(syntax: str) -> tuple[bool, bool | None] | None:
    """``(implicit VR, compressed)`` of a standard little endian transfer syntax, else None.

    A DICOM transfer syntax pydicom does not know (``1.2.840.10008.1.2.`` and a newer number,
    such as 2024's Deflated Image Frame Compression ``1.2.840.10008.1.2.8.1``) is Explicit VR
    Little Endian, as every syntax defined since the deflated one: ``compressed`` is None then,
    and the pixel data itself tells (items, or a plain value).
    """
    uid = UID(syntax)
    if not uid.is_transfer_syntax and syntax.startswith("1.2.840.10008.1.2."):
        return False, None
    if uid.is_private or not uid.is_transfer_syntax or not uid.is_little_endian:
        return None
    if uid.is_deflated:
        return None
    return bool(uid.is_implicit_VR), bool(uid.is_compressed)


def _fast_dataset(ds: Dataset, syntax: str) -> bytes:
    """The data set as ``dcmwrite`` writes it; :class:`_Slow` when unsure."""
    flags = _syntax_flags(syntax)
    if flags is None:
        raise _Slow
    implicit, compressed = flags
    return _dataset(ds, implicit, compressed, "iso8859", top=True)


def _dataset(
    ds: Dataset,
    implicit: bool,
    compressed: bool | None,
    parent: str | list[str],
    *,
    top: bool = False,
) -> bytes:
    """A data set or sequence item as ``write_dataset`` writes it (``ds`` is not modified)."""
    # write_dataset decodes every raw element and resolves ambiguous VRs (in place, in items
    # too) when the encoding or the character set changed since the data set was read: those
    # cases are left to dcmwrite (on copies).
    charset_element = ds._dict.get(_CHARSET)
    if isinstance(charset_element, RawDataElement):
        charset_element = convert_raw_data_element(charset_element)  # a copy
    if charset_element is None:
        charset: Any = parent  # write_dataset: dataset.get("SpecificCharacterSet", parent)
        # Dataset._character_set; dcmwrite's top-level copy has the default parent encoding.
        character_set: Any = "iso8859" if top else ds._parent_encoding
    else:
        charset = charset_element.value
        character_set = convert_encodings(charset)  # Dataset._character_set
    if isinstance(charset, MultiValue):
        charset = list(charset)
    if charset and not isinstance(charset, (str, list)):
        raise _Slow
    keep_raw = (
        ds.original_encoding == (implicit, True) and ds.original_character_set == character_set
    )
    encodings = convert_encodings(charset or "iso8859")
    parts: list[bytes] = []
    append = parts.append
    for tag, element in sorted(zip(map(int, ds._dict), ds._dict.values(), strict=True)):
        group = tag >> 16
        if group == 2 and top:
            continue  # the File Meta is made apart
        if group == 0:
            raise _Slow  # command elements: dcmwrite refuses them
        if not tag & 0xFFFF and group > 6:
            continue  # retired group lengths are not written
        if top and tag == _PIXEL_DATA:
            append(_pixel_data(ds, element, implicit, compressed, keep_raw))
            continue
        if isinstance(element, RawDataElement):
            if element.value is None:
                # get_item decodes a deferred value; a value still in the file is left to pydicom.
                if element.length:
                    raise _Slow
                element = convert_raw_data_element(element, encoding=encodings, ds=ds)
            elif not keep_raw:
                raise _Slow
        if isinstance(element, RawDataElement):
            encoded = _raw(element, implicit)
        elif element.VR == "SQ":
            encoded = _sequence(element, implicit, encodings)
        else:
            encoded = _element(element, implicit, encodings)
        if encoded is None:
            encoded = _with_pydicom(element, implicit, charset)
        append(encoded)
    return b"".join(parts)


def _sequence(element: DataElement, implicit: bool, encodings: list[str]) -> bytes:
    """A sequence as ``write_data_element`` and ``write_sequence_item`` write it."""
    items = element.value
    parts: list[bytes] = []
    for item in items or ():
        if not isinstance(item, Dataset):
            raise _Slow
        body = _dataset(item, implicit, False, encodings)
        if getattr(item, "is_undefined_length_sequence_item", False):
            parts += [_ITEM_UNDEFINED, body, _ITEM_DELIMITER]
        else:
            parts += [_ITEM_TAG, struct.pack("<L", len(body)), body]
    value = b"".join(parts)
    tag = element.tag
    if element.is_undefined_length:
        header = _header(tag >> 16, tag & 0xFFFF, "SQ", _UNDEFINED, implicit)
        return header + value + _SEQUENCE_DELIMITER
    return _header(tag >> 16, tag & 0xFFFF, "SQ", len(value), implicit) + value


def _header(group: int, number: int, vr: str | None, length: int, implicit: bool) -> bytes:
    if implicit:
        return _IMPLICIT(group, number, length)
    assert vr is not None
    if vr in _LONG_VRS:
        return _LONG(group, number, vr.encode(), length)
    return _SHORT(group, number, vr.encode(), length)


def _raw(element: RawDataElement, implicit: bool) -> bytes | None:
    value = element.value
    vr = element.VR
    if not isinstance(value, bytes) or (not implicit and (vr is None or len(vr) != 2)):
        return None
    tag = element.tag
    if element.length == _UNDEFINED:
        if implicit or vr in _LONG_VRS:
            header = _header(tag >> 16, tag & 0xFFFF, vr, _UNDEFINED, implicit)
            return header + value + _SEQUENCE_DELIMITER
        return None
    if not implicit and vr not in _LONG_VRS and len(value) > 0xFFFF:
        return None  # pydicom warns and writes it as UN
    return _header(tag >> 16, tag & 0xFFFF, vr, len(value), implicit) + value


def _pixel_data(
    ds: Dataset,
    element: DataElement | RawDataElement,
    implicit: bool,
    compressed: bool | None,
    keep_raw: bool,
) -> bytes:
    """Pixel Data: dcmwrite decodes it and sets its length flag from the transfer syntax (for a
    syntax pydicom does not know, ``compressed`` is None: the value's first item tells)."""
    value = element.value
    if not isinstance(value, bytes):
        raise _Slow
    if compressed is None:
        compressed = value[:4] == _ITEM_TAG
    vr = element.VR
    if isinstance(element, RawDataElement):
        # dcmwrite decodes it: an explicit VR other than OB/OW becomes the ambiguous "OB or OW".
        if not keep_raw or (not implicit and vr not in ("OB", "OW")):
            raise _Slow
    elif vr == "OB or OW":
        if keep_raw and not implicit:
            raise _Slow  # dcmwrite refuses an ambiguous VR it is not asked to resolve
        if not keep_raw:
            if compressed:
                vr = "OB"
            elif ds.original_encoding[0]:
                vr = "OW"
            else:
                bits = ds.get("BitsAllocated")
                if not isinstance(bits, int):
                    raise _Slow
                vr = "OW" if bits > 8 else "OB"
    elif vr not in ("OB", "OW"):
        raise _Slow
    if compressed and value[:4] != _ITEM_TAG:
        raise _Slow  # dcmwrite raises: not encapsulated
    if len(value) % 2:
        value = _pad_last_fragment(value) if compressed else value + b"\x00"
    if compressed:
        return _header(0x7FE0, 0x0010, vr, _UNDEFINED, implicit) + value + _SEQUENCE_DELIMITER
    return _header(0x7FE0, 0x0010, vr, len(value), implicit) + value


def _pad_last_fragment(value: bytes) -> bytes:
    r"""Encapsulated pixel data whose last fragment has an odd length, padded inside that item.

    Every item of an encapsulated value has an even length (PS3.5 A.4); pydicom's writer puts
    the pad byte after the last item instead, where it is neither an item nor a delimiter, and
    the scanner (rightly) refuses the file.

    >>> empty_table = _ITEM_TAG + bytes(4)
    >>> _pad_last_fragment(empty_table + _ITEM_TAG + b"\x03\x00\x00\x00abc")[8:]
    b'\xfe\xff\x00\xe0\x04\x00\x00\x00abc\x00'
    """
    position, last = 0, -1
    while position + 8 <= len(value) and value[position : position + 4] == _ITEM_TAG:
        last = position
        position += 8 + struct.unpack_from("<L", value, position + 4)[0]
    if position != len(value) or last < 0:
        raise _Slow  # not a plain sequence of items: left to pydicom
    length = struct.unpack_from("<L", value, last + 4)[0]
    return value[: last + 4] + struct.pack("<L", length + 1) + value[last + 8 :] + b"\x00"


def _element(element: DataElement, implicit: bool, encodings: list[str]) -> bytes | None:
    """One element as ``write_data_element`` writes it, or None to let pydicom write it."""
    vr = element.VR
    value = element.value
    if vr == "SQ" or " or " in vr or element.is_undefined_length:
        raise _Slow
    encoded: bytes | None
    if _is_empty(value):
        encoded = b""
    elif vr in _STRING_PADDING:
        encoded = _string(value, _STRING_PADDING[vr])
    elif vr in _TEXT_VRS:
        encoded = _text(value, encodings)
    elif vr == "PN":
        encoded = _person_name(value, encodings)
    elif vr in ("DS", "IS"):
        encoded = _number_string(value)
    elif vr in _NUMBERS:
        encoded = _numbers(value, _NUMBERS[vr])
    elif vr in _BINARY_VRS:
        encoded = value + b"\x00" if type(value) is bytes and len(value) % 2 else value
        if type(encoded) is not bytes:
            return None
    elif vr == "UN":
        encoded = value if type(value) is bytes else None
    else:
        return None
    if encoded is None:
        return None
    if not implicit and vr not in _LONG_VRS and len(encoded) > 0xFFFF:
        return None  # pydicom warns and writes it as UN
    tag = element.tag
    return _header(tag >> 16, tag & 0xFFFF, vr, len(encoded), implicit) + encoded


def _is_empty(value: Any) -> bool:
    """``DataElement.is_empty`` for the VRs of :func:`_element` (VM 0)."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, PersonName)):
        return not value
    if isinstance(value, (int, float)):
        return False
    try:
        return len(value) == 0
    except TypeError:
        return False


def _string(value: Any, padding: str) -> bytes | None:
    if not isinstance(value, str):
        if not isinstance(value, _MULTI) or not all(isinstance(v, str) for v in value):
            return None
        value = "\\".join(value)
    return _padded(value, padding)


def _text(value: Any, encodings: list[str]) -> bytes | None:
    if isinstance(value, str):
        encoded = encode_string(value, encodings)
    elif isinstance(value, _MULTI) and all(isinstance(v, str) for v in value):
        encoded = b"\\".join([encode_string(v, encodings) for v in value])
    else:
        return None
    return encoded + b" " if len(encoded) % 2 else encoded


def _person_name(value: Any, encodings: list[str]) -> bytes | None:
    names = [value] if isinstance(value, PersonName) else value
    if not isinstance(names, _MULTI) or not all(isinstance(v, PersonName) for v in names):
        return None
    encoded = b"\\".join([name.encode(encodings) for name in names])
    return encoded + b" " if len(encoded) % 2 else encoded


def _number_string(value: Any) -> bytes | None:
    if isinstance(value, _MULTI):
        text = "\\".join(
            x.original_string if hasattr(x, "original_string") else str(x) for x in value
        )
    elif isinstance(value, (int, float)) or hasattr(value, "original_string"):
        text = value.original_string if hasattr(value, "original_string") else str(value)
    else:
        return None
    return _padded(text, " ")


def _numbers(value: Any, code: str) -> bytes | None:
    try:
        if isinstance(value, (int, float)):
            return struct.pack("<" + code, value)
        # pydicom writes the first value of a signed LUT Descriptor unsigned: left to it.
        if isinstance(value, (MultiValue, list)) and code != "h":
            return struct.pack(f"<{len(value)}{code}", *value)
    except struct.error:
        return None  # pydicom words the error
    return None


def _with_pydicom(
    element: DataElement | RawDataElement, implicit: bool, charset: str | list[str] | None
) -> bytes:
    """pydicom's own writer for one element (the fast path's fallback)."""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit
    write_data_element(buffer, element, charset)
    return buffer.getvalue()
