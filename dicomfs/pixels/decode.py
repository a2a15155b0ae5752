"""Decode one frame with pydicom's decoders, and turn decoded arrays into native bytes.

A frame is decoded on its own (never the whole pixel data): native frames from their little-endian
bytes, compressed frames from their codestream, both through ``pydicom.pixels.get_decoder``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.utils import pack_bits
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomfs.errors import CorruptFileError, NotAcceptableError

__all__ = [
    "LOSSLESS_COMPRESSED",
    "can_decode",
    "decode_frame",
    "decoding_options",
    "native_bytes",
]

#: Compressed transfer syntaxes whose data is lossless (CONFORMANCE F-08): frames of these are
#: decoded for ``application/octet-stream``; any other compressed syntax is treated as lossy.
LOSSLESS_COMPRESSED: frozenset[str] = frozenset(
    {
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless, Process 14
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless, SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless Only
        "1.2.840.10008.1.2.4.92",  # JPEG 2000 Part 2 Lossless Only
        "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
        "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
        "1.2.840.10008.1.2.4.110",  # JPEG XL Lossless
        "1.2.840.10008.1.2.5",  # RLE Lossless
    }
)
_NATIVE = frozenset(
    {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian,
     DeflatedExplicitVRLittleEndian}
)


def can_decode(transfer_syntax_uid: str) -> bool:
    """True when pydicom has an available decoder for the transfer syntax."""
    if transfer_syntax_uid in _NATIVE:
        return True
    try:
        return bool(get_decoder(UID(transfer_syntax_uid)).is_available)
    except NotImplementedError:
        return False


def decoding_options(header: Dataset, keyword: str = "PixelData") -> dict[str, Any]:
    """The pydicom decoding options for one frame of ``header`` (a dataset without pixel data).

    Raises
    ------
    NotAcceptableError
        The Image Pixel module is incomplete, so the frame cannot be decoded.
    """
    try:
        opts: dict[str, Any] = {
            "rows": int(header.Rows),
            "columns": int(header.Columns),
            "samples_per_pixel": int(header.get("SamplesPerPixel", 1)),
            "bits_allocated": int(header.BitsAllocated),
            "photometric_interpretation": str(header.PhotometricInterpretation),
            "number_of_frames": 1,
            "pixel_keyword": keyword,
        }
    except (AttributeError, TypeError, ValueError) as exc:
        raise NotAcceptableError(f"incomplete Image Pixel module: {exc}") from exc
    if keyword == "PixelData":
        opts["bits_stored"] = int(header.get("BitsStored") or header.BitsAllocated)
        opts["pixel_representation"] = int(header.get("PixelRepresentation") or 0)
    if opts["samples_per_pixel"] > 1:
        opts["planar_configuration"] = int(header.get("PlanarConfiguration") or 0)
    return opts


def decode_frame(
    frame: bytes, transfer_syntax_uid: str, options: dict[str, Any], *, raw: bool = False
) -> np.ndarray:
    """Decode one frame to an array shaped (rows, columns[, samples]).

    Parameters
    ----------
    frame: bytes
        Native little-endian bytes of the frame (1-bit frames packed from bit 0), or the
        frame's codestream for a compressed transfer syntax.
    transfer_syntax_uid: str
        The stored transfer syntax.
    options: dict
        From :func:`decoding_options`.
    raw: bool
        Keep YBR data as YBR (``True``) or convert it to RGB (``False``), as pydicom's ``raw``.

    Raises
    ------
    NotAcceptableError
        No decoder is available for the transfer syntax.
    CorruptFileError
        The decoder failed on the frame.
    """
    tsyntax = UID(transfer_syntax_uid)
    if tsyntax in _NATIVE:
        tsyntax, src = ExplicitVRLittleEndian, frame
    else:
        if not can_decode(tsyntax):
            raise NotAcceptableError(f"no decoder available for {tsyntax.name} ({tsyntax})")
        src = encapsulate([frame], has_bot=False)
    opts = dict(options)
    if (
        tsyntax == ExplicitVRLittleEndian
        and opts.get("photometric_interpretation") == "YBR_FULL_422"
        and len(frame) * 8 != opts["rows"] * opts["columns"] * 2 * opts["bits_allocated"]
    ):
        # Labelled 4:2:2 but not sub-sampled (frames.frame_bits measured it): full YBR.
        opts["photometric_interpretation"] = "YBR_FULL"
    try:
        arr, _ = get_decoder(tsyntax).as_array(src, raw=raw, **opts)
    except (ValueError, RuntimeError, NotImplementedError, KeyError, IndexError) as exc:
        raise CorruptFileError(f"cannot decode the frame ({tsyntax.name}): {exc}") from exc
    return arr


def native_bytes(arr: np.ndarray, bits_allocated: int) -> bytes:
    """Native little-endian bytes of a decoded frame, as Explicit VR Little Endian stores them.

    1-bit data is packed (first pixel in bit 0) and ``BitsAllocated`` sets the sample size.

    >>> native_bytes(np.array([[1, 0, 1]], dtype=np.uint8), 1)
    b'\\x05'
    >>> native_bytes(np.array([[1, 258]], dtype=np.uint16), 16)
    b'\\x01\\x00\\x02\\x01'
    """
    if bits_allocated == 1:
        return pack_bits(arr.ravel(), pad=False)
    if arr.dtype.kind == "f":
        return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    kind = "i" if arr.dtype.kind == "i" else "u"
    dtype = np.dtype(f"<{kind}{max(bits_allocated // 8, 1)}")
    return arr.astype(dtype, copy=False).tobytes()
