"""Synthetic DICOM studies for the sample store and the benchmarks (deterministic for a seed).

Images are small phantoms (a disc in a gradient) so rendered output looks like something.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

UID_ROOT = "1.2.826.0.1.3680043.8.498.42"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"

FAMILY = ["DOE", "SMITH", "MÜLLER", "GARCÍA", "NGUYEN", "KOWALSKI", "OKAFOR", "TANAKA", "SILVA"]
GIVEN = ["JOHN", "JANE", "HANS", "MARIA", "AN", "PIOTR", "ADA", "YUKI", "JOÃO"]
BODY = [("CHEST", "CT"), ("HEAD", "MR"), ("ABDOMEN", "CT"), ("KNEE", "MR"), ("PELVIS", "CT")]


@dataclass(frozen=True)
class Plan:
    """How much to generate."""

    patients: int = 4
    studies_per_patient: int = 2
    series_per_study: int = 2
    instances_per_series: int = 6
    size: int = 64
    multiframe: bool = True
    seed: int = 7


def phantom(size: int, k: int, modality: str) -> np.ndarray:
    """A disc on a gradient; CT values in HU + 1024 (stored), MR in arbitrary units."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2
    r = size * (0.25 + 0.1 * np.sin(k / 3))
    disc = ((x - c) ** 2 + (y - c) ** 2) < r**2
    if modality == "CT":
        img = np.full((size, size), 1024 - 1000, np.float32)  # air
        img += (x / size) * 200
        img[disc] = 1024 + 40 + 20 * np.sin(k)
    else:
        img = 100 + (y / size) * 300
        img[disc] = 900 + 50 * np.cos(k)
    return img.astype(np.uint16)


def _dataset(
    rng: random.Random, patient: int, study: int, series: int, instance: int, plan: Plan
) -> Dataset:
    family = FAMILY[patient % len(FAMILY)]
    given = GIVEN[(patient * 7) % len(GIVEN)]
    body, modality = BODY[(patient + study) % len(BODY)]
    if series % 2 == 1:
        modality = "MR" if modality == "CT" else "CT"
    year = 2012 + (patient * 3 + study * 5) % 13
    month = 1 + (patient + study * 4) % 12
    day = 1 + (patient * 11 + study) % 28
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT if modality == "CT" else MR
    ds.StudyInstanceUID = f"{UID_ROOT}.1.{patient}.{study}"
    ds.SeriesInstanceUID = f"{UID_ROOT}.2.{patient}.{study}.{series}"
    ds.SOPInstanceUID = f"{UID_ROOT}.3.{patient}.{study}.{series}.{instance}"
    ds.PatientName = f"{family}^{given}"
    ds.PatientID = f"PAT{patient:05d}"
    ds.PatientBirthDate = (
        f"{1940 + (patient * 13) % 60}{1 + patient % 12:02d}{1 + patient % 28:02d}"
    )
    ds.PatientSex = "MF"[patient % 2]
    ds.StudyDate = f"{year}{month:02d}{day:02d}"
    ds.StudyTime = f"{8 + (study * 3) % 10:02d}{(patient * 7) % 60:02d}00"
    ds.AccessionNumber = f"A{patient:04d}{study:03d}"
    ds.StudyID = str(study + 1)
    ds.ReferringPhysicianName = "WELBY^MARCUS"
    ds.StudyDescription = f"{body} {modality}"
    ds.Modality = modality
    ds.SeriesNumber = series + 1
    ds.SeriesDescription = f"{body} {'AXIAL' if series % 2 == 0 else 'CORONAL'}"
    ds.BodyPartExamined = body
    ds.InstanceNumber = instance + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SliceThickness = "2.5"
    ds.ImagePositionPatient = [0, 0, instance * 2.5]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.8, 0.8]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = plan.size
    ds.BitsAllocated = 16
    ds.BitsStored = 12 if modality == "CT" else 16
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if modality == "CT":
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.WindowCenter = 40
        ds.WindowWidth = 400
    ds.PixelData = phantom(plan.size, instance + rng.randint(0, 3), modality).tobytes()
    return ds


def _multiframe(plan: Plan, frames: int = 10) -> Dataset:
    ds = _dataset(random.Random(plan.seed), 0, 0, 2, 0, plan)
    ds.SOPClassUID = ENHANCED_MR
    ds.Modality = "MR"
    ds.SeriesDescription = "CINE MULTIFRAME"
    ds.SeriesInstanceUID = f"{UID_ROOT}.2.0.0.99"
    ds.SOPInstanceUID = f"{UID_ROOT}.3.0.0.99.1"
    ds.SeriesNumber = 99
    ds.NumberOfFrames = frames
    for keyword in ("RescaleIntercept", "RescaleSlope", "WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelData = np.stack([phantom(plan.size, f, "MR") for f in range(frames)]).tobytes()
    return ds


def datasets(plan: Plan) -> Iterator[Dataset]:
    """Every dataset of the plan, in a stable order."""
    rng = random.Random(plan.seed)
    for p in range(plan.patients):
        for s in range(plan.studies_per_patient):
            for se in range(plan.series_per_study):
                for i in range(plan.instances_per_series):
                    yield _dataset(rng, p, s, se, i, plan)
    if plan.multiframe:
        yield _multiframe(plan)


def write(ds: Dataset, path: Path, transfer_syntax: str = ExplicitVRLittleEndian) -> None:
    """Write one dataset as a Part10 file."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    if transfer_syntax == RLELossless:
        ds.compress(RLELossless, generate_instance_uid=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def generate(root: Path, plan: Plan) -> int:
    """Write the plan's datasets under ``root`` as ``<patient>/<study>/<series>/IMnnnn.dcm``."""
    n = 0
    for ds in datasets(plan):
        parts = ds.SOPInstanceUID.split(".")
        folder = root / ds.PatientID / f"study{parts[-3]}" / f"series{parts[-2]}"
        syntax = RLELossless if ds.get("NumberOfFrames", 1) > 1 else ExplicitVRLittleEndian
        write(ds, folder / f"IM{int(parts[-1]):04d}.dcm", syntax)
        n += 1
    return n
