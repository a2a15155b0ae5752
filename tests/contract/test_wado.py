"""WADO-RS contract: instances, metadata, frames, bulk data and rendered images.

Runs against every backend's read-only ``client`` over the standard store (tests/factories.py):
pixel k of frame f (0-based) is ``k + f*1000`` as uint16, 4x4 images.
"""

from __future__ import annotations

from io import BytesIO

import factories
import numpy as np
import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from dicomfs.errors import (
    BadRequestError,
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
    assert meta["7FE00010"]["BulkDataURI"].endswith(
        f"/studies/{S1}/series/{SE1}/instances/{CT1}/bulk/7FE00010"
    )
    items = meta["00400275"]["Value"]  # RequestAttributesSequence (nested, read from the file)
    assert [i["00400009"]["Value"] for i in items] == [["A"], ["B"]]


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
        client.retrieve_bulkdata(uri.replace("7FE00010", "00291010"))


@pytest.mark.needs("frames")
def test_frames_in_requested_order_with_duplicates(client) -> None:
    """F-01/F-03: octet-stream frames, little-endian, requested order, duplicates kept."""
    frames = client.retrieve_instance_frames(S2, SE2, MF, [3, 1, 3])
    assert frames == [frame_bytes(2), frame_bytes(0), frame_bytes(2)]


@pytest.mark.needs("frames")
@pytest.mark.parametrize("numbers", [[0], [-1], [], [True]])
def test_bad_frame_numbers(client, numbers: list[int]) -> None:
    """F-02: frame 0, negative, bool or an empty list is 400."""
    with pytest.raises(InvalidQueryError):
        client.retrieve_instance_frames(S2, SE2, MF, numbers)


@pytest.mark.needs("frames")
def test_frame_past_the_end_is_not_found(client) -> None:
    """F-02: a frame above NumberOfFrames is 404."""
    with pytest.raises(NotFoundError):
        client.retrieve_instance_frames(S2, SE2, MF, [4])


@pytest.mark.needs("frames")
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


@pytest.mark.needs("render")
def test_rendered_window_and_viewport(client) -> None:
    """H-04/H-10: window=8,8,linear; viewport=8,2 scales the 4x4 image to 2x2 (aspect kept)."""
    png = client.retrieve_instance_rendered(
        S1, SE1, CT1, media_types=("image/png",),
        params={"window": "8,8,linear", "viewport": "8,2"},
    )
    assert Image.open(BytesIO(png)).size == (2, 2)
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
def test_rendered_bad_params_are_400(client) -> None:
    """H-06/H-07/H-08: malformed window, viewport or quality is 400."""
    for params in ({"window": "40,400"}, {"viewport": "0,0"}, {"quality": "101"}):
        with pytest.raises(InvalidQueryError):
            client.retrieve_instance_rendered(S1, SE1, CT1, params=params)


@pytest.mark.needs("render")
def test_series_rendered_gif_has_one_frame_per_instance(client) -> None:
    """API.md: series rendered as image/gif is an animation, one frame per instance (identical
    consecutive images are merged by the GIF encoder, their display times summed)."""
    gif = Image.open(BytesIO(client.retrieve_series_rendered(S1, SE1, media_types=("image/gif",))))
    assert (gif.n_frames, gif.info["duration"]) == (1, 300)  # 3 identical instances
    png = client.retrieve_series_rendered(S1, SE1, media_types=("image/png",))
    assert Image.open(BytesIO(png)).size == (4, 4)
