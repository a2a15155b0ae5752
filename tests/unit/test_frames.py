"""Frames by seek+read (dicomfs.pixels.frames, decode): CONFORMANCE F-01..F-05, F-08."""

from __future__ import annotations

from pathlib import Path

import factories
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless

from dicomfs.errors import InvalidQueryError, NotFoundError
from dicomfs.index.records import StoredInstance
from dicomfs.pixels.decode import decode_frame, decoding_options, native_bytes
from dicomfs.pixels.frames import (
    byteswap,
    check_frame_numbers,
    frame_bits,
    frames_from_dataset,
    read_frames,
    uses_offsets,
)
from dicomfs.storage.pixeldata import locate_pixel_data


def stored(path: Path) -> StoredInstance:
    """A StoredInstance for ``path``, with offsets found as the scanner finds them."""
    with open(path, "rb") as fh:
        ds = dcmread(fh, stop_before_pixels=True)
        ts = ds.file_meta.TransferSyntaxUID
        where = locate_pixel_data(
            fh, ds, implicit_vr=ts.is_implicit_VR, little_endian=ts.is_little_endian,
            file_size=path.stat().st_size,
        )
    fragments = where["frame_fragments"]
    return StoredInstance(
        study_instance_uid=ds.StudyInstanceUID, series_instance_uid=ds.SeriesInstanceUID,
        sop_instance_uid=ds.SOPInstanceUID, sop_class_uid=ds.SOPClassUID, path=path.name,
        transfer_syntax_uid=ts, rows=ds.Rows, columns=ds.Columns,
        bits_allocated=ds.BitsAllocated, samples_per_pixel=ds.SamplesPerPixel,
        number_of_frames=int(ds.get("NumberOfFrames") or 1),
        pixel_data_tag=where["pixel_data_tag"], pixel_data_offset=where["pixel_data_offset"],
        pixel_data_length=where["pixel_data_length"],
        frame_fragments=None if fragments is None else tuple(
            tuple((o, n) for o, n in frame) for frame in fragments
        ),
    )


def expected_frame(frame: int, rows: int = 4, columns: int = 4) -> bytes:
    """Factories' pixel k of frame f (0-based) is k + f*1000 as uint16."""
    return (np.arange(rows * columns) + frame * 1000).astype("<u2").tobytes()


def write(tmp_path: Path, ds: Dataset, name: str = "x.dcm") -> Path:
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def multiframe(tmp_path: Path) -> tuple[Path, StoredInstance]:
    path = write(tmp_path, factories.make_instance(frames=5))
    return path, stored(path)


def test_native_frames_in_requested_order_with_duplicates(multiframe) -> None:
    """F-01/F-03: frames come back in the requested order, duplicates kept, little-endian."""
    path, inst = multiframe
    got = list(read_frames(path, inst, [5, 1, 5, 3]))
    assert got == [expected_frame(4), expected_frame(0), expected_frame(4), expected_frame(2)]


def test_last_frame_equals_first_frame_cost_path(multiframe) -> None:
    """F-03: frame N is read at offset (N-1)*R*C*S*BA/8 (no decoding of earlier frames)."""
    path, inst = multiframe
    assert uses_offsets(inst)
    assert list(read_frames(path, inst, [5])) == [expected_frame(4)]


@pytest.mark.parametrize(
    "numbers", [[0], [-1], [1.0], [True], ["1"], [], "1", None, (x for x in [1])]
)
def test_bad_frame_numbers_are_invalid(numbers: object) -> None:  # duplicates are valid
    """F-02: frame 0, negatives, non-integers, bools and empty lists are rejected (400)."""
    with pytest.raises(InvalidQueryError):
        check_frame_numbers(numbers)


def test_frame_past_the_end_is_not_found(multiframe) -> None:
    """F-02: a frame above NumberOfFrames is 404 (NotFoundError)."""
    path, inst = multiframe
    with pytest.raises(NotFoundError):
        list(read_frames(path, inst, [1, 6]))


def test_one_bit_frames_are_repacked_from_bit_zero(tmp_path: Path) -> None:
    """F-04: 1-bit frame k starts at bit (k-1)*R*C*S and comes back packed from bit 0."""
    rows, columns, count = 3, 3, 3  # 9 bits per frame: frames 2 and 3 are not byte aligned
    bits = np.array(
        [[1, 0, 1, 1, 0, 0, 1, 1, 1], [0, 1, 1, 0, 1, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1, 1, 0]],
        dtype=np.uint8,
    )
    ds = factories.make_instance(rows=rows, columns=columns, frames=count, bits=8)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
    ds.PixelData = np.packbits(bits.ravel(), bitorder="little").tobytes()
    ds["PixelData"].VR = "OB"
    path = write(tmp_path, ds)
    inst = stored(path)
    got = list(read_frames(path, inst, [1, 2, 3]))
    want = [np.packbits(b, bitorder="little").tobytes() for b in bits]
    assert got == want
    assert got[1] == bytes([0b00010110, 0b1])


def test_big_endian_frames_are_swapped(tmp_path: Path) -> None:
    """F-03: native frames are little-endian even when the file is Explicit VR Big Endian."""
    ds = factories.make_instance(frames=2, transfer_syntax=ExplicitVRBigEndian)
    arr = np.frombuffer(ds.PixelData, "<u2")
    ds.PixelData = arr.astype(">u2").tobytes()
    path = tmp_path / "be.dcm"
    ds.save_as(path, enforce_file_format=True, little_endian=False, implicit_vr=False)
    inst = stored(path)
    assert inst.transfer_syntax_uid == ExplicitVRBigEndian
    assert list(read_frames(path, inst, [2, 1])) == [expected_frame(1), expected_frame(0)]


def test_encapsulated_fragments_are_joined_without_item_headers(tmp_path: Path) -> None:
    """F-05: every fragment of a frame, concatenated, without the item tags."""
    codestreams = [bytes(range(10 * f, 10 * f + 10)) for f in range(3)]
    ds = factories.make_instance(frames=3, transfer_syntax=RLELossless)
    ds.PixelData = encapsulate(codestreams, fragments_per_frame=2)
    ds["PixelData"].VR = "OB"
    path = write(tmp_path, ds)
    inst = stored(path)
    assert inst.frame_fragments is not None and len(inst.frame_fragments[0]) == 2
    assert list(read_frames(path, inst, [3, 1])) == [codestreams[2], codestreams[0]]


def test_rle_frames_decode_to_native_bytes(tmp_path: Path) -> None:
    """F-08: a lossless-compressed frame decodes to the native little-endian bytes."""
    ds = factories.make_instance(frames=3)
    ds.compress(RLELossless, generate_instance_uid=False)
    path = write(tmp_path, ds)
    inst = stored(path)
    header = dcmread(path, stop_before_pixels=True)
    options = decoding_options(header)
    frames = list(read_frames(path, inst, [2, 3]))
    decoded = [native_bytes(decode_frame(f, RLELossless, options, raw=True), 16) for f in frames]
    assert decoded == [expected_frame(1), expected_frame(2)]


def test_frames_from_deflated_dataset(tmp_path: Path) -> None:
    """Deflated files have no usable offsets: frames come from the parsed dataset."""
    ds = factories.make_instance(frames=3, transfer_syntax=DeflatedExplicitVRLittleEndian)
    path = write(tmp_path, ds)
    parsed = dcmread(path)
    assert list(frames_from_dataset(parsed, [3, 2])) == [expected_frame(2), expected_frame(1)]
    with pytest.raises(NotFoundError):
        list(frames_from_dataset(parsed, [4]))


def test_byteswap_keeps_trailing_byte() -> None:
    """Big endian OW data is swapped in 16-bit words."""
    assert byteswap(b"\x01\x02\x03", 2) == b"\x02\x01\x03"
    assert byteswap(b"\x01\x02\x03\x04", 4) == b"\x04\x03\x02\x01"


def _ybr_422(frames: int = 2) -> Dataset:
    ds = factories.make_instance(frames=frames, bits=8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
    ds.PixelData = bytes(range(32 * frames))
    return ds


def test_frame_bits_of_sub_sampled_ybr() -> None:
    """PS3.5 8.2.1: native YBR_FULL_422 has 2 samples per pixel (Y Y Cb Cr per 2 pixels); data
    of the full size (mislabelled) keeps 3, as does RGB."""
    assert frame_bits(4, 4, 3, 8, 2, 64) == 4 * 4 * 2 * 8
    assert frame_bits(4, 4, 3, 8, 2, 96) == 4 * 4 * 3 * 8
    assert frame_bits(3, 3, 3, 8, 1, 18) == 3 * 3 * 2 * 8  # 18 bytes: even, no padding
    assert frame_bits(3, 3, 3, 8, 1, 28) == 3 * 3 * 3 * 8  # 27 bytes + 1 padding
    assert frame_bits(4, 4, 3, 16, 1, 64) == 4 * 4 * 2 * 16
    assert frame_bits(4, 4, 1, 8, 2, 16) == 4 * 4 * 8


def test_native_ybr_full_422_frames_by_offsets_and_from_dataset(tmp_path: Path) -> None:
    """F-03: a native 8-bit YBR_FULL_422 frame is Rows*Columns*2 bytes, by offsets and from a
    parsed dataset alike; decoding it gives pydicom's RGB."""
    ds = _ybr_422()
    path = write(tmp_path, ds)
    inst = stored(path)
    assert list(read_frames(path, inst, [2, 1])) == [bytes(range(32, 64)), bytes(range(32))]
    parsed = dcmread(path)
    assert list(frames_from_dataset(parsed, [2])) == [bytes(range(32, 64))]
    options = decoding_options(parsed)
    rgb = decode_frame(bytes(range(32, 64)), inst.transfer_syntax_uid, options)
    assert rgb.tolist() == parsed.pixel_array[1].tolist()
