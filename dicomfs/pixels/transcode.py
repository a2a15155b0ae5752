"""Transcode a whole instance to the transfer syntax a WADO-RS client asked for.

Everything is done by pydicom (and its pylibjpeg plugins): decompression with
``Dataset.decompress`` and compression with ``Dataset.compress``. The SOP Instance UID is never
changed and the File Meta Information is updated to describe the result (CONFORMANCE E-03,
E-06, E-07).
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pydicom.pixels.encoders.base import get_encoder
from pydicom.pixels.utils import pack_bits
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomfs.errors import NotAcceptableError
from dicomfs.pixels.decode import can_decode
from dicomfs.pixels.frames import byteswap

__all__ = ["ENCODABLE", "can_produce", "transcode"]

#: Compressed syntaxes an instance may be transcoded to (lossless only; when an encoder exists).
ENCODABLE: tuple[str, ...] = (
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless Only
)
_UNCOMPRESSED = frozenset({ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian})
_SWAP_UNIT = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def _has_encoder(target: str) -> bool:
    try:
        return bool(get_encoder(UID(target)).is_available)
    except NotImplementedError:
        return False


def can_produce(stored: str, target: str) -> bool:
    """Whether an instance stored as ``stored`` can be sent as ``target``.

    Implicit VR Little Endian and Explicit VR Big Endian are never produced (E-06); compressed
    targets need an encoder (and a decoder when the stored data is compressed too).

    >>> can_produce("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    True
    >>> can_produce("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")
    False
    """
    if target in (ImplicitVRLittleEndian, ExplicitVRBigEndian):
        return False
    if target == stored:
        return True
    if not UID(stored).is_transfer_syntax:
        return False  # a syntax pydicom does not know (a newer one): served as stored only
    readable = not UID(stored).is_compressed or can_decode(stored)
    if target in _UNCOMPRESSED:
        return readable
    return target in ENCODABLE and readable and _has_encoder(target)


def _swap_to_little_endian(ds: Dataset) -> None:
    """Swap OW/OF/OL/OD/OV values of a big endian dataset in place (pydicom keeps them raw)."""
    for elem in ds.iterall():
        unit = _SWAP_UNIT.get(str(elem.VR), 0)
        if unit and isinstance(elem.value, bytes):
            elem.value = byteswap(elem.value, unit)


def _reencode(ds: Dataset, target: str) -> Dataset:
    """Write ``ds`` as ``target`` (a native syntax) and read it back (consistent encoding)."""
    ds.file_meta.TransferSyntaxUID = UID(target)
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    buffer.seek(0)
    return dcmread(buffer)


def _interleave(ds: Dataset) -> None:
    """Native colour pixel data stored plane by plane (Planar Configuration 1) rewritten pixel by
    pixel (0): pydicom's encoders read the bytes as interleaved, and scrambled the colours."""
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1 and ds.get("PlanarConfiguration") == 1:
        ds.PixelData = np.ascontiguousarray(ds.pixel_array).tobytes()
        ds.PlanarConfiguration = 0


def _repack_one_bit(ds: Dataset) -> None:
    """pydicom's decompress leaves 1-bit data one pixel per byte: pack it (PS3.5 8.1.1)."""
    count = int(ds.Rows) * int(ds.Columns) * int(ds.get("NumberOfFrames") or 1) * int(
        ds.get("SamplesPerPixel", 1)
    )
    pixels = np.frombuffer(ds.PixelData, dtype=np.uint8, count=count)
    ds.PixelData = pack_bits(pixels, pad=True)
    ds["PixelData"].VR = "OB"


def transcode(ds: Dataset, target: str) -> Dataset:
    """Return ``ds`` encoded as ``target`` (``ds`` may be modified in place).

    Parameters
    ----------
    ds: Dataset
        A dataset read from a Part10 file, with ``file_meta.TransferSyntaxUID`` set.
    target: str
        A transfer syntax for which :func:`can_produce` is true.

    Raises
    ------
    NotAcceptableError
        The conversion failed (no codec, or the codec cannot handle this pixel data).
    """
    stored: str = UID(ds.file_meta.TransferSyntaxUID)
    if target == stored:
        return ds
    if not can_produce(stored, target):
        raise NotAcceptableError(f"cannot convert {UID(stored).name} to {UID(target).name}")
    try:
        if UID(stored).is_compressed and stored != DeflatedExplicitVRLittleEndian:
            if "PixelData" in ds:
                ds.decompress(as_rgb=True, generate_instance_uid=False)
                if int(ds.BitsAllocated) == 1:
                    _repack_one_bit(ds)
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        elif stored == ExplicitVRBigEndian:
            _swap_to_little_endian(ds)
            ds = _reencode(ds, ExplicitVRLittleEndian)
        elif stored == ImplicitVRLittleEndian:
            ds = _reencode(ds, ExplicitVRLittleEndian)
        if target in _UNCOMPRESSED:
            ds.file_meta.TransferSyntaxUID = UID(target)
            return ds
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        _interleave(ds)
        ds.compress(target, generate_instance_uid=False)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, TypeError) as exc:
        raise NotAcceptableError(
            f"cannot convert {UID(stored).name} to {UID(target).name}: {exc}"
        ) from exc
    return ds
