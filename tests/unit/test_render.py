"""Rendering (dicomfs.pixels.render): CONFORMANCE H-02..H-17, exact display values."""

from __future__ import annotations

import logging
from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from dicomfs.errors import InvalidQueryError, NotAcceptableError
from dicomfs.pixels.render import (
    RenderOptions,
    Viewport,
    apply_viewport,
    display_pixels,
    encode,
    parse_params,
    window_lut,
)


def mono(photometric: str = "MONOCHROME2", **attrs: object) -> Dataset:
    ds = Dataset()
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 1
    ds.BitsStored = 16
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def test_h09_ct_example_renders_128() -> None:
    """H-09: slope 1, intercept -1024, stored 1064 (= 40 HU), window 40,400,linear -> 128."""
    ds = mono(RescaleSlope=1, RescaleIntercept=-1024)
    frame = np.array([[1064]], dtype=np.uint16)
    assert display_pixels(frame, ds, 0, (40.0, 400.0, "linear")).tolist() == [[128]]


def test_linear_function_thresholds() -> None:
    """H-10: x <= c-0.5-(w-1)/2 -> 0; x > c-0.5+(w-1)/2 -> 255; else the formula."""
    c, w = 100.0, 11.0  # low = 94.5, high = 104.5
    x = np.array([94.5, 95.0, 99.5, 104.5, 104.6])
    y = window_lut(x, c, w, "linear")
    assert y.tolist() == [0.0, pytest.approx(0.05 * 255 + 0.0), 127.5, 255.0, 255.0]
    assert display_pixels(x.reshape(1, 5), mono(), 0, (c, w, "linear")).tolist() == [
        [0, 13, 128, 255, 255]
    ]


def test_linear_exact_function() -> None:
    """H-11: x <= c-w/2 -> 0; x > c+w/2 -> 255; else ((x-c)/w+0.5)*255 (with the +0.5)."""
    x = np.array([[-100.0, -50.0, 0.0, 100.0, 100.5]])
    got = display_pixels(x, mono(), 0, (0.0, 200.0, "linear-exact"))
    assert got.tolist() == [[0, 64, 128, 255, 255]]


def test_sigmoid_function() -> None:
    """H-12: y = 255 / (1 + exp(-4(x-c)/w))."""
    x = np.array([[0.0, 100.0, -100.0]])
    got = display_pixels(x, mono(), 0, (0.0, 400.0, "sigmoid"))
    assert got.tolist() == [[128, 186, 69]]


def test_monochrome1_window_boundaries() -> None:
    """H-14 with the checklist's values: window=40,400,linear on MONOCHROME1; at or below
    c - w/2 (-160) is white, above c + w/2 (240) black; the centre 255 - 128."""
    x = np.array([[-1000, -160, 40, 241, 3000]], dtype=np.int16)
    got = display_pixels(x, mono("MONOCHROME1"), 0, (40.0, 400.0, "linear"))
    assert got.tolist() == [[255, 255, 127, 0, 0]]


def test_monochrome1_is_inverted_after_voi() -> None:
    """H-14: MONOCHROME1 with window c,w: at/below c-w/2 -> 255 (white), above c+w/2 -> 0."""
    x = np.array([[0, 300, 40]], dtype=np.int16)
    got = display_pixels(x, mono("MONOCHROME1"), 0, (100.0, 100.0, "linear"))
    assert got.tolist() == [[255, 0, 255]]


def test_dataset_window_first_pair_and_voi_lut_function() -> None:
    """H-13: the first WindowCenter/Width pair is used and VOILUTFunction honoured."""
    ds = mono(WindowCenter=[0, 1000], WindowWidth=[400, 10], VOILUTFunction="SIGMOID")
    got = display_pixels(np.array([[0, 100, -100]], dtype=np.int16), ds)
    assert got.tolist() == [[128, 186, 69]]


def test_frame_voi_lut_and_rescale_of_enhanced_multiframe() -> None:
    """H-13: FrameVOILUTSequence and PixelValueTransformationSequence per frame."""
    frames = []
    for center, intercept in ((10.0, 0.0), (110.0, 100.0)):
        item = Dataset()
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = center, 20.0
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 1, intercept, "US"
        item.FrameVOILUTSequence = DicomSequence([voi])
        item.PixelValueTransformationSequence = DicomSequence([pvt])
        frames.append(item)
    ds = mono(PerFrameFunctionalGroupsSequence=DicomSequence(frames))
    stored = np.array([[0, 10, 20]], dtype=np.uint16)
    expected = [[0, 134, 255]]  # window 10,20 linear: 10 -> ((10-9.5)/19+0.5)*255 = 134.2
    assert display_pixels(stored, ds, 0).tolist() == expected
    assert display_pixels(stored, ds, 1).tolist() == expected


def test_min_max_fallback_without_any_voi() -> None:
    """H-13: no window anywhere -> min/max of the rescaled frame."""
    frame = np.array([[-10, 0, 10]], dtype=np.int16)
    assert display_pixels(frame, mono()).tolist() == [[0, 128, 255]]


def test_float_pixel_data_min_max() -> None:
    """Float Pixel Data renders with min/max (NaN shown as 0)."""
    frame = np.array([[0.0, 0.5, 1.0, np.nan]], dtype=np.float32)
    assert display_pixels(frame, mono()).tolist() == [[0, 128, 255, 0]]


def test_palette_color_to_rgb_without_window() -> None:
    """H-15: PALETTE COLOR is looked up to RGB, no windowing."""
    ds = mono("PALETTE COLOR", BitsAllocated=8, BitsStored=8, PixelRepresentation=0)
    for color, values in (("Red", [0, 255, 10]), ("Green", [1, 2, 3]), ("Blue", [9, 8, 7])):
        setattr(ds, f"{color}PaletteColorLookupTableDescriptor", [3, 0, 8])
        setattr(ds, f"{color}PaletteColorLookupTableData", bytes(values))
    got = display_pixels(np.array([[0, 1, 2]], dtype=np.uint8), ds, 0, (0.0, 1.0, "linear"))
    assert got.tolist() == [[[0, 1, 9], [255, 2, 8], [10, 3, 7]]]


def test_rgb_16_bit_is_scaled_to_8_bit() -> None:
    """H-02/H-15: colour at 16 bits is scaled to 8 bits per channel."""
    ds = mono("RGB", SamplesPerPixel=3)
    frame = np.array([[[0, 65535, 32896]]], dtype=np.uint16)
    assert display_pixels(frame, ds).tolist() == [[[0, 255, 128]]]


@pytest.mark.parametrize(
    ("shape", "viewport", "size"),
    [
        ((256, 512), Viewport(256, 256), (256, 128)),  # H-04 example: 512x256 in 256x256
        ((256, 512), Viewport(1024, 1024), (1024, 512)),
        ((100, 100), Viewport(512, 512, 0, 0, 50, 25), (512, 256)),
    ],
)
def test_viewport_sizes(shape: tuple[int, int], viewport: Viewport, size: tuple[int, int]) -> None:
    """H-04/H-05: scale to the largest size that fits, keeping the aspect ratio."""
    image = apply_viewport(np.zeros(shape, np.uint8), viewport)
    assert image.size == size


def test_no_viewport_keeps_rows_and_columns() -> None:
    """H-02: without viewport the image is exactly Columns x Rows."""
    assert apply_viewport(np.zeros((3, 7), np.uint8), None).size == (7, 3)


def test_viewport_crop_and_flips() -> None:
    """H-05: region sx,sy,sw,sh; negative sw flips horizontally, negative sh vertically."""
    pixels = np.arange(16, dtype=np.uint8).reshape(4, 4)
    image = apply_viewport(pixels, parse_params({"viewport": "2,2,1,1,-2,2"}, "image/png").viewport)
    assert np.asarray(image).tolist() == [[6, 5], [10, 9]]
    image = apply_viewport(pixels, parse_params({"viewport": "4,4,,,4,-4"}, "image/png").viewport)
    assert np.asarray(image).tolist() == pixels[::-1].tolist()


def test_viewport_elided_values() -> None:
    """H-05: elided values keep their commas; trailing ones drop them."""
    assert parse_params({"viewport": "512,512,,,512,512"}, "image/png").viewport == Viewport(
        512, 512, 0, 0, 512, 512
    )
    assert parse_params({"viewport": "64,32,4"}, "image/png").viewport == Viewport(64, 32, 4)


@pytest.mark.parametrize(
    "params",
    [
        {"viewport": "512"},
        {"viewport": "0,512"},
        {"viewport": "a,b"},
        {"viewport": "1,2,3,4,5,6,7"},
        {"viewport": "8,8,0,0,0,4"},
        {"window": "40,400"},
        {"window": "40,400,LINEAR"},
        {"window": "a,400,linear"},
        {"window": "40,0.5,linear"},
        {"window": "40,0,sigmoid"},
        {"quality": "0"},
        {"quality": "101"},
        {"quality": "high"},
        {"annotation": ""},
        {"annotation": "patient,colour"},
        {"iccprofile": "maybe"},
        {"colour": "red"},
        {"viewport": "16385,16"},
        {"viewport": "1" * 400 + ",1"},
        {"viewport": "5_0,5"},
        {"viewport": "8,8,0,0,99999999999,4"},
        {"quality": "²"},
        {"quality": "5_0"},
        {"window": "4_0,400,linear"},
        {"window": "40,inf,linear"},
        {"window": "1e999,400,linear"},
    ],
)
def test_malformed_params_are_400(params: dict[str, str]) -> None:
    """H-06/H-07/H-08/H-16/H-17: malformed values and unknown parameters are 400."""
    with pytest.raises(InvalidQueryError):
        parse_params(params, "image/jpeg")


def test_gif_cannot_embed_icc_profile() -> None:
    """H-17: iccprofile other than no for image/gif is 400."""
    with pytest.raises(InvalidQueryError):
        parse_params({"iccprofile": "srgb"}, "image/gif")
    with pytest.raises(NotAcceptableError):
        parse_params({"iccprofile": "adobergb"}, "image/png")


def test_annotation_is_accepted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """H-16: valid annotation values are accepted; unsupported ones ignored with a warning."""
    with caplog.at_level(logging.WARNING, logger="dicomfs.pixels.render"):
        options = parse_params({"annotation": "patient,technique"}, "image/png")
    assert options.annotation == ("patient", "technique")
    assert "not supported: patient,technique" in caplog.text


def test_encoded_formats() -> None:
    """H-01/H-02: baseline JPEG (SOF0), PNG with an sRGB iCCP chunk, animated GIF."""
    image = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8))
    jpeg = encode([image], RenderOptions("image/jpeg", quality=50))
    assert jpeg[:2] == b"\xff\xd8" and b"\xff\xc0" in jpeg
    png = encode([image], parse_params({"iccprofile": "srgb"}, "image/png"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"iCCP" in png
    assert np.asarray(Image.open(BytesIO(png))).tolist() == np.asarray(image).tolist()
    frames = [image, image.rotate(90), image.rotate(180)]
    gif = Image.open(BytesIO(encode(frames, RenderOptions("image/gif"))))
    assert gif.n_frames == 3


def test_animated_gif_keeps_identical_frames() -> None:
    """API.md: one GIF frame per image, identical consecutive images included (Pillow alone
    would merge them), each shown GIF_FRAME_MS, pixel values kept."""
    grey = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
    rgb = Image.fromarray(np.dstack([np.asarray(grey)] * 3))
    gif = Image.open(BytesIO(encode([grey, grey, rgb, grey], RenderOptions("image/gif"))))
    assert gif.n_frames == 4
    for index in range(4):
        gif.seek(index)
        assert gif.info["duration"] == 100
        assert np.asarray(gif.convert("L")).tolist() == np.asarray(grey).tolist()


def test_quality_bounds_and_icc_in_jpeg() -> None:
    """H-07: quality 1 and 100 are the bounds (0 and 101 are 400, above); H-17: a JPEG embeds
    the profile in APP2 ICC_PROFILE, a PNG in an iCCP chunk."""
    assert parse_params({"quality": "1"}, "image/jpeg").quality == 1
    assert parse_params({"quality": 100}, "image/jpeg").quality == 100
    image = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8))
    jpeg = encode([image], parse_params({"iccprofile": "yes", "quality": "1"}, "image/jpeg"))
    assert b"\xff\xe2" in jpeg and b"ICC_PROFILE\x00" in jpeg
    assert b"ICC_PROFILE" not in encode([image], parse_params(None, "image/jpeg"))
