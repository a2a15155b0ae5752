"""The scanner's fast path: a file's top-level header parsed straight from its bytes.

:func:`parse` reads the File Meta group and the top-level elements of the data set up to the
pixel data element with ``struct.unpack_from`` over one buffer (one ``read`` for small files),
without building a pydicom :class:`~pydicom.dataset.Dataset`. It handles the common files only:
a 128-byte preamble and ``DICM``; implicit or explicit VR little endian, the encapsulated transfer
syntaxes and Deflated Explicit VR Little Endian; elements in ascending order; sequences (items
of defined or undefined length, nested); no ``UN`` and, in implicit VR, no private or
ambiguous-VR elements. Anything else raises :class:`Fallback`, and the caller reads the file
with pydicom (:mod:`dicomfs.storage.header`), which also words the rejections of broken files:
this module never rejects a file.

The elements it keeps are exactly those ``dcmread(fp, stop_before_pixels=True)`` keeps, with
the same bytes, so :func:`dicomfs.storage.indexjson.raw_json` can turn them into the same DICOM
JSON as :func:`dicomfs.dicomjson.dataset_to_json`.
"""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from pydicom.datadict import dictionary_VR
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

__all__ = ["Element", "Fallback", "RawHeader", "parse"]

#: ``(tag, VR, start, end)``: the value is ``data[start:end]``.
Element = tuple[int, str, int, int]

_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT",
                       "UV"})
_SHORT_VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
                        "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"})
#: VRs the fast path leaves to pydicom (UN, whose VR pydicom may replace).
_SLOW_VRS = frozenset({"UN"})
#: Explicit VR bytes -> VR, for the VRs the fast path reads (2-byte and 4-byte lengths).
_SHORT = {vr.encode(): vr for vr in _SHORT_VRS}
_LONG = {vr.encode(): vr for vr in _LONG_VRS - _SLOW_VRS}
_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_FIRST_READ = 65536
_HH = struct.Struct("<HH").unpack_from
_EXPLICIT = struct.Struct("<HH2sH").unpack_from
_IMPLICIT = struct.Struct("<HHL").unpack_from
_H = struct.Struct("<H").unpack_from
_L = struct.Struct("<L").unpack_from


class Fallback(Exception):
    """The file needs pydicom (not an error: the slow path decides)."""


@dataclass
class RawHeader:
    """What :func:`parse` found.

    ``data`` holds the element values: the file's first bytes, or the inflated data set of a
    deflated file. ``pixel_offset``/``pixel_length`` are ``None`` for a deflated file (its pixel
    data cannot be located in the file) and ``pixel_length`` is -1 when encapsulated (then
    ``pixel_header`` is the file offset of the element's tag).
    """

    transfer_syntax: str
    implicit: bool
    deflated: bool
    data: bytes
    elements: list[Element]
    pixel_tag: int | None = None
    pixel_header: int | None = None
    pixel_offset: int | None = None
    pixel_length: int | None = None
    #: The items of each sequence (elements of each item), by the offset of the SQ's value.
    sequences: dict[int, list[list[Element]]] = field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def _syntax(uid: str) -> tuple[bool, bool]:
    """``(implicit, deflated)`` of a transfer syntax the fast path reads, else Fallback."""
    if uid == ImplicitVRLittleEndian:
        return True, False
    if uid == DeflatedExplicitVRLittleEndian:
        return False, True
    syntax = UID(uid)
    if syntax.is_transfer_syntax and syntax.is_little_endian and not syntax.is_implicit_VR:
        return False, False
    raise Fallback


@functools.lru_cache(maxsize=4096)
def _implicit_vr(tag: int) -> str:
    """The dictionary VR of a public tag read in implicit VR, when the fast path can use it."""
    if tag >> 16 & 1:
        raise Fallback  # private: the VR depends on the creator
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        raise Fallback from None
    if vr in _SLOW_VRS or " or " in vr:
        raise Fallback
    return vr


class _Reader:
    """The buffer of a file's first bytes, extended on demand."""

    __slots__ = ("data", "fp", "size")

    def __init__(self, fp: BinaryIO, size: int) -> None:
        self.fp = fp
        self.size = size
        self.data = fp.read(min(size, _FIRST_READ))

    def need(self, end: int) -> bytes:
        """Make sure ``data`` holds the bytes up to ``end`` (else the file is short: Fallback)."""
        if end > self.size:
            raise Fallback
        want = max(end, min(self.size, 2 * len(self.data)))
        self.data += self.fp.read(want - len(self.data))
        if len(self.data) < end:
            raise Fallback
        return self.data


def parse(fp: BinaryIO, size: int) -> RawHeader:
    """Parse the header of the file open as ``fp`` (at offset 0) of ``size`` bytes.

    Raises
    ------
    Fallback
        The file is not one of those the fast path reads (see the module docstring).
    """
    reader = _Reader(fp, size)
    data = reader.data
    if len(data) < 140 or data[128:132] != b"DICM":
        raise Fallback
    pos = 132
    transfer_syntax = None
    while True:  # File Meta: explicit VR little endian, group 0002
        if pos + 8 > len(data):
            if pos + 8 > size:
                raise Fallback
            data = reader.need(pos + 8)
        group, elem = _HH(data, pos)
        if group != 2:
            break
        vr = data[pos + 4 : pos + 6].decode("latin_1")
        if vr in _SHORT_VRS:
            (length,) = _H(data, pos + 6)
            start = pos + 8
        elif vr in _LONG_VRS:
            if pos + 12 > len(data):
                data = reader.need(pos + 12)
            (length,) = _L(data, pos + 8)
            start = pos + 12
            if length == _UNDEFINED:
                raise Fallback
        else:
            raise Fallback
        pos = start + length
        if pos > len(data):
            data = reader.need(pos)
        if elem == 0x0010:
            transfer_syntax = data[start:pos].decode("latin_1").strip(" \x00")
    if not transfer_syntax:
        raise Fallback
    implicit, deflated = _syntax(transfer_syntax)
    if deflated:
        if size > len(data):
            data = reader.need(size)
        try:
            data = zlib.decompress(data[pos:], -zlib.MAX_WBITS)
        except zlib.error:
            raise Fallback from None
        reader.data, reader.size, pos = data, len(data), 0
    header = RawHeader(transfer_syntax, implicit, deflated, data, [])
    # pydicom checks the first element's VR bytes and reads with the encoding it finds.
    if pos + 6 > len(data):
        data = reader.need(pos + 6)
    found_implicit = not (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B)
    if found_implicit != implicit:
        raise Fallback
    pos = _dataset(reader, header, header.elements, pos, reader.size, True)
    if pos >= 0 and pos != reader.size:
        raise Fallback
    header.data = reader.data
    return header


def _dataset(
    reader: _Reader,
    header: RawHeader,
    out: list[Element],
    pos: int,
    end: int,
    top: bool,
    delimited: bool = False,
) -> int:
    """Append the elements from ``pos`` to ``end`` to ``out``; the position reached.

    At the top level, stops at the pixel data element (returns -1). In an item of undefined
    length (``delimited``), stops after its Item Delimitation Item (``end`` is only a bound).
    """
    append = out.append
    implicit = header.implicit
    data = reader.data
    avail = len(data)
    previous = 0x0002FFFF  # no group 0000-0002 elements in the data set or its items
    while pos < end:
        if pos + 12 > avail:
            if pos + 8 > end:
                raise Fallback
            data = reader.need(min(pos + 12, reader.size))
            avail = len(data)
        if implicit:
            group, elem, length = _IMPLICIT(data, pos)
            tag = group << 16 | elem
        else:
            group, elem, vr_bytes, length = _EXPLICIT(data, pos)
            tag = group << 16 | elem
        if tag <= previous:
            raise Fallback
        previous = tag
        if group >= 0x7FE0:
            if top and tag in _PIXEL_TAGS:
                _pixel(reader, header, reader.data, pos, tag, end)
                return -1
            if group == 0xFFFE:
                if tag == _ITEM_END and delimited and length == 0:
                    if implicit or vr_bytes == b"\0\0":
                        return pos + 8
                raise Fallback
        if implicit:
            vr = _implicit_vr(tag)
            start = pos + 8
        else:
            known = _SHORT.get(vr_bytes)
            if known is not None:
                vr = known
                start = pos + 8
            else:
                known = _LONG.get(vr_bytes)
                if known is None or pos + 12 > avail:
                    raise Fallback
                vr = known
                (length,) = _L(data, pos + 8)
                start = pos + 12
        if vr == "SQ":
            pos = _sequence(reader, header, start, length, end)
            data = reader.data
            avail = len(data)
        elif length == _UNDEFINED:
            raise Fallback
        else:
            pos = start + length
            if pos > avail:
                if pos > end:
                    raise Fallback
                data = reader.need(pos)
                avail = len(data)
        append((tag, vr, start, pos))
    if delimited:
        raise Fallback  # an item of undefined length without its delimiter
    return pos


def _sequence(reader: _Reader, header: RawHeader, pos: int, length: int, bound: int) -> int:
    """Read the items of a sequence whose value starts at ``pos``; the position after it."""
    items: list[list[Element]] = []
    header.sequences[pos] = items
    undefined = length == _UNDEFINED
    end = bound if undefined else pos + length
    if end > bound:
        raise Fallback
    while pos < end:
        data = reader.data
        if pos + 8 > len(data):
            data = reader.need(pos + 8)
        group, elem, item_length = _IMPLICIT(data, pos)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQUENCE_END and undefined and item_length == 0:
            return pos
        if tag != _ITEM:
            raise Fallback
        item: list[Element] = []
        items.append(item)
        if item_length == _UNDEFINED:
            _check_item_encoding(reader, header, pos)
            pos = _dataset(reader, header, item, pos, end, False, True)
        else:
            item_end = pos + item_length
            if item_end > end:
                raise Fallback
            if item_length:
                _check_item_encoding(reader, header, pos)
            if _dataset(reader, header, item, pos, item_end, False) != item_end:
                raise Fallback
            pos = item_end
    if undefined or pos != end:
        raise Fallback
    return pos


def _check_item_encoding(reader: _Reader, header: RawHeader, pos: int) -> None:
    """pydicom reads an item of an explicit VR data set in implicit VR if it looks implicit."""
    if header.implicit:
        return
    data = reader.data
    if pos + 6 > len(data):
        data = reader.need(pos + 6)
    if data[pos : pos + 4] == b"\xfe\xff\x0d\xe0":  # empty item
        return
    if not (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B):
        raise Fallback


def _pixel(
    reader: _Reader, header: RawHeader, data: bytes, pos: int, tag: int, end: int
) -> None:
    """Read the pixel data element's header at ``pos`` (its value is never read)."""
    if header.implicit:
        if pos + 8 > len(data):
            if pos + 8 > end:
                raise Fallback
            data = reader.need(pos + 8)
        (length,) = _L(data, pos + 4)
        start = pos + 8
    else:
        if pos + 12 > len(data):
            if pos + 12 > end:
                raise Fallback
            data = reader.need(pos + 12)
        vr = data[pos + 4 : pos + 6].decode("latin_1")
        if vr in _LONG_VRS:
            (length,) = _L(data, pos + 8)
            start = pos + 12
        elif vr in _SHORT_VRS:
            (length,) = _H(data, pos + 6)
            start = pos + 8
        else:
            raise Fallback
    header.data = data
    header.pixel_tag = tag
    if length == _UNDEFINED:
        if header.deflated:
            raise Fallback
        header.pixel_header = pos
        header.pixel_length = -1
        return
    if start + length > end:
        raise Fallback
    if not header.deflated:
        header.pixel_offset = start
        header.pixel_length = length
