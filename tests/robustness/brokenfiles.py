"""Broken DICOM files, byte-exact: every kind of damage a real tree holds.

Each builder returns ``bytes``; :func:`broken_files` maps a file name to its content. Damage is
applied to the bytes of a known valid file (``factories.make_instance``), so every offset and
length here is exact and the expected outcome is known.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
from typing import Any

import factories
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

#: Offsets step for the truncation series (CONFORMANCE-neutral: just "many offsets").
TRUNCATION_STEP = 37


def part10(ds: Dataset, *, implicit: bool = False) -> bytes:
    """``ds`` as Part10 bytes."""
    buf = io.BytesIO()
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def valid(instance: int = 1, **attributes: Any) -> bytes:
    """A valid 16x16 16-bit CT instance of study 1 series 1 (1360 bytes with default attributes)."""
    return part10(factories.make_instance(1, 1, instance, rows=16, columns=16, **attributes))


def _element_offset(data: bytes, tag: int, vr: bytes) -> int:
    group, element = tag >> 16, tag & 0xFFFF
    needle = struct.pack("<HH", group, element) + vr
    offset = data.find(needle, 132)
    assert offset > 0, f"{tag:08X} {vr!r} not found"
    return offset


def with_vr(data: bytes, tag: int, vr: bytes, new_vr: bytes) -> bytes:
    """The element ``tag`` (explicit VR, short length form) with its VR bytes replaced."""
    at = _element_offset(data, tag, vr)
    return data[: at + 4] + new_vr + data[at + 6 :]


def with_short_length(data: bytes, tag: int, vr: bytes, length: int) -> bytes:
    """The element ``tag`` (explicit VR, 2-byte length) declaring ``length`` bytes."""
    at = _element_offset(data, tag, vr)
    return data[: at + 6] + struct.pack("<H", length) + data[at + 8 :]


def with_long_length(data: bytes, tag: int, vr: bytes, length: int) -> bytes:
    """The element ``tag`` (explicit VR, 4-byte length: OB/OW/UN/SQ/UT...) declaring ``length``."""
    at = _element_offset(data, tag, vr)
    return data[: at + 8] + struct.pack("<I", length) + data[at + 12 :]


def with_private_un(instance: int) -> bytes:
    """A valid file holding a private UN element (0009,1010) of 4 bytes."""
    ds = factories.make_instance(1, 1, instance, rows=4, columns=4)
    ds.add_new(0x00091010, "UN", b"abcd")
    return part10(ds)


def deep_sequence(instance: int, depth: int) -> bytes:
    """A valid header followed by ``depth`` nested undefined-length sequences (explicit VR LE).

    The nest is placed in (0008,1140) ReferencedImageSequence, before the pixel data.
    """
    ds = factories.make_instance(1, 1, instance, rows=4, columns=4, PixelData=None,
                                 Rows=None, Columns=None, BitsAllocated=None, BitsStored=None,
                                 HighBit=None, PixelRepresentation=None, SamplesPerPixel=None,
                                 PhotometricInterpretation=None)
    head = part10(ds)
    # Split the data set where (0008,1140) belongs: after the last group-0008 element below it.
    seq_start = struct.pack("<HH", 0x0008, 0x1140) + b"SQ\x00\x00" + b"\xff\xff\xff\xff"
    item_start = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_end = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    seq_end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    nest = (seq_start + item_start) * depth + (item_end + seq_end) * depth
    # (0008,1030) StudyDescription < (0008,1140) < (0008,103E): insert before SeriesDescription.
    split = _element_offset(head, 0x0008103E, b"LO")
    return head[:split] + nest + head[split:]


def broken_files(seed: int = 1) -> dict[str, bytes]:
    """File name -> content of every kind of broken file (and a few valid oddities).

    Every one must be rejected.
    """
    rng = random.Random(seed)
    good = valid(1)
    files: dict[str, bytes] = {
        "empty.dcm": b"",
        "random.bin": bytes(rng.getrandbits(8) for _ in range(3000)),
        "random-dicm.dcm": bytes(128) + b"DICM" + bytes(rng.getrandbits(8) for _ in range(500)),
        "preamble-no-dicm.dcm": bytes(128) + b"XXXX" + good[132:],
        "text.txt": b"not a dicom file\n",
        "zeros.dcm": bytes(4096),
    }
    for offset in range(1, len(good), TRUNCATION_STEP):
        files[f"truncated-{offset:05d}.dcm"] = good[:offset]
    files["truncated-pixels-minus-1.dcm"] = good[:-1]
    # Value lengths that lie: PatientName longer than the file, odd, zero; a huge UN length.
    files["length-too-long.dcm"] = with_short_length(good, 0x00100010, b"PN", 0xFFF0)
    files["length-past-end.dcm"] = with_short_length(good, 0x00280011, b"US", 4000)
    files["huge-un-length.dcm"] = with_long_length(with_private_un(2), 0x00091010, b"UN",
                                                   0xFFFFFFF0)
    files["huge-pixel-length.dcm"] = with_long_length(good, 0x7FE00010, b"OW", 0x7FFFFFF0)
    files["undefined-pixel-length-native.dcm"] = with_long_length(good, 0x7FE00010, b"OW",
                                                                  0xFFFFFFFF)
    files["deep-sequence-5000.dcm"] = deep_sequence(3, 5000)
    files["bad-vr-lowercase.dcm"] = with_vr(valid(5), 0x00080060, b"CS", b"cs")
    return files


def odd_valid_files() -> dict[str, bytes]:
    """Files that must be indexed: valid files with awkward names or structures, and damage
    readers tolerate (an unknown VR is read as UN). Each has a distinct SOP Instance UID."""
    return {
        "ok-bad-vr-zz.dcm": with_vr(valid(4), 0x00100010, b"PN", b"ZZ"),
        "ok-deep-sequence-50.dcm": deep_sequence(20, 50),
        "ok name with spaces.dcm": valid(21),
        "ok-ünïcödé-名前.dcm": valid(22),
        "ok-new\nline.dcm": valid(23),
        "ok-%_*?[].dcm": valid(24),
        "-ok-leading-dash.dcm": valid(25),
        "ok-implicit.dcm": part10(factories.make_instance(1, 1, 26, rows=4, columns=4),
                                  implicit=True),
    }


def _patched(ds: Dataset, placeholder: bytes, garbage: bytes) -> bytes:
    """``ds`` as Part10 bytes with a placeholder value replaced by garbage of the same length
    (pydicom refuses to write a DS or IS that is not a number)."""
    assert len(placeholder) == len(garbage)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    data = buf.getvalue()
    assert data.count(placeholder) == 1
    return data.replace(placeholder, garbage)


#: Image Pixel modules that lie (name -> attributes of ``make_instance``): each file is well
#: formed, so the scanner may index it, and WADO must then fail cleanly or serve something.
LYING_PIXEL_MODULES: dict[str, dict[str, Any]] = {
    "rows-0": dict(Rows=0),
    "columns-0": dict(Columns=0),
    "bits-allocated-12": dict(BitsAllocated=12),
    "bits-allocated-0": dict(BitsAllocated=0),
    "bits-allocated-1": dict(BitsAllocated=1, BitsStored=1, HighBit=0),
    "bits-allocated-32": dict(BitsAllocated=32, BitsStored=32, HighBit=31),
    "frames-0": dict(NumberOfFrames=0),
    "frames-negative": dict(NumberOfFrames=-1),
    "frames-100000": dict(NumberOfFrames=100000),
    "samples-3-monochrome": dict(SamplesPerPixel=3),
    "samples-0": dict(SamplesPerPixel=0),
    "photometric-unknown": dict(PhotometricInterpretation="FOO"),
    "photometric-rgb-1-sample": dict(PhotometricInterpretation="RGB"),
    "palette-without-lut": dict(PhotometricInterpretation="PALETTE COLOR"),
    "ybr-422-1-sample": dict(PhotometricInterpretation="YBR_FULL_422"),
    "pixels-short": dict(PixelData=b"\x01\x02\x03\x04\x05\x06"),
    "pixels-odd": dict(PixelData=b"\x01\x02\x03"),
    "pixels-empty": dict(PixelData=b""),
    "pixel-representation-5": dict(PixelRepresentation=5),
    "bits-stored-40": dict(BitsStored=40),
    "high-bit-40": dict(HighBit=40),
    "rows-columns-65535": dict(Rows=65535, Columns=65535),
    "window-width-0": dict(WindowCenter="100", WindowWidth="0"),
    "window-width-negative": dict(WindowCenter="100", WindowWidth="-5"),
    "slope-0": dict(RescaleSlope="0"),
    "slope-nan": dict(RescaleSlope="nan"),
    "slope-inf": dict(RescaleSlope="inf"),
    "voi-function-unknown": dict(WindowCenter="1", WindowWidth="1", VOILUTFunction="FOO"),
    "planar-5-rgb": dict(PlanarConfiguration=5, SamplesPerPixel=3, PhotometricInterpretation="RGB"),
    "no-rows": dict(Rows=None),
    "no-photometric": dict(PhotometricInterpretation=None),
    "no-pixels": dict(PixelData=None),
    "float-pixels": dict(PixelData=None, FloatPixelData=b"\0" * 64, BitsAllocated=32),
}


def hostile_indexed_files(first: int = 100) -> dict[str, tuple[int, bytes]]:
    """Well-formed files with lying contents: name -> (instance number, bytes).

    Instance ``n`` has SOP Instance UID ``factories.sop_uid(1, 1, n)``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the very values written here
        return _hostile(first)


def _hostile(first: int) -> dict[str, tuple[int, bytes]]:
    from pydicom.encaps import encapsulate
    from pydicom.uid import (
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGLSLossless,
        RLELossless,
    )

    out: dict[str, tuple[int, bytes]] = {}
    n = first
    for name, attributes in LYING_PIXEL_MODULES.items():
        n += 1
        ds = factories.make_instance(1, 1, n, rows=4, columns=4, **attributes)
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=False)
        out[f"{name}.dcm"] = (n, buf.getvalue())
    for name, placeholder_attrs in (
        ("window-center-text", dict(WindowCenter="987.25", WindowWidth="10")),
        ("slope-text", dict(RescaleSlope="987.25")),
        ("instance-number-text", dict(InstanceNumber="987251")),
    ):
        n += 1
        ds = factories.make_instance(1, 1, n, rows=4, columns=4, **placeholder_attrs)
        placeholder = b"987.25" if b"987.25" in str(placeholder_attrs).encode() else b"987251"
        out[f"{name}.dcm"] = (n, _patched(ds, placeholder, b"abc   "))
    for name, syntax, bits in (
        ("jpeg-garbage", JPEGBaseline8Bit, 8),
        ("rle-garbage", RLELossless, 16),
        ("j2k-garbage", JPEG2000Lossless, 16),
        ("jpegls-garbage", JPEGLSLossless, 16),
    ):
        n += 1
        ds = factories.make_instance(1, 1, n, rows=4, columns=4, bits=bits,
                                     transfer_syntax=syntax)
        ds.PixelData = encapsulate([b"\xff\xd8garbage" * 3])
        ds["PixelData"].VR = "OB"
        out[f"{name}.dcm"] = (n, part10(ds))
    for name, syntax in (("big-endian", ExplicitVRBigEndian),
                         ("deflated", DeflatedExplicitVRLittleEndian)):
        n += 1
        ds = factories.make_instance(1, 1, n, rows=4, columns=4, transfer_syntax=syntax)
        out[f"{name}.dcm"] = (n, part10(ds))
    return out
