"""dicomfs.file.part10: STOW's Part 10 encoder writes exactly what pydicom's dcmwrite writes.

Every case compares :func:`encode_part10` (its fast path) with ``dcmwrite`` on a shallow copy
(``part10._slow_part10``, the fallback), byte for byte, and checks the input is left unchanged
(CONFORMANCE I-01: STOW stores the instances it is given; A-01: Part 10 files with File Meta).
"""

from __future__ import annotations

import copy
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

import factories
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)
from pydicom.valuerep import DSfloat

from dicomfs.file import part10

_DCMWRITE_PATH = part10._slow_part10


def _slow(ds: Dataset) -> bytes:
    return _DCMWRITE_PATH(ds, part10._transfer_syntax(ds))


def _fast_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(ds: Dataset, syntax: str) -> bytes:
        raise AssertionError("the fast path gave up")

    monkeypatch.setattr(part10, "_slow_part10", refuse)


def _assert_same(ds: Dataset) -> bytes:
    before = copy.deepcopy(ds)
    fast = part10.encode_part10(ds)
    assert ds == before
    assert getattr(ds, "file_meta", None) == getattr(before, "file_meta", None)
    assert fast == _slow(ds)
    return fast


def _read_back(data: bytes) -> Dataset:
    return dcmread(BytesIO(data))


def _all_vrs() -> Dataset:
    """An in-memory dataset with a value of each VR the fast path encodes, and empty ones."""
    ds = factories.make_instance(1, 1, 1, rows=2, columns=2)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PixelSpacing = [DSfloat("0.5"), DSfloat(0.25)]
    ds.ImagePositionPatient = [1.5, -2.0, 3.25]
    ds.WindowCenter = "40"
    ds.ContentDate = ""
    ds.AcquisitionDateTime = "20200101120000.5"
    ds.ContentTime = "101010"
    ds.StationAETitle = "AE1"
    ds.PatientAge = "042Y"
    ds.RetrieveURL = "http://example.invalid/x"
    ds.OtherPatientNames = ["A^B", "C^D^E"]
    ds.AdditionalPatientHistory = "line one\\with backslash"
    ds.ImageComments = "odd"
    ds.TextValue = "unlimited characters"
    ds.StrainAdditionalInformation = "UC value"
    ds.FrameIncrementPointer = 0x00181063  # AT: left to pydicom's writer
    ds.add_new(0x00181063, "DS", "33.3")
    ds.add_new(0x00091010, "LO", "PRIVATE CREATOR")
    ds.add_new(0x00091011, "UN", b"\x01\x02\x03")  # odd UN: written without padding
    ds.add_new(0x00091012, "OB", b"\x01\x02\x03")  # odd OB: padded with 0
    ds.add_new(0x00091013, "SS", [-1, 2, -3])
    ds.add_new(0x00091014, "UL", 4000000000)
    ds.add_new(0x00091015, "SL", [-5, 6])
    ds.add_new(0x00091016, "FL", [1.5, 2.5])
    ds.add_new(0x00091017, "FD", 3.141592653589793)
    ds.add_new(0x00091018, "OF", np.arange(3, dtype="<f4").tobytes())
    ds.add_new(0x00091019, "OD", np.arange(2, dtype="<f8").tobytes())
    ds.add_new(0x0009101A, "OL", np.arange(2, dtype="<u4").tobytes())
    ds.add_new(0x0009101B, "OV", np.arange(2, dtype="<u8").tobytes())
    ds.add_new(0x0009101C, "SV", [-(2**40), 7])
    ds.add_new(0x0009101D, "UV", 2**50)
    ds.add_new(0x0009101E, "US", MultiValue(int, [1, 2, 3]))
    ds.add_new(0x0009101F, "IS", ["1", "-20"])
    for tag, vr in [(0x00091020, "LO"), (0x00091021, "US"), (0x00091022, "OB"),
                    (0x00091023, "PN"), (0x00091024, "DS"), (0x00091025, "UI")]:
        ds.add_new(tag, vr, None)
    return ds


def test_factory_instances_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual instance (explicit VR little endian, built in memory) never needs dcmwrite."""
    _fast_only(monkeypatch)
    data = part10.encode_part10(factories.make_instance(1, 2, 3, rows=8, columns=8))
    back = _read_back(data)
    assert data[:132] == b"\x00" * 128 + b"DICM"
    assert back.file_meta.ImplementationClassUID == part10.IMPLEMENTATION_CLASS_UID
    assert back.file_meta.ImplementationVersionName == part10.IMPLEMENTATION_VERSION_NAME
    assert back.SOPInstanceUID == factories.sop_uid(1, 2, 3)
    assert back.PixelData == factories.make_instance(1, 2, 3, rows=8, columns=8).PixelData


@pytest.mark.parametrize("position", range(12))
def test_standard_datasets_same_bytes(position: int) -> None:
    """Sequences built in memory, UTF-8 and ideographic person names, multi-frame."""
    _assert_same(factories.standard_datasets()[position])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bits": 8},
        {"transfer_syntax": ImplicitVRLittleEndian},
        {"transfer_syntax": ExplicitVRBigEndian},
        {"transfer_syntax": DeflatedExplicitVRLittleEndian},
        {"frames": 3},
        {"SpecificCharacterSet": "ISO_IR 192", "PatientName": "Müller^Hans"},
        {"SpecificCharacterSet": None, "PatientName": "Muller^Hans"},
        {"SpecificCharacterSet": ["ISO 2022 IR 6", "ISO 2022 IR 87"],
         "PatientName": "Yamada^Tarou=山田^太郎"},
    ],
    ids=["8-bit", "implicit", "big-endian", "deflated", "frames", "utf8", "no-charset", "iso2022"],
)
def test_variants_same_bytes(kwargs: dict[str, Any]) -> None:
    _assert_same(factories.make_instance(1, 1, 1, **kwargs))


def test_every_vr_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    _fast_only(monkeypatch)
    data = _assert_same(_all_vrs())
    back = _read_back(data)
    assert back[0x00091011].value == b"\x01\x02\x03"
    assert back[0x00091013].value == [-1, 2, -3]
    assert back.PixelSpacing == [0.5, 0.25]


def test_without_file_meta_uses_the_original_encoding() -> None:
    ds = factories.make_instance()
    del ds.file_meta
    assert _read_back(_assert_same(ds)).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_source_application_entity_title_is_kept() -> None:
    ds = factories.make_instance()
    ds.file_meta.SourceApplicationEntityTitle = "MODALITY1"
    assert _read_back(_assert_same(ds)).file_meta.SourceApplicationEntityTitle == "MODALITY1"


def _reread(ds: Dataset, **write: Any) -> Dataset:
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True, **write)
    buffer.seek(0)
    read: Dataset = dcmread(buffer, defer_size=None)
    return read


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, "1.2.840.10008.1.2.1"])
def test_read_datasets_write_raw_elements(syntax: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset read from a file keeps its raw elements and is written as it was read."""
    original = _all_vrs()
    original.file_meta.TransferSyntaxUID = UID(syntax)
    original.ReferencedSeriesSequence = DicomSequence([Dataset(), Dataset()])
    original.ReferencedSeriesSequence[0].SeriesInstanceUID = "1.2.3"
    original.ReferencedSeriesSequence[1].ReferencedInstanceSequence = DicomSequence([Dataset()])
    original.ReferencedSeriesSequence[1].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID = (
        "1.2.3.4"
    )
    read = _reread(original)
    _fast_only(monkeypatch)
    data = _assert_same(read)
    assert _read_back(data).ReferencedSeriesSequence[1].ReferencedInstanceSequence[0] == (
        original.ReferencedSeriesSequence[1].ReferencedInstanceSequence[0]
    )


def test_read_dataset_with_changed_character_set_is_reencoded() -> None:
    """The character set changed after reading: raw elements are decoded and re-encoded."""
    read = _reread(factories.make_instance(PatientName="Muller^Hans"))
    read.SpecificCharacterSet = "ISO_IR 192"
    _assert_same(read)


def test_read_dataset_written_with_another_transfer_syntax() -> None:
    read = _reread(factories.make_instance())
    read.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    assert _read_back(_assert_same(read)).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian


def test_encapsulated_pixel_data_same_bytes() -> None:
    ds = factories.make_instance(rows=2, columns=2, transfer_syntax=JPEG2000Lossless)
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51frame"])
    ds["PixelData"].VR = "OB"
    data = _assert_same(ds)
    assert _read_back(data).PixelData == ds.PixelData


def test_ambiguous_vr_resolved_like_pydicom() -> None:
    """'OB or OW' pixel data and 'US or SS' elements, as pydicom resolves them."""
    ds = factories.make_instance(rows=2, columns=2)
    ds["PixelData"].VR = "OB or OW"
    ds.add_new(0x00280106, "US or SS", 0)  # SmallestImagePixelValue
    data = _assert_same(ds)
    back = _read_back(data)
    assert (back["PixelData"].VR, back[0x00280106].VR) == ("OW", "US")


def test_command_element_fails_in_both_paths() -> None:
    """Group 0000 cannot be in a Part 10 file: FailureReason 0110 (CONFORMANCE I-07)."""
    ds = factories.make_instance()
    ds.add_new(0x00000002, "UI", "1.2.3")
    with pytest.raises(part10.EncodingError) as fast:
        part10.encode_part10(ds)
    with pytest.raises(part10.EncodingError) as slow:
        _slow(ds)
    assert (fast.value.reason, slow.value.reason) == (0x0110, 0x0110)


def test_value_out_of_range_fails() -> None:
    ds = factories.make_instance()
    with pytest.warns(UserWarning, match="between 0 and 65535"):
        ds.add_new(0x00091010, "US", 70000)
    with pytest.raises(part10.EncodingError) as info:
        part10.encode_part10(ds)
    assert info.value.reason == part10.FAILURE_PROCESSING


def test_compressed_pixel_data_without_transfer_syntax_fails_c122() -> None:
    ds = factories.make_instance()
    del ds.file_meta
    ds.PixelData = encapsulate([b"frame"])
    with pytest.raises(part10.EncodingError) as info:
        part10.encode_part10(ds)
    assert info.value.reason == part10.FAILURE_TRANSFER_SYNTAX


@pytest.mark.parametrize("path", factories.corpus_files(), ids=lambda p: p.name)
def test_corpus_same_bytes(path: Path) -> None:
    """Real files, as dcmread gives them (raw elements, sequences, odd encodings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path)
        except InvalidDicomError as exc:  # not every corpus file is DICOM
            pytest.skip(f"not readable by pydicom: {exc}")
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            pytest.skip("no SOP Class/Instance UID")
        try:
            fast: bytes | int = part10.encode_part10(ds)
        except part10.EncodingError as exc:
            fast = exc.reason
        try:
            slow: bytes | int = _slow(ds)
        except part10.EncodingError as exc:
            slow = exc.reason
    if not UID(part10._transfer_syntax(ds)).is_transfer_syntax:
        # A syntax pydicom does not know: dcmwrite refuses it, the fast path writes it as the
        # Explicit VR Little Endian it is, element for element.
        assert slow == part10.FAILURE_PROCESSING and isinstance(fast, bytes)
        assert dcmread(BytesIO(fast)) == ds
        return
    assert fast == slow


def test_odd_last_fragment_is_padded_inside_its_item(tmp_path: Path) -> None:
    """PS3.5 A.4: items have even lengths. A dataset whose last JPEG fragment has an odd length
    (as a real file of the corpus does) is written with the pad byte inside that item, so the
    scanner indexes the file and the frame comes back as the fragment plus its pad."""
    import struct

    import dicomfs

    fragment = b"\xff\xd8" + b"x" * 5  # 7 bytes
    item = b"\xfe\xff\x00\xe0"
    ds = factories.make_instance(transfer_syntax="1.2.840.10008.1.2.4.50", bits=8)
    ds.PixelData = item + bytes(4) + item + struct.pack("<L", 7) + fragment
    ds["PixelData"].VR = "OB"
    data = part10.encode_part10(ds)
    assert data.endswith(item + struct.pack("<L", 8) + fragment + b"\x00" + b"\xfe\xff\xdd\xe0"
                         + bytes(4))
    with dicomfs.DICOMfileClient(tmp_path, in_memory=True) as client:
        response = client.store_instances([ds])
        assert len(response.ReferencedSOPSequence) == 1
        (frame,) = client.retrieve_instance_frames(
            str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), [1],
            media_types=["image/jpeg"],
        )
    assert frame == fragment + b"\x00"
