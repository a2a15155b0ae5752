"""The scanner's fast path (raw header parsing) gives exactly what the pydicom path gives."""

from __future__ import annotations

import io
from pathlib import Path

import factories
import pytest
from pydicom import dcmread
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomfs.dicomjson import dataset_to_json
from dicomfs.index.columns import split_levels
from dicomfs.index.records import InstanceRecord
from dicomfs.index.repository import PreparedInstance
from dicomfs.storage import header, indexjson, rawheader


def _fast(path: Path) -> rawheader.RawHeader | None:
    """The fast path's header of a file, or None when it falls back to pydicom."""
    with open(path, "rb", buffering=0) as fp:
        try:
            return rawheader.parse(fp, path.stat().st_size)
        except rawheader.Fallback:
            return None


def _slow(root: Path, relpath: str) -> tuple[str, object]:
    """What the pydicom path makes of a file: ("ok", (instance, attributes)) or a rejection."""
    path = root / relpath
    with open(path, "rb") as fp:
        try:
            return "ok", header._parse_with_pydicom(fp, path.stat().st_size)
        except header._Rejected as exc:
            return "rejected", exc.reason
        except header.READ_ERRORS as exc:
            return "error", type(exc).__name__


def compare_paths(root: Path) -> list[str]:
    """Check every file under ``root``; return the relative paths the fast path read."""
    fast: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relpath = path.relative_to(root).as_posix()
        raw = _fast(path)
        if raw is not None:
            try:
                attributes = indexjson.raw_json(raw)
            except rawheader.Fallback:
                raw = None
        if raw is not None:
            fast.append(relpath)
            expected = dataset_to_json(
                dcmread(path, stop_before_pixels=True), bulk_threshold=1024, skip_bulk=True
            )
            assert attributes == expected, relpath
            for _ in range(2):  # the second time from the cache
                again, texts = indexjson.raw_json_text(raw)
                study, series = split_levels(expected)
                assert again == expected, relpath
                assert texts == tuple(map(indexjson.dumps, (expected, study, series))), relpath
        record = header.read(root, relpath)
        prepared = header.read_prepared(root, relpath)
        outcome, value = _slow(root, relpath)
        if isinstance(record, InstanceRecord):
            assert outcome == "ok", relpath
            assert value == (record.instance, record.instance_attributes), relpath
            assert isinstance(prepared, PreparedInstance)
            assert prepared.attributes == indexjson.dumps(record.instance_attributes)
        else:
            assert prepared == record, relpath
            if outcome == "rejected":
                assert value == record[0].reason, relpath
            else:
                assert outcome == "error", relpath
    return fast


def test_fast_path_equals_pydicom_on_the_standard_store(tree: Path) -> None:
    """J-01..J-06, J-09: the index JSON of the fast path equals ``dataset_to_json`` (sequences,
    PN, multi-valued and character sets of the standard store included), and so do records."""
    fast = compare_paths(tree)
    assert len(fast) == 12


def test_fast_path_equals_pydicom_on_the_corpus(corpus: Path) -> None:
    """J-01..J-12 on real files: fast path and pydicom path agree on every corpus file."""
    fast = compare_paths(corpus)
    for name in (
        "transcoding/DeflatedExplicitVRLittleEndian.dcm",
        "transcoding/ExplicitVRLittleEndian.dcm",
        "transcoding/JPEG2000Lossless.dcm",
        "pydicom-data/emri_small.dcm",
        "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm",
    ):
        assert name in fast


def _write(
    root: Path, name: str, transfer_syntax: str = "1.2.840.10008.1.2.1", **kw: object
) -> Path:
    ds = factories.make_instance(1, 1, 1, transfer_syntax=transfer_syntax, **kw)
    path = root / name
    ds.save_as(path, enforce_file_format=True)
    return path


def test_implicit_vr_file_takes_the_fast_path(tmp_path: Path) -> None:
    """Implicit VR little endian without private elements is read from its bytes (J-07, J-08)."""
    path = _write(tmp_path, "i.dcm", ImplicitVRLittleEndian, frames=2)
    raw = _fast(path)
    assert raw is not None and raw.implicit is True
    assert compare_paths(tmp_path) == ["i.dcm"]
    record = header.read(tmp_path, "i.dcm")
    assert isinstance(record, InstanceRecord)
    assert record.instance["pixel_data_length"] == 2 * 4 * 4 * 2
    assert record.instance["number_of_frames"] == 2


def test_deflated_file_is_indexed_without_offsets(tmp_path: Path) -> None:
    """A deflated file is indexed; its pixel data element is known, not its offset (G-06)."""
    _write(tmp_path, "d.dcm", DeflatedExplicitVRLittleEndian)
    assert compare_paths(tmp_path) == ["d.dcm"]
    record = header.read(tmp_path, "d.dcm")
    assert isinstance(record, InstanceRecord)
    assert record.instance["transfer_syntax_uid"] == DeflatedExplicitVRLittleEndian
    assert record.instance["pixel_data_tag"] == 0x7FE00010
    assert record.instance["pixel_data_offset"] is None
    assert record.instance["pixel_data_length"] is None
    assert record.instance["frame_fragments"] is None


def test_broken_deflated_file_is_rejected(tmp_path: Path) -> None:
    """A deflated file whose stream is cut is rejected with a reason (pydicom's words)."""
    path = _write(tmp_path, "d.dcm", DeflatedExplicitVRLittleEndian)
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    assert compare_paths(tmp_path) == []
    result = header.read(tmp_path, "d.dcm")
    assert not isinstance(result, InstanceRecord)
    assert result[0].reason.startswith("unreadable DICOM (error): ")


@pytest.mark.parametrize("cut", [7, 200, 1000])
def test_truncated_files_fall_back_to_pydicom(tmp_path: Path, cut: int) -> None:
    """A file cut inside an element is rejected exactly as the pydicom path words it."""
    path = _write(tmp_path, "t.dcm")
    data = path.read_bytes()
    header_end = data.index(b"\xe0\x7f\x10\x00")
    path.write_bytes(data[: header_end - cut] if cut > 100 else data[: len(data) - cut])
    compare_paths(tmp_path)
    result = header.read(tmp_path, "t.dcm")
    assert not isinstance(result, InstanceRecord)
    assert result[0].reason.startswith("truncated")


def test_sequences_of_undefined_length(tmp_path: Path) -> None:
    """J-05: items of undefined length, empty items and nested sequences are read exactly."""
    ds = factories.make_instance(1, 1, 1)
    inner = factories._item(CodeValue="T-D3000", CodingSchemeDesignator="SRT")
    empty = factories._item()
    ds.AnatomicRegionSequence = [inner, empty]
    ds.ReferencedImageSequence = [factories._item(ReferencedSOPInstanceUID="1.2.3")]
    ds.ReferencedImageSequence[0].PurposeOfReferenceCodeSequence = [inner]
    ds["AnatomicRegionSequence"].is_undefined_length = True
    for item in ds.AnatomicRegionSequence:
        item.is_undefined_length_sequence_item = True
    ds.save_as(tmp_path / "s.dcm", enforce_file_format=True)
    assert compare_paths(tmp_path) == ["s.dcm"]
    record = header.read(tmp_path, "s.dcm")
    assert isinstance(record, InstanceRecord)
    assert record.instance_attributes["00082218"]["Value"][1] == {}


def test_inflated_reading_matches_pydicom(tmp_path: Path) -> None:
    """The deflated stream the fast path inflates is the one pydicom reads (same JSON)."""
    path = _write(tmp_path, "d.dcm", DeflatedExplicitVRLittleEndian, PatientName="Müller^Hans")
    raw = _fast(path)
    assert raw is not None and raw.deflated is True
    data = path.read_bytes()
    attributes = indexjson.raw_json(raw)
    assert attributes["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Müller^Hans"}]}
    assert attributes == dataset_to_json(
        dcmread(io.BytesIO(data), stop_before_pixels=True), bulk_threshold=1024, skip_bulk=True
    )
