"""Exact synthetic DICOM data for the tests: every value here is known, so tests assert exact results.

``standard_datasets()`` is the store every contract test reads (see the table in its docstring);
``make_instance`` builds one instance with any attribute overridden.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

UID_ROOT = "1.2.826.0.1.3680043.8.498.7"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"


def study_uid(n: int) -> str:
    return f"{UID_ROOT}.1.{n}"


def series_uid(study: int, series: int) -> str:
    return f"{UID_ROOT}.2.{study}.{series}"


def sop_uid(study: int, series: int, instance: int) -> str:
    return f"{UID_ROOT}.3.{study}.{series}.{instance}"


def make_instance(
    study: int = 1,
    series: int = 1,
    instance: int = 1,
    *,
    rows: int = 4,
    columns: int = 4,
    frames: int = 1,
    bits: int = 16,
    transfer_syntax: str = ExplicitVRLittleEndian,
    **attributes: Any,
) -> Dataset:
    """One image instance with deterministic UIDs and pixel values ``k + frame*1000`` (uint16).

    Keyword arguments set any attribute by keyword (``PatientName="DOE^JOHN"``); ``None`` deletes it.
    """
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid(study, series, instance)
    ds.StudyInstanceUID = study_uid(study)
    ds.SeriesInstanceUID = series_uid(study, series)
    ds.PatientName = "TEST^PATIENT"
    ds.PatientID = "TEST-ID"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = "20200101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = f"ACC{study:04d}"
    ds.ReferringPhysicianName = ""
    ds.StudyID = f"S{study}"
    ds.StudyDescription = "TEST STUDY"
    ds.Modality = "CT"
    ds.SeriesNumber = series
    ds.SeriesDescription = f"SERIES {series}"
    ds.InstanceNumber = instance
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    if frames > 1:
        ds.NumberOfFrames = frames
    dtype = {8: np.uint8, 16: np.uint16}[bits]
    pixels = np.stack(
        [(np.arange(rows * columns) + f * 1000) % (2**bits) for f in range(frames)]
    ).astype(dtype)
    ds.PixelData = pixels.reshape(frames, rows, columns).tobytes()
    for keyword, value in attributes.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = f"{UID_ROOT}.99"
    ds.file_meta = meta
    return ds


# The standard store. Studies (patient, date time, accession, description, series: modality x instances):
#  1  DOE^JOHN      P1-0001  20200315 093000  ACC0001  "CHEST PA"        1: CT x3, 2: CT x2, 3: SEG x1
#  2  DOE^JANE      P1-0002  20210704 223000  ""       "chest ct"        1: MR x2 (one 3-frame)
#  3  Müller^Hans   100%     20060706 030000  ACC0003  "HEAD"            1: MR x1
#  4  SMITH^ANNA    1000     20060705 090000  ACC0004  "ABDOMEN"         1: CT x1, 2: PT x1
#  5  =王^小東       A_B      19991231 235959.5 abc    "" (empty)        1: OT x1
STUDIES: list[dict[str, Any]] = [
    dict(
        PatientName="DOE^JOHN",
        PatientID="P1-0001",
        PatientBirthDate="19600101",
        PatientSex="M",
        StudyDate="20200315",
        StudyTime="093000",
        AccessionNumber="ACC0001",
        StudyDescription="CHEST PA",
        ReferringPhysicianName="WHO^DOCTOR",
        series=[("CT", 3), ("CT", 2), ("SEG", 1)],
    ),
    dict(
        PatientName="DOE^JANE",
        PatientID="P1-0002",
        PatientBirthDate="19651231",
        PatientSex="F",
        StudyDate="20210704",
        StudyTime="223000",
        AccessionNumber="",
        StudyDescription="chest ct",
        series=[("MR", 2)],
    ),
    dict(
        PatientName="Müller^Hans",
        PatientID="100%",
        PatientBirthDate="19500505",
        PatientSex="M",
        StudyDate="20060706",
        StudyTime="030000",
        AccessionNumber="ACC0003",
        StudyDescription="HEAD",
        series=[("MR", 1)],
    ),
    dict(
        PatientName="SMITH^ANNA",
        PatientID="1000",
        PatientBirthDate="",
        PatientSex="F",
        StudyDate="20060705",
        StudyTime="090000",
        AccessionNumber="ACC0004",
        StudyDescription="ABDOMEN",
        series=[("CT", 1), ("PT", 1)],
    ),
    dict(
        PatientName="=王^小東",
        PatientID="A_B",
        PatientBirthDate="19991231",
        PatientSex="M",
        StudyDate="19991231",
        StudyTime="235959.5",
        AccessionNumber="abc",
        StudyDescription="",
        SpecificCharacterSet=["ISO_IR 100", "ISO_IR 192"],
        series=[("OT", 1)],
    ),
]


def standard_datasets() -> list[Dataset]:
    """The datasets of the standard store (12 instances, 5 studies, 8 series)."""
    out: list[Dataset] = []
    for s, study in enumerate(STUDIES, start=1):
        attrs = {k: v for k, v in study.items() if k != "series"}
        if attrs.get("SpecificCharacterSet") == ["ISO_IR 100", "ISO_IR 192"]:
            attrs["SpecificCharacterSet"] = "ISO_IR 192"
        for se, (modality, count) in enumerate(study["series"], start=1):
            for i in range(1, count + 1):
                extra: dict[str, Any] = {}
                if s == 2 and i == 2:
                    extra = dict(frames=3, SOPClassUID=ENHANCED_MR_STORAGE)
                if modality == "MR" and "SOPClassUID" not in extra:
                    extra["SOPClassUID"] = MR_IMAGE_STORAGE
                if modality == "SEG":
                    extra["SOPClassUID"] = SEG_STORAGE
                ds = make_instance(s, se, i, Modality=modality, **attrs, **extra)
                if s == 1 and se == 1:
                    ds.RequestAttributesSequence = DicomSequence(
                        [
                            _item(ScheduledProcedureStepID="A", RequestedProcedureID="X"),
                            _item(ScheduledProcedureStepID="B", RequestedProcedureID="Y"),
                        ]
                    )
                out.append(ds)
    return out


def _item(**attributes: Any) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def write_datasets(
    root: Path, datasets: Iterable[Dataset], *, layout: str = "nested"
) -> list[Path]:
    """Write datasets as Part10 files under ``root`` (names unrelated to UIDs, as real trees have)."""
    paths: list[Path] = []
    for n, ds in enumerate(datasets):
        if layout == "flat":
            path = root / f"IMG{n:05d}.dcm"
        else:
            path = root / f"patient{ds.PatientID}".replace("%", "pct") / f"s{n // 4}" / f"IM{n:05d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def corpus_files(max_bytes: int = 4_000_000) -> list[Path]:
    """The corpus's files other than its notes, sorted by path ([] when the corpus is absent)."""
    folder = corpus_dir()
    if folder is None:
        return []
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() not in (".md", ".txt", ".json")
        and p.stat().st_size < max_bytes
    )


def corpus_dir() -> Path | None:
    """The shared corpus folder, or None (tests then skip)."""
    env = os.environ.get("DICOMFS_CORPUS")
    candidates: Sequence[Path] = (
        [Path(env)] if env else [Path(__file__).resolve().parents[1].parent / "shared" / "corpus"]
    )
    for path in candidates:
        if path.is_dir():
            return path
    return None


def new_uid() -> str:
    return generate_uid(prefix=UID_ROOT + ".9.")
