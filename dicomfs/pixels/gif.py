"""Animated GIF with exactly one GIF frame per image given, identical images included.

Pillow's animated GIF writer merges a frame identical to the previous one into it (adding up
their display times) and has no option to keep it, so a series of identical instances would come
back as a one-frame GIF. API.md promises one frame per instance, so the animation is assembled
here: each image is encoded by Pillow as a single-frame GIF (LZW and palette are Pillow's), and
the frames are spliced into one GIF89a stream (GIF89a specification, sections 17-27):

* the logical screen of the first image, without a global colour table;
* the NETSCAPE2.0 application extension (loop forever);
* for each image: a Graphic Control Extension (its delay), then its Image Descriptor with the
  image's own colour table moved from the global table to a local table, then its image data;
* the trailer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from io import BytesIO

from PIL import Image

from dicomfs.errors import NotAcceptableError

__all__ = ["animated_gif"]

_LOOP_FOREVER = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Position after a chain of data sub-blocks (each length-prefixed, ended by 0)."""
    while data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _frame_blocks(image: Image.Image) -> bytes:
    """The Image Descriptor (with a local colour table) and image data of one image."""
    buffer = BytesIO()
    image.save(buffer, "GIF")
    data = buffer.getvalue()
    if data[:6] not in (b"GIF87a", b"GIF89a"):  # pragma: no cover - Pillow always writes these
        raise NotAcceptableError("the GIF encoder produced no GIF")
    packed = data[10]
    pos = 13
    table = b""
    table_bits = 0
    if packed & 0x80:
        table_bits = packed & 0x07
        size = 3 * (2 ** (table_bits + 1))
        table = data[pos : pos + size]
        pos += size
    while data[pos] == 0x21:  # extensions written by Pillow: not needed in the animation
        pos = _skip_sub_blocks(data, pos + 2)
    if data[pos] != 0x2C:  # pragma: no cover - a single-frame GIF has an image descriptor
        raise NotAcceptableError("the GIF encoder produced no image")
    descriptor = bytearray(data[pos : pos + 10])
    pos += 10
    local = b""
    if descriptor[9] & 0x80:
        size = 3 * (2 ** ((descriptor[9] & 0x07) + 1))
        local = data[pos : pos + size]
        pos += size
    elif table:
        descriptor[9] = (descriptor[9] & 0x78) | 0x80 | table_bits
        local = table
    start = pos
    end = _skip_sub_blocks(data, pos + 1)  # LZW minimum code size, then the sub-blocks
    return bytes(descriptor) + local + data[start:end]


def animated_gif(images: Sequence[Image.Image], frame_ms: int) -> bytes:
    """Encode ``images`` (all of the first one's size) as an endlessly looping animated GIF.

    Parameters
    ----------
    images: Sequence[PIL.Image.Image]
        The frames, in display order; identical consecutive images stay separate frames.
    frame_ms: int
        Display time of each frame in milliseconds (stored in hundredths of a second).

    Returns
    -------
    bytes
        A GIF89a file with ``len(images)`` frames.

    Examples
    --------
    >>> same = Image.new("L", (2, 2), 7)
    >>> Image.open(BytesIO(animated_gif([same, same, same], 100))).n_frames
    3
    """
    if not images:
        raise NotAcceptableError("nothing to render")
    width, height = images[0].size
    delay = max(0, min(0xFFFF, round(frame_ms / 10)))
    control = b"!\xf9\x04\x00" + struct.pack("<H", delay) + b"\x00\x00"
    out = [b"GIF89a", struct.pack("<HHBBB", width, height, 0x70, 0, 0), _LOOP_FOREVER]
    for image in images:
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        out.append(control)
        out.append(_frame_blocks(image))
    out.append(b";")
    return b"".join(out)
