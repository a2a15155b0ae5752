"""WADO-RS contract: instances, metadata, frames, bulk data and rendered images.

Runs against every backend's read-only ``client`` over the standard store (tests/factories.py):
pixel k of frame f (0-based) is ``k + f*1000`` as uint16, 4x4 images.
"""

from __future__ import annotations

import json
import math
from io import BytesIO
from pathlib import Path
from typing import Any

import factories
import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless

import dicomfs
from dicomfs.errors import (
    BadRequestError,
    CorruptFileError,
    InvalidQueryError,
    NotAcceptableError,
    NotFoundError,
)

S1, SE1 = factories.study_uid(1), factories.series_uid(1, 1)
CT1 = factories.sop_uid(1, 1, 1)
S2, SE2 = factories.study_uid(2), factories.series_uid(2, 1)
MF = factories.sop_uid(2, 1, 2)  # the 3-frame enhanced MR


def frame_bytes(frame: int) -> bytes:
    return (np.arange(16) + frame * 1000).astype("<u2").tobytes()


def test_retrieve_instance_default_is_explicit_vr_le(client) -> None:
    """E-03/E-05: no media types -> Explicit VR LE, SOP Instance UID unchanged."""
    ds = client.retrieve_instance(S1, SE1, CT1)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPInstanceUID == CT1
    assert ds.pixel_array.ravel().tolist() == list(range(16))


def test_retrieve_series_and_study_return_every_instance(client) -> None:
    """E-02: a series/study retrieve returns every instance, ordered by InstanceNumber."""
    series = client.retrieve_series(S1, SE1)
    assert [ds.SOPInstanceUID for ds in series] == [factories.sop_uid(1, 1, i) for i in (1, 2, 3)]
    assert len(client.retrieve_study(S1)) == 6


def test_iter_study_is_lazy(client) -> None:
    """E-02: iter_study yields datasets one at a time."""
    it = client.iter_study(S2)
    assert next(it).SOPInstanceUID == factories.sop_uid(2, 1, 1)
    assert next(it).SOPInstanceUID == MF


def test_retrieve_instance_as_stored(client) -> None:
    """E-04: ("application/dicom", "*") returns the stored transfer syntax."""
    ds = client.retrieve_instance(S1, SE1, CT1, media_types=(("application/dicom", "*"),))
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


@pytest.mark.needs("transcode")
def test_retrieve_instance_transcoded_to_rle(client) -> None:
    """E-07: a syntax the server can produce (RLE Lossless) is produced, pixels unchanged."""
    ds = client.retrieve_instance(S2, SE2, MF, media_types=(("application/dicom", RLELossless),))
    assert ds.file_meta.TransferSyntaxUID == RLELossless
    assert ds.SOPInstanceUID == MF
    assert ds.pixel_array[2].ravel().tolist() == list(range(2000, 2016))


def test_never_sends_implicit_or_big_endian(client) -> None:
    """E-06: Implicit VR LE is never produced (406)."""
    with pytest.raises(NotAcceptableError):
        client.retrieve_instance(
            S1, SE1, CT1, media_types=(("application/dicom", "1.2.840.10008.1.2"),)
        )


def test_wrong_media_type_for_instance_is_bad_request(client) -> None:
    """L-04: application/octet-stream is not valid for an instance (400, a ValueError)."""
    with pytest.raises(BadRequestError):
        client.retrieve_instance(S1, SE1, CT1, media_types=("application/octet-stream",))


def test_unknown_and_misplaced_instances_are_not_found(client) -> None:
    """E-14: unknown UIDs, and an instance addressed under another series, are 404."""
    with pytest.raises(NotFoundError):
        client.retrieve_instance(S1, SE1, factories.new_uid())
    with pytest.raises(NotFoundError):
        client.retrieve_instance(S1, factories.series_uid(1, 2), CT1)
    with pytest.raises(NotFoundError):
        client.retrieve_study_metadata(factories.new_uid())


def test_malformed_uid_is_invalid(client) -> None:
    """A malformed UID is a 400."""
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_metadata(S1, SE1, "1.2.abc")


def test_metadata_has_bulk_data_uri_and_no_group_0002(client) -> None:
    """G-01/G-02/G-05/J-01: sorted keys, no group 0002, Pixel Data as BulkDataURI."""
    meta = client.retrieve_instance_metadata(S1, SE1, CT1)
    assert list(meta) == sorted(meta)
    assert not [k for k in meta if k.startswith("0002")]
    assert meta["00080018"] == {"vr": "UI", "Value": [CT1]}
    assert meta["7FE00010"]["vr"] == "OW"
    assert "BulkDataURI" in meta["7FE00010"] and "InlineBinary" not in meta["7FE00010"]
    items = meta["00400275"]["Value"]  # RequestAttributesSequence (nested, read from the file)
    assert [i["00400009"]["Value"] for i in items] == [["A"], ["B"]]


@pytest.mark.needs("dicomfs-bulkdata-uri")
def test_bulk_data_uri_layout(client) -> None:
    """API.md (BulkDataURI): {base_url}/studies/{s}/series/{se}/instances/{i}/bulk/{TAG}."""
    meta = client.retrieve_instance_metadata(S1, SE1, CT1)
    assert meta["7FE00010"]["BulkDataURI"] == (
        f"{client.base_url}/studies/{S1}/series/{SE1}/instances/{CT1}/bulk/7FE00010"
    )


def test_series_metadata_one_object_per_instance(client) -> None:
    """G-01: one DICOM JSON object per instance."""
    meta = client.retrieve_series_metadata(S1, SE1)
    assert [m["00080018"]["Value"][0] for m in meta] == [
        factories.sop_uid(1, 1, i) for i in (1, 2, 3)
    ]


@pytest.mark.needs("bulkdata")
def test_bulk_data_is_the_pixel_data_value(client) -> None:
    """G-06/F-10/F-12: the BulkDataURI returns the value bytes; byte_range is inclusive."""
    uri = client.retrieve_instance_metadata(S2, SE2, MF)["7FE00010"]["BulkDataURI"]
    everything = b"".join(frame_bytes(f) for f in range(3))
    assert client.retrieve_bulkdata(uri) == [everything]
    assert client.retrieve_bulkdata(uri, byte_range=(32, 35)) == [everything[32:36]]


@pytest.mark.needs("bulkdata")
def test_unknown_bulk_data_is_not_found(client) -> None:
    """F-10: an unknown element is 404."""
    uri = client.retrieve_instance_metadata(S1, SE1, CT1)["7FE00010"]["BulkDataURI"]
    with pytest.raises(NotFoundError):
        client.retrieve_bulkdata(uri.rsplit("/", 1)[0] + "/00291010")  # same URI, other tag


@pytest.mark.needs("frames")
def test_frames_in_requested_order(client) -> None:
    """F-01/F-03: octet-stream frames, little-endian, in the requested order (3 then 1)."""
    frames = client.retrieve_instance_frames(S2, SE2, MF, [3, 1])
    assert frames == [frame_bytes(2), frame_bytes(0)]


@pytest.mark.needs("frames", "strict-validation")
def test_duplicate_frame_numbers_are_kept(client) -> None:
    """Issue 3 / F-01: requested order and duplicates kept ([3, 1, 3] gives 3, 1, 3)."""
    frames = client.retrieve_instance_frames(S2, SE2, MF, [3, 1, 3])
    assert frames == [frame_bytes(2), frame_bytes(0), frame_bytes(2)]


@pytest.mark.needs("frames", "strict-validation")
@pytest.mark.parametrize(
    "numbers", [[0], [-1], [], [True], ["1"], [1.0], "1", 1, None]
)
def test_bad_frame_numbers(client, numbers: list[int]) -> None:
    """F-02: frame 0, negative, bool, non-integer or an empty list is 400 (duplicates are kept:
    issue 3 pins it, see test_frames_in_requested_order)."""
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_frames(S2, SE2, MF, numbers)


@pytest.mark.needs("frames", "frame-past-end-404")
def test_frame_past_the_end_is_not_found(client) -> None:
    """F-02: a frame above NumberOfFrames is 404."""
    with pytest.raises(NotFoundError):
        client.retrieve_instance_frames(S2, SE2, MF, [4])


@pytest.mark.needs("frames", "frames-as-stored")
def test_uncompressed_frames_are_not_acceptable_as_jpeg(client) -> None:
    """F-06: a compressed media type for native data cannot be produced here (406)."""
    with pytest.raises(NotAcceptableError):
        client.retrieve_instance_frames(S2, SE2, MF, [1], media_types=("image/jpeg",))


@pytest.mark.needs("render")
def test_rendered_png_pixel_values(client) -> None:
    """H-02/H-13: no window in the data -> min/max of the frame; size Columns x Rows."""
    png = client.retrieve_instance_rendered(S1, SE1, CT1, media_types=("image/png",))
    image = Image.open(BytesIO(png))
    assert image.size == (4, 4)
    expected = np.floor(np.arange(16) * 255 / 15 + 0.5).astype(int)
    assert np.asarray(image).ravel().tolist() == expected.tolist()


@pytest.mark.needs("render", "viewport-aspect")
def test_rendered_viewport_keeps_aspect_ratio(client) -> None:
    """H-04: viewport=8,2 scales the 4x4 image to 2x2 (aspect kept)."""
    png = client.retrieve_instance_rendered(
        S1, SE1, CT1, media_types=("image/png",),
        params={"window": "8,8,linear", "viewport": "8,2"},
    )
    assert Image.open(BytesIO(png)).size == (2, 2)


@pytest.mark.needs("render")
def test_rendered_window(client) -> None:
    """H-10: window=8,8,linear."""
    png = client.retrieve_instance_rendered(
        S1, SE1, CT1, media_types=("image/png",), params={"window": "8,8,linear"}
    )
    values = np.asarray(Image.open(BytesIO(png))).ravel().tolist()
    # low = 7.5 - 3.5 = 4, high = 11: x <= 4 -> 0, x > 11 -> 255
    assert values[:5] == [0, 0, 0, 0, 0] and values[12:] == [255, 255, 255, 255]
    assert values[8] == 146  # ((8 - 7.5) / 7 + 0.5) * 255 = 145.7


@pytest.mark.needs("render")
def test_rendered_default_is_jpeg_and_frames_rendered(client) -> None:
    """H-01/H-18: default image/jpeg; /frames/{n}/rendered renders frame n."""
    jpeg = client.retrieve_instance_rendered(S2, SE2, MF)
    assert jpeg[:2] == b"\xff\xd8"
    png = client.retrieve_instance_frames_rendered(S2, SE2, MF, [3], media_types=("image/png",))
    assert Image.open(BytesIO(png)).size == (4, 4)


@pytest.mark.needs("render")
@pytest.mark.parametrize(
    "params",
    [
        {"window": "40,400"},
        pytest.param({"viewport": "0,0"}, marks=pytest.mark.needs("viewport-validation")),
        {"quality": "101"},
    ],
)
def test_rendered_bad_params_are_400(client, params: dict[str, str]) -> None:
    """H-06/H-07/H-08: malformed window, viewport or quality is 400."""
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_rendered(S1, SE1, CT1, params=params)


@pytest.mark.needs("render", "rendered-gif")
def test_series_rendered_gif_has_one_frame_per_instance(client) -> None:
    """API.md: series rendered as image/gif is an animation with one frame per instance, even
    when consecutive instances render identically (the 3 instances of S1/SE1 do)."""
    gif = Image.open(BytesIO(client.retrieve_series_rendered(S1, SE1, media_types=("image/gif",))))
    assert (gif.n_frames, gif.info["duration"]) == (3, 100)


@pytest.mark.needs("render")
def test_series_rendered_png_is_one_image(client) -> None:
    """API.md: series rendered as image/png is the first instance, one still image."""
    png = client.retrieve_series_rendered(S1, SE1, media_types=("image/png",))
    assert Image.open(BytesIO(png)).size == (4, 4)


# ---- audit: synthetic instances stored in a writable store ---------------------------------
S9 = factories.study_uid(9)
#: Orthanc 1.10 answers 400 "Bad file format" for frames of these (its deviation, not a choice).
ORTHANC_CANNOT = "Orthanc 1.10 cannot serve frames of native YBR_FULL_422 or 1-bit images"


def _file_client_only(backend: str) -> None:
    """For checks of DICOMfileClient's own argument validation (the Python API): the web
    client validates its arguments on its own (see the audit report in docs/conformance.md)."""
    if backend != "file":
        pytest.skip("checks DICOMfileClient's argument validation")


def _uids(ds: Dataset) -> tuple[str, str, str]:
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def _png(data: bytes) -> list[list[int]]:
    values: list[list[int]] = np.asarray(Image.open(BytesIO(data))).tolist()
    return values


def _bulk_uris(obj: dict[str, Any]) -> list[str]:
    uris: list[str] = []
    for attr in obj.values():
        if "BulkDataURI" in attr:
            uris.append(attr["BulkDataURI"])
        for item in attr.get("Value", []) if attr.get("vr") == "SQ" else []:
            uris.extend(_bulk_uris(item))
    return uris


def _ybr_422(instance: int) -> Dataset:
    """2 frames of 4x4 native YBR_FULL_422, 8-bit: 32 bytes per frame (Y Y Cb Cr per 2 px)."""
    ds = factories.make_instance(9, 1, instance, frames=2, bits=8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
    ds.PixelData = bytes(range(64))
    return ds


def _one_bit() -> tuple[Dataset, list[bytes]]:
    """3 frames of 5x3 1-bit pixels: 15 bits per frame, so frames 2 and 3 start mid-byte."""
    bits = np.array([[(k * (f + 2)) % 3 == 0 for k in range(15)] for f in range(3)], np.uint8)
    ds = factories.make_instance(9, 1, 2, rows=3, columns=5, frames=3, bits=8)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
    ds.PixelData = np.packbits(bits.ravel(), bitorder="little").tobytes()
    ds["PixelData"].VR = "OB"
    return ds, [np.packbits(b, bitorder="little").tobytes() for b in bits]


def _rle(instance: int, table: str) -> tuple[Dataset, list[bytes]]:
    """3 RLE frames (pixels of factories' frames 0..2), with a Basic, no or an Extended table."""
    source = factories.make_instance(9, 2, instance, frames=3)
    source.compress(RLELossless, generate_instance_uid=False)
    codestreams = list(generate_frames(source.PixelData, number_of_frames=3))
    ds = factories.make_instance(9, 2, instance, frames=3, transfer_syntax=RLELossless)
    if table == "extended":
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = (
            encapsulate_extended(codestreams)
        )
    else:
        ds.PixelData = encapsulate(codestreams, has_bot=table == "basic")
    ds["PixelData"].VR = "OB"
    return ds, codestreams


@pytest.mark.needs("frames")
def test_native_ybr_full_422_frames_have_two_samples_per_pixel(writable_client, backend: str) -> None:
    """F-03 (PS3.5 8.2.1): a native YBR_FULL_422 frame is Rows*Columns*2 bytes (8-bit)."""
    if backend == "orthanc":
        pytest.skip(ORTHANC_CANNOT)
    ds = _ybr_422(1)
    writable_client.store_instances([ds])
    frames = writable_client.retrieve_instance_frames(*_uids(ds), [2, 1])
    assert frames == [bytes(range(32, 64)), bytes(range(32))]


@pytest.mark.needs("render")
def test_native_ybr_full_422_renders_as_rgb(writable_client, backend: str) -> None:
    """H-15: YBR_FULL_422 is up-sampled and converted to RGB, as pydicom does."""
    if backend == "orthanc":
        pytest.skip(ORTHANC_CANNOT)
    ds = _ybr_422(1)
    writable_client.store_instances([ds])
    png = writable_client.retrieve_instance_frames_rendered(
        *_uids(ds), [2], media_types=("image/png",)
    )
    assert _png(png) == ds.pixel_array[1].tolist()


@pytest.mark.needs("frames")
def test_one_bit_frames_of_odd_size(writable_client, backend: str) -> None:
    """F-04: 1-bit frame k starts at bit (k-1)*R*C*S; each comes back packed from bit 0."""
    if backend == "orthanc":
        pytest.skip(ORTHANC_CANNOT)
    ds, expected = _one_bit()
    writable_client.store_instances([ds])
    assert writable_client.retrieve_instance_frames(*_uids(ds), [1, 2, 3]) == expected
    assert writable_client.retrieve_instance_frames(*_uids(ds), [3, 2]) == expected[:0:-1]


@pytest.mark.needs("frames")
@pytest.mark.parametrize("table", ["basic", "empty", "extended"])
def test_encapsulated_frames_with_any_offset_table(writable_client, table: str) -> None:
    """F-05/F-08: RLE frames as stored (image/dicom-rle: the codestream, no item tags) and
    decoded (octet-stream, lossless), with a Basic, an empty or an Extended Offset Table."""
    ds, codestreams = _rle(1, table)
    writable_client.store_instances([ds])
    stored = writable_client.retrieve_instance_frames(
        *_uids(ds), [3, 1], media_types=("image/dicom-rle",)
    )
    assert stored == [codestreams[2], codestreams[0]]
    assert writable_client.retrieve_instance_frames(*_uids(ds), [2, 3]) == [
        frame_bytes(1), frame_bytes(2)
    ]


def _jpeg_baseline() -> Dataset:
    """A 8x8 MONOCHROME2 image whose only pixel data is a baseline JPEG (lossy, .50)."""
    buffer = BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).save(buffer, "JPEG")
    ds = factories.make_instance(9, 3, 1, rows=8, columns=8, bits=8,
                                 transfer_syntax=JPEGBaseline8Bit)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    return ds


@pytest.mark.needs("frames", "strict-validation")
def test_lossy_only_frames_are_not_decoded_to_octet_stream(writable_client) -> None:
    """F-08: lossy-only data asked as application/octet-stream (the default) is 406; asked as
    image/jpeg it is the stored codestream."""
    ds = _jpeg_baseline()
    writable_client.store_instances([ds])
    with pytest.raises(NotAcceptableError):
        writable_client.retrieve_instance_frames(*_uids(ds), [1])
    with pytest.raises(NotAcceptableError):
        writable_client.retrieve_instance_frames(
            *_uids(ds), [1], media_types=("application/octet-stream",)
        )
    got = writable_client.retrieve_instance_frames(*_uids(ds), [1], media_types=("image/jpeg",))
    assert got == list(generate_frames(ds.PixelData, number_of_frames=1))


@pytest.mark.needs("render")
def test_rendered_window_in_rescaled_units(writable_client) -> None:
    """H-09/H-10: CT slope 1, intercept -1024; stored 1064 (= 40 HU) with window=40,400,linear
    renders 128; stored 0 (-1024 HU, below 40-0.5-199.5) is 0 and 2000 (976 HU) is 255."""
    ds = factories.make_instance(9, 4, 1, rows=1, columns=3, RescaleIntercept=-1024)
    ds.PixelData = np.array([1064, 0, 2000], "<u2").tobytes()
    writable_client.store_instances([ds])
    png = writable_client.retrieve_instance_rendered(
        *_uids(ds), media_types=("image/png",), params={"window": "40,400,linear"}
    )
    assert _png(png) == [[128, 0, 255]]


@pytest.mark.needs("render")
def test_rendered_monochrome1_is_inverted(writable_client) -> None:
    """H-14: MONOCHROME1 with window=c,w,linear: at or below c-w/2 is white (255), above
    c+w/2 black (0); the centre is 255-128."""
    ds = factories.make_instance(9, 4, 2, rows=1, columns=3, RescaleIntercept=-1024,
                                 PhotometricInterpretation="MONOCHROME1")
    ds.PixelData = np.array([1024 - 160, 1064, 1024 + 241], "<u2").tobytes()
    writable_client.store_instances([ds])
    png = writable_client.retrieve_instance_rendered(
        *_uids(ds), media_types=("image/png",), params={"window": "40,400,linear"}
    )
    assert _png(png) == [[255, 127, 0]]


@pytest.mark.needs("render", "viewport-aspect")
@pytest.mark.parametrize(
    ("viewport", "size"),
    [("256,256", (256, 128)), ("512,512,,,512,512", (512, 256)), ("128,128,256,0", (128, 128)),
     ("512,256,0,0,-512,-256", (512, 256))],
)
def test_rendered_viewport_512x256(writable_client, viewport: str, size) -> None:
    """H-04/H-05: a 512x256 (Columns x Rows) image: viewport=256,256 gives 256x128; elided
    and negative (flipping) region values."""
    ds = factories.make_instance(9, 4, 3, rows=256, columns=512)
    writable_client.store_instances([ds])
    jpeg = writable_client.retrieve_instance_rendered(*_uids(ds), params={"viewport": viewport})
    assert Image.open(BytesIO(jpeg)).size == size


@pytest.mark.needs("render", "rendered-gif")
def test_series_rendered_gif_keeps_identical_instances(writable_client) -> None:
    """API.md: image/gif of a series has one frame per instance (here 4 identical ones), in
    InstanceNumber order."""
    datasets = [factories.make_instance(9, 5, i) for i in (4, 2, 3, 1)]
    writable_client.store_instances(datasets)
    uids = _uids(datasets[0])
    gif = writable_client.retrieve_series_rendered(uids[0], uids[1], media_types=("image/gif",))
    assert Image.open(BytesIO(gif)).n_frames == 4


@pytest.mark.needs("bulkdata")
def test_big_endian_bulk_data_nested_and_pixel_data_are_little_endian(writable_client) -> None:
    """G-05/G-06/F-10: every BulkDataURI of a big endian instance (a 2000-byte OW inside a
    sequence item, the pixel data) returns the value in little-endian order, byte-exact."""
    ds = factories.make_instance(9, 6, 1, transfer_syntax=ExplicitVRBigEndian)
    item = Dataset()
    item.RedPaletteColorLookupTableData = np.arange(1000, dtype=">u2").tobytes()
    item.CodeValue = "X"
    ds.IconImageSequence = DicomSequence([item])
    ds.PixelData = np.arange(16, dtype=">u2").tobytes()
    ds["PixelData"].VR = "OW"
    writable_client.store_instances([ds])
    meta = writable_client.retrieve_instance_metadata(*_uids(ds))
    uris = _bulk_uris(meta)
    got = sorted(b"".join(writable_client.retrieve_bulkdata(uri)) for uri in uris)
    assert got == [np.arange(16, dtype="<u2").tobytes(), np.arange(1000, dtype="<u2").tobytes()]


@pytest.mark.needs("bulkdata", "strict-validation")
@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [((0, 3), range(4)), ((30, 31), range(30, 32)), ((31, 31), range(31, 32)),
     ((28, 10**9), range(28, 32)), ((32, 40), None), ((4, 3), None), ((-1, 2), None),
     ([0, 3], None), ((True, 3), None), (("0", "3"), None)],
)
def test_byte_ranges(writable_client, backend: str, byte_range, expected) -> None:
    """F-12: (first, last) is inclusive; a last beyond the end is cut at the end (as HTTP
    does); first > last, a first at or beyond the end, negatives and non-integers are 400."""
    _file_client_only(backend)
    ds = factories.make_instance(9, 6, 2)
    ds.PixelData = bytes(range(32))
    writable_client.store_instances([ds])
    uri = writable_client.retrieve_instance_metadata(*_uids(ds))["7FE00010"]["BulkDataURI"]
    if expected is None:
        with pytest.raises(InvalidQueryError):
            writable_client.retrieve_bulkdata(uri, byte_range=byte_range)
    else:
        assert writable_client.retrieve_bulkdata(uri, byte_range=byte_range) == [bytes(expected)]


@pytest.mark.needs("bulkdata", "strict-validation")
def test_instance_series_and_study_bulkdata_list_every_bulk_value(writable_client, backend: str) -> None:
    """F-13: the bulkdata of an instance, series or study is every value its metadata has as
    a BulkDataURI, in metadata order."""
    _file_client_only(backend)
    first = factories.make_instance(9, 7, 1)
    first.add_new(0x00091010, "OB", bytes(range(256)) * 5)
    first.add_new(0x00090010, "LO", "DICOMFS TEST")
    second = factories.make_instance(9, 7, 2)
    writable_client.store_instances([first, second])
    expected = [bytes(range(256)) * 5, frame_bytes(0), frame_bytes(0)]
    base = writable_client.base_url
    study_url = f"{base}/studies/{first.StudyInstanceUID}"
    series_url = f"{study_url}/series/{first.SeriesInstanceUID}"
    assert writable_client.retrieve_bulkdata(study_url) == expected
    assert writable_client.retrieve_bulkdata(f"{series_url}/bulkdata") == expected
    assert writable_client.retrieve_bulkdata(
        f"{series_url}/instances/{first.SOPInstanceUID}"
    ) == expected[:2]


@pytest.mark.needs("strict-validation")
def test_metadata_non_finite_floats_are_valid_json(writable_client, backend: str) -> None:
    """J-08: FL/FD NaN and infinities have no JSON number: they are the strings "NaN",
    "Infinity", "-Infinity" (the output stays valid JSON), and read back as floats."""
    _file_client_only(backend)
    ds = factories.make_instance(9, 8, 1)
    ds.add_new(0x00189087, "FD", [float("nan"), 2.5])  # Diffusion b-value
    ds.add_new(0x00720104, "FL", [float("inf"), float("-inf")])
    writable_client.store_instances([ds])
    meta = writable_client.retrieve_instance_metadata(*_uids(ds))
    assert meta["00189087"] == {"vr": "FD", "Value": ["NaN", 2.5]}
    assert meta["00720104"] == {"vr": "FL", "Value": ["Infinity", "-Infinity"]}
    json.dumps(meta, allow_nan=False)
    back = dicomfs.load_json_dataset(meta)
    assert math.isnan(back[0x00189087].value[0]) and back[0x00720104].value[1] == float("-inf")


@pytest.mark.needs("strict-validation")
def test_hierarchy_is_checked_for_every_resource(client, backend: str) -> None:
    """E-14: an instance addressed under another study or series is 404 for every resource."""
    _file_client_only(backend)
    other = factories.series_uid(1, 2)
    for call in (
        lambda: client.retrieve_instance_metadata(S1, other, CT1),
        lambda: client.retrieve_instance_frames(S1, other, CT1, [1]),
        lambda: client.retrieve_instance_rendered(S1, other, CT1),
        lambda: client.retrieve_instance_frames_rendered(S2, SE1, CT1, [1]),
        lambda: client.retrieve_series(S2, SE1),
        lambda: client.retrieve_series_metadata(S2, SE1),
        lambda: client.retrieve_series_rendered(S2, SE1),
        lambda: client.retrieve_bulkdata(
            f"{client.base_url}/studies/{S1}/series/{other}/instances/{CT1}/bulk/7FE00010"
        ),
    ):
        with pytest.raises(NotFoundError):
            call()


_BAD_UIDS = [None, 1, b"1.2", ["1.2"], "1." * 40 + "1", "1.2/../3", "..", "1.2.3\x00", "", " 1.2"]


@pytest.mark.needs("strict-validation")
@pytest.mark.parametrize("bad", _BAD_UIDS)
def test_hostile_uids_are_bad_requests(client, backend: str, bad: object) -> None:
    """Every entry point answers a UID that is not a string, too long, with '..' or '/',
    padded or empty with 400 (InvalidQueryError), never a TypeError or a file access."""
    _file_client_only(backend)
    calls = [
        lambda: client.retrieve_study(bad),
        lambda: client.retrieve_series(S1, bad),
        lambda: client.retrieve_instance(S1, SE1, bad),
        lambda: client.retrieve_study_metadata(bad),
        lambda: client.retrieve_series_metadata(S1, bad),
        lambda: client.retrieve_instance_metadata(bad, SE1, CT1),
        lambda: client.retrieve_instance_frames(S1, SE1, bad, [1]),
        lambda: client.retrieve_instance_rendered(S1, bad, CT1),
        lambda: client.retrieve_instance_frames_rendered(bad, SE1, CT1, [1]),
        lambda: client.retrieve_series_rendered(S1, bad),
    ]
    for call in calls:
        with pytest.raises(InvalidQueryError):
            call()


@pytest.mark.needs("strict-validation")
@pytest.mark.parametrize(
    "media_types",
    ["application/dicom", ["image/png"], [("application/dicom", "1.2", "x")], [1], [None],
     {"a": 1}, [("application/dicom", None)]],
)
def test_hostile_media_types_are_bad_requests(client, backend: str, media_types: object) -> None:
    """L-04: media_types that is a bare string, holds non-strings or a type invalid for the
    resource is 400 (BadRequestError, a ValueError)."""
    _file_client_only(backend)
    with pytest.raises(BadRequestError):
        client.retrieve_instance(S1, SE1, CT1, media_types=media_types)
    with pytest.raises(BadRequestError):
        client.retrieve_instance_frames(S1, SE1, CT1, [1], media_types=media_types)


@pytest.mark.needs("strict-validation")
@pytest.mark.parametrize(
    "params",
    [{"foo": "1"}, {"window": None}, {1: "2"}, [("window", "1")], "window=1",
     {"viewport": "99999,99999"}, {"viewport": "1" * 400 + ",1"}, {"viewport": "+5_0,5"},
     {"quality": "²"}, {"window": "4_0,400,linear"}, {"window": "40,nan,linear"}],
)
def test_hostile_render_params_are_bad_requests(client, backend: str, params: object) -> None:
    """H-06/H-07/H-08: unknown keys, non-dict params and malformed or oversized values are
    400 (InvalidQueryError), never an OverflowError or a huge image."""
    _file_client_only(backend)
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_rendered(S1, SE1, CT1, params=params)


@pytest.mark.needs("bulkdata", "strict-validation")
def test_hostile_bulk_data_urls(client, backend: str) -> None:
    """F-10: URLs of another store, with '..' or malformed tag paths are 400; unknown
    elements or items 404; nothing outside the store is read."""
    _file_client_only(backend)
    base = client.base_url
    inst = f"{base}/studies/{S1}/series/{SE1}/instances/{CT1}"
    for url in (None, 5, "", "http://elsewhere/studies/1/series/2/instances/3/bulk/7FE00010",
                f"{base}/studies/../../etc/passwd", f"{inst}/bulk/../../7FE00010",
                f"{inst}/bulk/", f"{inst}/bulk/zz", f"{base}/../studies/{S1}",
                f"{inst}/bulk/00400275/-1/00400009", f"{base}/studies/{S1}/"):
        with pytest.raises(BadRequestError):
            client.retrieve_bulkdata(url)
    for url in (f"{inst}/bulk/00400275/9/00400009", f"{inst}/bulk/00100010",
                f"{inst}/bulk/7FE00010/0/00080100"):
        with pytest.raises(NotFoundError):
            client.retrieve_bulkdata(url)


@pytest.mark.needs("strict-validation")
def test_uids_missing_for_the_level_are_bad_requests(client, backend: str) -> None:
    """A None UID where the method needs one is 400, never a wider retrieve (a series
    retrieve must not return the study, an instance retrieve not the series' first)."""
    _file_client_only(backend)
    for call in (
        lambda: client.retrieve_series(S1, None),
        lambda: client.retrieve_series_metadata(S1, None),
        lambda: client.retrieve_instance(S1, SE1, None),
        lambda: client.retrieve_instance_metadata(S1, SE1, None),
        lambda: client.retrieve_instance_frames(S1, SE1, None, [1]),
        lambda: client.retrieve_instance_rendered(S1, SE1, None),
        lambda: client.retrieve_series_rendered(S1, None),
    ):
        with pytest.raises(InvalidQueryError):
            call()


@pytest.mark.needs("strict-validation")
@pytest.mark.parametrize("damage", ["removed", "truncated"])
def test_a_file_gone_or_truncated_is_a_corrupt_file(writable_client, backend: str, damage) -> None:
    """A file removed or truncated after indexing: every resource raises CorruptFileError
    (a DicomfsError), never an OSError nor silently short bulk data."""
    _file_client_only(backend)
    ds = factories.make_instance(9, 9, 1, rows=64, columns=64)
    writable_client.store_instances([ds])
    uids = _uids(ds)
    meta = writable_client.retrieve_instance_metadata(*uids)
    (path,) = Path(writable_client.ctx.root).rglob("*.dcm")
    if damage == "removed":
        path.unlink()
    else:
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size - 100)
    calls = [
        lambda: writable_client.retrieve_instance(*uids),
        lambda: writable_client.retrieve_instance_frames(*uids, [1]),
        lambda: writable_client.retrieve_instance_rendered(*uids),
        lambda: writable_client.retrieve_bulkdata(meta["7FE00010"]["BulkDataURI"]),
    ]
    if damage == "removed":
        calls.append(lambda: writable_client.retrieve_instance_metadata(*uids))
    for call in calls:
        with pytest.raises(CorruptFileError):
            call()
