"""Frames as stored, read with one seek and one read from the offsets the index recorded.

The index (:class:`~dicomfs.index.records.StoredInstance`) knows where the pixel data value starts
and, for encapsulated data, where every fragment of every frame lies. A frame is therefore an
``open``/``seek``/``read``: the file is never re-parsed and the pixel data never decoded.

* Native frames (CONFORMANCE F-03) are returned as little-endian bytes: big endian files are
  byte-swapped according to the pixel data VR (OW: 16-bit words, OF/OL: 32-bit, OD/OV: 64-bit,
  OB: never), exactly as pydicom reads them.
* 1-bit frames (F-04) start at bit ``(k-1)*R*C*S`` and are returned re-packed from bit 0.
* Native YBR_FULL_422 frames are sub-sampled: two samples per pixel (Y Y Cb Cr for each pair of
  pixels), so a frame is ``Rows*Columns*2*BitsAllocated/8`` bytes, not ``*3`` (PS3.5 §8.2.1,
  PS3.3 C.7.6.3.1.2). The index does not record the Photometric Interpretation: such data is
  recognised by its length (exactly the sub-sampled size, less than the full size).
* Encapsulated frames (F-05) are the values of their fragments joined, item headers excluded.

Files whose pixel data offsets are unknown (deflated files, files the index could not map) are
served by :func:`frames_from_dataset` from a fully parsed dataset instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from dicomfs.errors import (
    CorruptFileError,
    InvalidQueryError,
    NotAcceptableError,
    NotFoundError,
)
from dicomfs.index.records import StoredInstance

__all__ = [
    "PIXEL_KEYWORDS",
    "byteswap",
    "check_frame_numbers",
    "frame_bits",
    "frame_count",
    "frames_from_dataset",
    "has_pixel_data",
    "is_encapsulated",
    "missing_pixel_bytes",
    "read_frames",
    "uses_offsets",
]

#: Pixel data tag -> keyword (Pixel Data, Float Pixel Data, Double Float Pixel Data).
PIXEL_KEYWORDS: dict[int, str] = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
_SWAP_UNIT: dict[str, int] = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def check_frame_numbers(frame_numbers: object) -> list[int]:
    """Validate a frame number list (CONFORMANCE F-01, F-02).

    Parameters
    ----------
    frame_numbers: Sequence[int]
        One-based frame numbers, in the order wanted (kept: F-01). A number may repeat: the
        frame is then returned again (issue 3 pins "requested order and duplicates kept", the
        choice F-02 leaves open; a list is not a URL and callers build it on purpose).

    Returns
    -------
    list[int]
        The frame numbers.

    Raises
    ------
    InvalidQueryError
        Empty list, a string, or an item that is not a positive integer (bools are not
        integers).

    Examples
    --------
    >>> check_frame_numbers((3, 1))
    [3, 1]
    """
    if isinstance(frame_numbers, (str, bytes)) or not isinstance(frame_numbers, Sequence):
        raise InvalidQueryError(f"frame_numbers must be a sequence of integers: {frame_numbers!r}")
    if not frame_numbers:
        raise InvalidQueryError("frame_numbers is empty")
    out: list[int] = []
    for number in frame_numbers:
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)):
            raise InvalidQueryError(f"frame number {number!r} is not an integer")
        if number < 1:
            raise InvalidQueryError(f"frame number {number} is not positive (frames start at 1)")
        out.append(int(number))
    return out


def frame_count(inst: StoredInstance) -> int:
    """Number of frames of an instance (1 when NumberOfFrames is absent)."""
    return inst.number_of_frames if inst.number_of_frames and inst.number_of_frames > 0 else 1


def has_pixel_data(inst: StoredInstance) -> bool:
    """True when the index recorded a pixel data element for the instance."""
    return inst.pixel_data_tag is not None


def is_encapsulated(inst: StoredInstance) -> bool:
    """True when the stored pixel data is compressed (encapsulated).

    For a transfer syntax pydicom does not know, the pixel data's undefined length says it.
    """
    try:
        return bool(UID(inst.transfer_syntax_uid).is_encapsulated)
    except ValueError:
        return inst.pixel_data_length == -1


def uses_offsets(inst: StoredInstance) -> bool:
    """True when frames can be read with seek+read (else parse the file)."""
    if inst.transfer_syntax_uid == DeflatedExplicitVRLittleEndian or inst.pixel_data_offset is None:
        return False
    if is_encapsulated(inst):
        return inst.frame_fragments is not None and len(inst.frame_fragments) >= frame_count(inst)
    return (
        inst.pixel_data_length is not None
        and inst.pixel_data_length >= 0
        and bool(inst.rows and inst.columns and inst.bits_allocated)
    )


def frame_bits(
    rows: int, columns: int, samples: int, bits: int, frames: int, value_length: int | None
) -> int:
    """Bits of one native frame: ``rows*columns*samples*bits``, or ``*2`` instead of ``*3``
    for sub-sampled YBR_FULL_422 data (recognised by ``value_length``, in bytes).

    >>> frame_bits(4, 4, 3, 8, 2, 64)  # 2 frames of 4x4 YBR_FULL_422: 32 bytes each
    256
    >>> frame_bits(4, 4, 3, 8, 2, 96)  # 2 frames of 4x4 RGB: 48 bytes each
    384
    """
    full = rows * columns * samples * bits
    if samples == 3 and bits >= 8 and value_length is not None:
        sub = rows * columns * 2 * bits
        if value_length * 8 < full * frames and value_length * 8 in (
            sub * frames, sub * frames + 8
        ):
            return sub
    return full


def missing_pixel_bytes(
    rows: int | None,
    columns: int | None,
    samples: int | None,
    bits: int | None,
    frames: int | None,
    length: int | None,
) -> int:
    """Bytes that native pixel data lacks for the frames its attributes declare (0: complete).

    ``length`` is the pixel data's value length (-1 or None: encapsulated or absent, 0 missing).

    >>> missing_pixel_bytes(4, 4, 1, 16, 2, 64), missing_pixel_bytes(4, 4, 1, 16, 2, 60)
    (0, 4)
    >>> missing_pixel_bytes(4, 4, 3, 8, 1, 32)  # YBR_FULL_422: two bytes per pixel
    0
    """
    if not (rows and columns and bits) or length is None or length < 0:
        return 0
    count = frames if frames and frames > 0 else 1
    nbits = frame_bits(rows, columns, samples or 1, bits, count, length)
    return max(0, math.ceil(nbits * count / 8) - length)


def _frame_bits(inst: StoredInstance) -> int:
    rows, columns, bits = inst.rows or 0, inst.columns or 0, inst.bits_allocated or 0
    return frame_bits(
        rows, columns, inst.samples_per_pixel or 1, bits, frame_count(inst),
        inst.pixel_data_length,
    )


def byteswap(data: bytes, unit: int) -> bytes:
    """Reverse the byte order of each ``unit``-byte word of ``data`` (a trailing odd byte stays).

    >>> byteswap(b"\\x01\\x02\\x03\\x04", 2)
    b'\\x02\\x01\\x04\\x03'
    """
    if unit <= 1:
        return data
    whole = len(data) // unit * unit
    swapped = np.frombuffer(data, dtype=f">u{unit}", count=whole // unit).astype(f"<u{unit}")
    return swapped.tobytes() + data[whole:]


def _pixel_vr(fh: BinaryIO, inst: StoredInstance) -> str:
    """The VR of the pixel data element of an explicit VR file (read from its header)."""
    assert inst.pixel_data_offset is not None
    fh.seek(inst.pixel_data_offset - 8)
    return fh.read(2).decode("ascii", "replace")


def _read_exact(fh: BinaryIO, offset: int, length: int, inst: StoredInstance) -> bytes:
    fh.seek(offset)
    data = fh.read(length)
    if len(data) != length:
        raise CorruptFileError(
            f"{inst.path}: expected {length} bytes of pixel data at offset {offset}, "
            f"got {len(data)} (file truncated or changed since it was indexed)"
        )
    return data


def _native_frame(fh: BinaryIO, inst: StoredInstance, number: int, swap_unit: int) -> bytes:
    assert inst.pixel_data_offset is not None and inst.pixel_data_length is not None
    nbits = _frame_bits(inst)
    start_bit = (number - 1) * nbits
    if inst.bits_allocated == 1:
        first, end = start_bit // 8, math.ceil((start_bit + nbits) / 8)
        if end > inst.pixel_data_length:
            raise CorruptFileError(f"{inst.path}: frame {number} lies past the pixel data")
        raw = _read_exact(fh, inst.pixel_data_offset + first, end - first, inst)
        shift = start_bit - first * 8
        if shift == 0 and nbits % 8 == 0:
            return raw[: nbits // 8]
        bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[shift : shift + nbits]
        return np.packbits(bits, bitorder="little").tobytes()
    first, length = start_bit // 8, nbits // 8
    if first + length > inst.pixel_data_length:
        raise CorruptFileError(f"{inst.path}: frame {number} lies past the pixel data")
    if swap_unit <= 1:
        return _read_exact(fh, inst.pixel_data_offset + first, length, inst)
    # Swap whole words: a frame may start or end inside a word (8-bit data stored as OW).
    lead = first % swap_unit
    span = math.ceil((lead + length) / swap_unit) * swap_unit
    span = min(span, inst.pixel_data_length - (first - lead))
    raw = _read_exact(fh, inst.pixel_data_offset + first - lead, span, inst)
    return byteswap(raw, swap_unit)[lead : lead + length]


def _encapsulated_frame(fh: BinaryIO, inst: StoredInstance, number: int) -> bytes:
    assert inst.frame_fragments is not None
    fragments = inst.frame_fragments[number - 1]
    if len(fragments) == 1:
        offset, length = fragments[0]
        return _read_exact(fh, offset, length, inst)
    start = fragments[0][0]
    end = max(offset + length for offset, length in fragments)
    raw = _read_exact(fh, start, end - start, inst)
    return b"".join(raw[offset - start : offset - start + length] for offset, length in fragments)


def read_frames(path: Path, inst: StoredInstance, numbers: Sequence[int]) -> Iterator[bytes]:
    """Yield frames as stored, in the order given (duplicates kept), opening the file once.

    Parameters
    ----------
    path: Path
        Absolute path of the instance's file.
    inst: StoredInstance
        Its index record; :func:`uses_offsets` must be true.
    numbers: Sequence[int]
        Validated one-based frame numbers (see :func:`check_frame_numbers`).

    Raises
    ------
    NotFoundError
        A frame number past NumberOfFrames.
    CorruptFileError
        The file no longer matches its index record.
    """
    count = frame_count(inst)
    for number in numbers:
        if number > count:
            raise NotFoundError(f"frame {number} does not exist (the instance has {count})")
    encapsulated = is_encapsulated(inst)
    try:
        fh = open(path, "rb")  # closed by the with below
    except OSError as exc:
        raise CorruptFileError(f"{inst.path}: cannot be read: {exc}") from exc
    with fh:
        swap_unit = 1
        if not encapsulated and inst.transfer_syntax_uid == ExplicitVRBigEndian:
            swap_unit = _SWAP_UNIT.get(_pixel_vr(fh, inst), 1)
        for number in numbers:
            if encapsulated:
                yield _encapsulated_frame(fh, inst, number)
            else:
                yield _native_frame(fh, inst, number, swap_unit)


def frames_from_dataset(ds: Dataset, numbers: Sequence[int]) -> Iterator[bytes]:
    """Yield frames as stored from a parsed dataset (deflated files and other fallbacks).

    Native frames are little-endian (big endian datasets are swapped per VR) and 1-bit frames are
    re-packed from bit 0, as :func:`read_frames` returns them.

    Raises
    ------
    NotFoundError
        The dataset has no pixel data, or a frame number is past NumberOfFrames.
    """
    keyword = next((k for k in PIXEL_KEYWORDS.values() if k in ds), None)
    if keyword is None:
        raise NotFoundError("the instance has no pixel data")
    count = int(ds.get("NumberOfFrames") or 1)
    for number in numbers:
        if number > count:
            raise NotFoundError(f"frame {number} does not exist (the instance has {count})")
    elem = ds[keyword]
    value: bytes = elem.value
    meta = getattr(ds, "file_meta", None)
    tsyntax = UID(meta.get("TransferSyntaxUID", "") if meta is not None else "")
    if tsyntax.is_encapsulated:
        frames = list(generate_frames(value, number_of_frames=count))
        for number in numbers:
            yield frames[number - 1]
        return
    if ds.original_encoding[1] is False:
        value = byteswap(value, _SWAP_UNIT.get(str(elem.VR), 1))
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples, allocated = int(ds.get("SamplesPerPixel", 1)), int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError) as exc:
        raise NotAcceptableError(f"incomplete Image Pixel module: {exc}") from exc
    nbits = frame_bits(rows, columns, samples, allocated, count, len(value))
    for number in numbers:
        start = (number - 1) * nbits
        if nbits % 8 == 0 and start % 8 == 0:
            yield value[start // 8 : (start + nbits) // 8]
            continue
        unpacked = np.unpackbits(np.frombuffer(value, np.uint8), bitorder="little")
        bits = unpacked[start : start + nbits]
        yield np.packbits(bits, bitorder="little").tobytes()
