"""dicomfs.pixels.transcode through retrieve_instance: lossless conversions keep every pixel
(CONFORMANCE E-03, E-07)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import factories
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import JPEG2000Lossless, RLELossless

import dicomfs


@pytest.mark.parametrize("target", [RLELossless, JPEG2000Lossless])
@pytest.mark.parametrize("frames", [1, 2])
def test_planar_colour_transcodes_losslessly(tmp_path: Path, target: str, frames: int) -> None:
    """RGB stored plane by plane (Planar Configuration 1): RLE and JPEG 2000 lossless keep the
    pixels (the RLE encoder read the planes as interleaved and scrambled the colours)."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(frames, 64, 64, 3), dtype=np.uint8)
    ds = factories.make_instance(rows=64, columns=64, frames=frames, bits=8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 1
    ds.PixelData = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)).tobytes()  # planes
    expected = ds.pixel_array
    assert np.array_equal(expected.reshape(pixels.shape), pixels)
    factories.write_datasets(tmp_path / "store", [ds])
    with dicomfs.DICOMfileClient(tmp_path / "store", in_memory=True) as client:
        out = client.retrieve_instance(
            str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID),
            media_types=[("application/dicom", target)],
        )
    assert out.file_meta.TransferSyntaxUID == target
    assert np.array_equal(out.pixel_array, expected)
    buffer = BytesIO()
    out.save_as(buffer, enforce_file_format=True)  # and read back from its bytes
    assert np.array_equal(dcmread(BytesIO(buffer.getvalue())).pixel_array, expected)
