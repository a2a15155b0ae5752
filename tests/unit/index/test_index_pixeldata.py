"""Pixel data located by the scanner: native offsets, encapsulated fragments per frame."""

from __future__ import annotations

from pathlib import Path

import factories
import pytest
from pydicom import dcmread
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.uid import JPEG2000Lossless, RLELossless

from dicomfs.index.records import InstanceRecord
from dicomfs.storage.scan import read_file


def _frames_from_record(path: Path, record: InstanceRecord) -> list[bytes]:
    data = path.read_bytes()
    return [
        b"".join(data[offset : offset + length] for offset, length in frame)
        for frame in record.instance["frame_fragments"]
    ]


def _write_encapsulated(
    root: Path, frames: list[bytes], *, bot: bool, extended: bool = False, per_frame: int = 1
) -> Path:
    ds = factories.make_instance(1, 1, 1, frames=len(frames), transfer_syntax=RLELossless)
    if extended:
        pixel, offsets, lengths = encapsulate_extended(frames)
        ds.PixelData = pixel
        ds.ExtendedOffsetTable = offsets
        ds.ExtendedOffsetTableLengths = lengths
    else:
        ds.PixelData = encapsulate(frames, fragments_per_frame=per_frame, has_bot=bot)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    path = root / "enc.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


FRAMES = [bytes([n]) * (10 + 2 * n) for n in range(1, 4)]


@pytest.mark.parametrize(
    ("bot", "extended", "per_frame"),
    [(True, False, 1), (False, False, 1), (True, False, 2), (False, True, 1)],
    ids=["bot", "no-bot", "bot-2-fragments", "extended-offset-table"],
)
def test_encapsulated_fragments_give_the_frames(
    tmp_path: Path, bot: bool, extended: bool, per_frame: int
) -> None:
    """F-01: each frame of encapsulated data is found without decoding (offsets stored)."""
    path = _write_encapsulated(tmp_path, FRAMES, bot=bot, extended=extended, per_frame=per_frame)
    record = read_file(tmp_path, "enc.dcm")
    assert isinstance(record, InstanceRecord)
    assert record.instance["pixel_data_length"] == -1
    assert record.instance["pixel_data_tag"] == 0x7FE00010
    assert [len(f) for f in record.instance["frame_fragments"]] == [per_frame] * 3
    assert _frames_from_record(path, record) == FRAMES
    ds = dcmread(path)
    assert list(generate_frames(ds.PixelData, number_of_frames=3)) == FRAMES


def test_single_frame_with_several_fragments(tmp_path: Path) -> None:
    frame = b"\x01\x02" * 40
    ds = factories.make_instance(1, 1, 1, transfer_syntax=RLELossless)
    ds.PixelData = encapsulate([frame], fragments_per_frame=3, has_bot=False)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(tmp_path / "one.dcm", enforce_file_format=True)
    record = read_file(tmp_path, "one.dcm")
    assert isinstance(record, InstanceRecord)
    assert len(record.instance["frame_fragments"][0]) == 3
    assert _frames_from_record(tmp_path / "one.dcm", record) == [frame]


def test_native_pixel_data_offset_and_length(tmp_path: Path) -> None:
    ds = factories.make_instance(1, 1, 1, rows=4, columns=5, frames=3)
    ds.save_as(tmp_path / "n.dcm", enforce_file_format=True)
    record = read_file(tmp_path, "n.dcm")
    assert isinstance(record, InstanceRecord)
    offset = record.instance["pixel_data_offset"]
    length = record.instance["pixel_data_length"]
    assert length == 4 * 5 * 3 * 2
    assert record.instance["frame_fragments"] is None
    assert (tmp_path / "n.dcm").read_bytes()[offset : offset + length] == ds.PixelData


def test_truncated_native_pixel_data_is_rejected(tmp_path: Path) -> None:
    ds = factories.make_instance(1, 1, 1, rows=8, columns=8)
    ds.save_as(tmp_path / "t.dcm", enforce_file_format=True)
    data = (tmp_path / "t.dcm").read_bytes()
    (tmp_path / "t.dcm").write_bytes(data[:-10])
    result = read_file(tmp_path, "t.dcm")
    assert not isinstance(result, InstanceRecord)
    assert result.reason.startswith("truncated: pixel data of 128 bytes")


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "frames"),
    [
        ("pydicom-data/emri_small_jpeg_2k_lossless.dcm", 10),
        ("pydicom-data/emri_small_RLE.dcm", 10),
        ("pydicom-data/emri_small_jpeg_ls_lossless.dcm", 10),
        ("pydicom-data/liver_rle.dcm", 3),
        ("transcoding/JPEGProcess1.dcm", 1),
        ("pydicom-data/OBXXXX1A_rle_2frame.dcm", 2),
    ],
)
def test_corpus_encapsulated_frames_match_pydicom(corpus: Path, name: str, frames: int) -> None:
    record = read_file(corpus, name)
    assert isinstance(record, InstanceRecord)
    ds = dcmread(corpus / name)
    expected = list(generate_frames(ds.PixelData, number_of_frames=frames))
    assert len(expected) == frames
    assert _frames_from_record(corpus / name, record) == expected


@pytest.mark.corpus
def test_corpus_truncated_file_is_rejected(corpus: Path) -> None:
    result = read_file(corpus, "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm")
    assert not isinstance(result, InstanceRecord)
    assert result.reason.startswith("truncated:")


def test_jpeg2000_uid_constant() -> None:
    assert JPEG2000Lossless == "1.2.840.10008.1.2.4.90"
