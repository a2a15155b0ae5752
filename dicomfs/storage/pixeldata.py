"""Where a file's pixel data lies: element header, value offset and, if encapsulated, frames.

Called by the scanner right after ``dcmread(fp, stop_before_pixels=True)``, when ``fp`` is at
the pixel data element's tag. Only item headers are read (8 bytes each, values are skipped with
seeks); fragment-to-frame mapping uses, in order: the Basic Offset Table, the Extended Offset
Table (7FE0,0001)/(7FE0,0002), one fragment per frame, all fragments for a single frame, and
finally pydicom's JPEG EOI/EOC detection (:func:`pydicom.encaps.generate_fragmented_frames`).
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any, BinaryIO

from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragmented_frames

__all__ = ["PIXEL_TAGS", "PixelDataError", "locate_pixel_data"]

#: Float Pixel Data, Double Float Pixel Data, Pixel Data.
PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_ITEM = 0xE000FFFE  # (FFFE,E000) read as a little-endian uint32 of group, element
_SEQ_DELIMITER = 0xE0DDFFFE
_UNDEFINED = 0xFFFFFFFF


class PixelDataError(ValueError):
    """The pixel data cannot be located (truncated or malformed); the message is one line."""


def _read_exact(fp: BinaryIO, count: int, what: str) -> bytes:
    data = fp.read(count)
    if len(data) != count:
        raise PixelDataError(f"truncated: the file ends inside the {what}")
    return data


def locate_pixel_data(
    fp: BinaryIO, ds: Dataset, *, implicit_vr: bool, little_endian: bool, file_size: int
) -> dict[str, Any]:
    """Read the pixel data element header at ``fp``'s position.

    Returns
    -------
    dict
        ``pixel_data_tag``, ``pixel_data_offset``, ``pixel_data_length`` (-1 when encapsulated)
        and ``frame_fragments`` (``None`` for native data, else a list per frame of
        ``[offset, length]`` fragment values). All ``None`` when the dataset has no pixel data.

    Raises
    ------
    PixelDataError
        Truncated or malformed pixel data.
    """
    empty: dict[str, Any] = {
        "pixel_data_tag": None,
        "pixel_data_offset": None,
        "pixel_data_length": None,
        "frame_fragments": None,
    }
    start = fp.tell()
    head = fp.read(8)
    if len(head) < 8:
        return empty
    order = "<" if little_endian else ">"
    group, element = struct.unpack(order + "HH", head[:4])
    tag = (group << 16) | element
    if tag not in PIXEL_TAGS:
        return empty
    if implicit_vr:
        (length,) = struct.unpack(order + "L", head[4:])
        value_offset = start + 8
    else:
        vr = head[4:6]
        if vr in _LONG_VRS:
            (length,) = struct.unpack(order + "L", _read_exact(fp, 4, "pixel data header"))
            value_offset = start + 12
        else:
            (length,) = struct.unpack(order + "H", head[6:8])
            value_offset = start + 8
    if length != _UNDEFINED:
        if value_offset + length > file_size:
            raise PixelDataError(
                f"truncated: pixel data of {length} bytes at offset {value_offset} ends beyond "
                f"the end of the file ({file_size} bytes)"
            )
        return {
            "pixel_data_tag": tag,
            "pixel_data_offset": value_offset,
            "pixel_data_length": length,
            "frame_fragments": None,
        }
    fp.seek(value_offset)
    frames = _encapsulated_frames(fp, ds, file_size)
    return {
        "pixel_data_tag": tag,
        "pixel_data_offset": value_offset,
        "pixel_data_length": -1,
        "frame_fragments": frames,
    }


def _items(fp: BinaryIO, file_size: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Basic Offset Table values and ``(item header offset, value length)`` of each fragment."""
    fragments: list[tuple[int, int]] = []
    offsets: list[int] = []
    first = True
    while True:
        position = fp.tell()
        header = fp.read(8)
        if len(header) < 8:
            raise PixelDataError("truncated: the encapsulated pixel data has no sequence delimiter")
        tag, length = struct.unpack("<LL", header)
        if tag == _SEQ_DELIMITER:
            break
        if tag != _ITEM:
            raise PixelDataError(
                f"malformed encapsulated pixel data: tag ({tag & 0xFFFF:04X},{tag >> 16:04X}) "
                f"at offset {position} is not an item"
            )
        if length == _UNDEFINED:
            raise PixelDataError("malformed encapsulated pixel data: item of undefined length")
        if position + 8 + length > file_size:
            raise PixelDataError(
                f"truncated: a pixel data fragment ends beyond the end of the file ({file_size} "
                "bytes)"
            )
        if first:
            if length % 4:
                raise PixelDataError("malformed Basic Offset Table (length not a multiple of 4)")
            table = fp.read(length)
            offsets = list(struct.unpack(f"<{length // 4}L", table))
            first = False
            continue
        fragments.append((position, length))
        fp.seek(length, 1)
    if not fragments:
        raise PixelDataError("malformed encapsulated pixel data: no fragments")
    return offsets, fragments


def _by_offsets(
    fragments: list[tuple[int, int]], starts: list[int], frames: int, table: str
) -> list[list[list[int]]]:
    """Group fragments by frame start offsets (relative to the first fragment's item header)."""
    if len(starts) != frames or starts[0] != 0 or sorted(starts) != starts:
        raise PixelDataError(f"the {table} does not describe {frames} frames")
    base = fragments[0][0]
    out: list[list[list[int]]] = [[] for _ in range(frames)]
    index = 0
    for position, length in fragments:
        relative = position - base
        while index + 1 < frames and relative >= starts[index + 1]:
            index += 1
        out[index].append([position + 8, length])
    if any(not frame for frame in out):
        raise PixelDataError(f"the {table} points between fragments")
    return out


def _encapsulated_frames(fp: BinaryIO, ds: Dataset, file_size: int) -> list[list[list[int]]]:
    value_offset = fp.tell()
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError) as exc:
        raise PixelDataError(f"invalid NumberOfFrames {ds.get('NumberOfFrames')!r}") from exc
    if frames < 1:
        raise PixelDataError(f"invalid NumberOfFrames {frames}")
    bot, fragments = _items(fp, file_size)
    if bot:
        return _by_offsets(fragments, bot, frames, "Basic Offset Table")
    data = ds.get("ExtendedOffsetTable")
    if data:
        data = bytes(data)
        starts = list(struct.unpack(f"<{len(data) // 8}Q", data))
        return _by_offsets(fragments, starts, frames, "Extended Offset Table")
    if len(fragments) == frames:
        return [[[position + 8, length]] for position, length in fragments]
    if frames == 1:
        return [[[position + 8, length] for position, length in fragments]]
    if len(fragments) < frames:
        raise PixelDataError(f"{len(fragments)} fragments for {frames} frames")
    # More fragments than frames and no offset table: JPEG EOI/EOC markers (pydicom).
    end = fragments[-1][0] + 8 + fragments[-1][1] + 8
    fp.seek(value_offset)
    buffer = BytesIO(fp.read(end - value_offset))
    counts = [len(frame) for frame in generate_fragmented_frames(buffer, number_of_frames=frames)]
    if len(counts) != frames or sum(counts) != len(fragments):
        raise PixelDataError(
            f"cannot find the boundaries of {frames} frames in {len(fragments)} fragments"
        )
    out: list[list[list[int]]] = []
    index = 0
    for count in counts:
        out.append([[p + 8, n] for p, n in fragments[index : index + count]])
        index += count
    return out
