"""Every corpus file through WADO-RS: metadata + bulk data, frames, rendered, instance.

A reference registry in the style of pydicom's ``PixelReference``: pydicom (3.0.2 with the
pylibjpeg plugins) is the reference for every value. Files that share a SOP Instance UID (the
corpus has the same image in several syntaxes) are indexed in separate stores.

CONFORMANCE: E-03, E-06, F-03..F-08, F-10, G-02, G-03, G-05, G-06, H-02, J-01..J-09, J-13.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import factories
import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.pixels.utils import pack_bits
from pydicom.uid import UID, ExplicitVRLittleEndian

from dicomfs.dicomjson import bulk_value_bytes, load_json_dataset, resolve_tag_path
from dicomfs.errors import CorruptFileError, NotAcceptableError
from dicomfs.file import wado
from dicomfs.file.context import StoreContext
from dicomfs.index.engine import create_index_engine
from dicomfs.index.migrate import upgrade
from dicomfs.index.records import StoredInstance
from dicomfs.index.repository import Repository
from dicomfs.pixels.decode import LOSSLESS_COMPRESSED
from dicomfs.storage import scan
from dicomfs.storage.layout import is_valid_uid

#: pydicom warns about the corpus' non-conformant values (e.g. a UID with letters) when read.
#: It also warns when a JPEG's Photometric Interpretation disagrees with its codestream.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The \\(0028,0004\\) 'Photometric:UserWarning"),
]

CORPUS = factories.corpus_dir()
FILES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.dcm")) if CORPUS else []

#: Files pydicom 3.0.2 (with pylibjpeg) cannot decode, and why (checked again at run time).
CANNOT_DECODE = {
    "pydicom-data/liver_rle.dcm": "pydicom has no RLE decoder for BitsAllocated=1",
    "pydicom-data/liver_nonbyte_aligned_rle.dcm": "pydicom has no RLE decoder for BitsAllocated=1",
    "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": "truncated codestream",
    "pydicom-data/bad_sequence.dcm": "malformed sequence",
}
#: Files of a transfer syntax pydicom 3.0 does not know (2024's Deflated Image Frame
#: Compression): indexed and served as stored; frames and rendering are 406.
UNKNOWN_SYNTAX = {
    "pydicom-data/liver_deflate.dcm",
    "pydicom-data/liver_nonbyte_aligned_deflate.dcm",
}


@dataclass
class Entry:
    ctx: StoreContext | None
    inst: StoredInstance | None
    reason: str = ""
    #: The file served (a copy with UIDs added when the original lacks them).
    path: Path | None = None


def _sop_uid(path: Path) -> str | None:
    try:
        return str(dcmread(path, stop_before_pixels=True, force=True).get("SOPInstanceUID", ""))
    except (InvalidDicomError, OSError, ValueError, EOFError, AttributeError):
        return None


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Entry]:
    """Index the corpus into as few stores as needed (one SOP Instance UID per store)."""
    if CORPUS is None:
        pytest.skip("corpus folder absent (set DICOMFS_CORPUS)")
    rounds: list[dict[str, str]] = []  # each: sop uid -> relpath
    for rel in FILES:
        sop = _sop_uid(CORPUS / rel) or rel
        for placed in rounds:
            if sop not in placed:
                placed[sop] = rel
                break
        else:
            rounds.append({sop: rel})
    out: dict[str, Entry] = {}
    for n, placed in enumerate(rounds):
        _index_round(tmp_path_factory.mktemp(f"corpus{n}"), placed.values(), out, None)
    # Files without (valid) study/series UIDs: serve a copy with UIDs added, pixel data intact.
    missing = [rel for rel, e in out.items() if e.ctx is None and "InstanceUID" in e.reason]
    if missing:
        _index_round(tmp_path_factory.mktemp("corpus-uids"), missing, out, _with_uids)
    return out


def _with_uids(source: Path, target: Path) -> None:
    ds = dcmread(source, force=True)
    ds.StudyInstanceUID = factories.new_uid()
    ds.SeriesInstanceUID = factories.new_uid()
    if not is_valid_uid(ds.get("SOPInstanceUID")):
        ds.SOPInstanceUID = factories.new_uid()
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target, enforce_file_format=True)


def _index_round(
    root: Path, rels: Any, out: dict[str, Entry], make: Any
) -> None:
    tree = (root / "tree").resolve()
    for rel in rels:
        (make or _place)(CORPUS / rel, tree / rel)  # type: ignore[operator]
    engine = create_index_engine(f"sqlite:///{root / 'index.sqlite'}")
    upgrade(engine)
    repo = Repository(engine)
    report = scan.sync(tree, repo)
    ctx = StoreContext(root=tree, repo=repo, base_url=tree.as_uri())
    rejected = {r.path: r.reason for r in report.rejected}
    for rel in rels:
        if rel in rejected:
            out[rel] = Entry(None, None, rejected[rel])
            continue
        ds = dcmread(tree / rel, stop_before_pixels=True, force=True)
        inst = repo.instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        out[rel] = Entry(ctx, inst, path=tree / rel)


def _entry(registry: dict[str, Entry], rel: str) -> tuple[StoreContext, StoredInstance]:
    entry = registry[rel]
    if entry.ctx is None or entry.inst is None:
        pytest.skip(f"rejected by the index: {entry.reason}")
    _SERVED[rel] = entry.path  # type: ignore[assignment]
    return entry.ctx, entry.inst


_SERVED: dict[str, Path] = {}


def _uids(inst: StoredInstance) -> tuple[str, str, str]:
    return inst.study_instance_uid, inst.series_instance_uid, inst.sop_instance_uid


def _bulk_uris(obj: dict[str, Any]) -> list[str]:
    uris = []
    for attr in obj.values():
        if "BulkDataURI" in attr:
            uris.append(attr["BulkDataURI"])
        if attr.get("vr") == "SQ":
            for item in attr.get("Value", []):
                uris.extend(_bulk_uris(item))
    return uris


def _reference(rel: str, inst: StoredInstance) -> Dataset:
    """pydicom's reading of the file (File Meta completed, as the index deduced it)."""
    ds = dcmread(_SERVED[rel], force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = inst.transfer_syntax_uid
    return ds


def _decodable(ds: Dataset) -> bool:
    try:
        return ds.pixel_array is not None
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError):
        return False


@pytest.mark.parametrize("rel", FILES)
def test_metadata_bulk_data_is_byte_exact(registry: dict[str, Entry], rel: str) -> None:
    """G-02/G-05/G-06/F-10: no group 0002, pixel data as BulkDataURI, every URI byte-exact."""
    ctx, inst = _entry(registry, rel)
    obj = wado.metadata(ctx, *_uids(inst))[0]
    assert not [k for k in obj if k.startswith("0002")]
    assert list(obj) == sorted(obj)
    ds = _reference(rel, inst)
    little = ds.original_encoding[1] is not False
    uris = _bulk_uris(obj)
    if inst.pixel_data_tag is not None:
        assert f"{inst.pixel_data_tag:08X}" in obj
    for uri in uris:
        got = b"".join(wado.iter_bulkdata(ctx, uri, None, None))
        elem = resolve_tag_path(ds, uri.split("/bulk/")[1])
        assert got == bulk_value_bytes(elem, little_endian=little), uri


@pytest.mark.parametrize("rel", FILES)
def test_frames_as_stored_and_decoded(registry: dict[str, Entry], rel: str) -> None:
    """F-03/F-04/F-05/F-08: as-stored frames = pydicom's generate_frames; octet-stream frames
    = pydicom's decoded frames (native bytes), lossy-only data -> 406."""
    ctx, inst = _entry(registry, rel)
    if inst.pixel_data_tag is None:
        pytest.skip("no pixel data")
    ds = _reference(rel, inst)
    count = int(ds.get("NumberOfFrames") or 1)
    numbers = list(range(count, 0, -1))  # reverse order on purpose (F-01)
    if rel in UNKNOWN_SYNTAX:
        for media_types in (None, ("*/*",)):
            with pytest.raises(NotAcceptableError):
                list(wado.iter_frames(ctx, *_uids(inst), numbers, media_types))
        return
    tsyntax = UID(inst.transfer_syntax_uid)
    if tsyntax.is_encapsulated:
        stored = list(wado.iter_frames(ctx, *_uids(inst), numbers, ("*/*",)))
        reference = list(generate_frames(ds.PixelData, number_of_frames=count))
        assert stored == [reference[n - 1] for n in numbers]
        if tsyntax not in LOSSLESS_COMPRESSED:
            with pytest.raises(NotAcceptableError):
                wado.iter_frames(ctx, *_uids(inst), numbers, None)
            return
    if not _decodable(ds):
        assert rel in CANNOT_DECODE
        with pytest.raises((CorruptFileError, NotAcceptableError)):
            list(wado.iter_frames(ctx, *_uids(inst), numbers, None))
        return
    frames = list(wado.iter_frames(ctx, *_uids(inst), numbers, None))
    keyword = next(k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if k in ds)
    bits = int(ds.BitsAllocated)
    if bits == 1:
        pixels = ds.pixel_array.reshape(count, -1)
        assert frames == [pack_bits(pixels[n - 1], pad=False) for n in numbers]
    elif not tsyntax.is_encapsulated:
        value = bulk_value_bytes(ds[keyword], little_endian=ds.original_encoding[1] is not False)
        size = len(frames[0])
        assert size == int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * bits // 8
        assert frames == [value[(n - 1) * size : n * size] for n in numbers]
    else:
        decoder = get_decoder(tsyntax)
        for n, frame in zip(numbers, frames, strict=True):
            arr, _ = decoder.as_array(ds, index=n - 1, raw=True)
            assert frame == arr.astype(arr.dtype.newbyteorder("<")).tobytes()


@pytest.mark.parametrize("rel", FILES)
def test_rendered_png_has_the_image_size(registry: dict[str, Entry], rel: str) -> None:
    """H-02: a rendered PNG without viewport is Columns x Rows, 8 bits per channel."""
    ctx, inst = _entry(registry, rel)
    if inst.pixel_data_tag is None:
        pytest.skip("no pixel data")
    ds = _reference(rel, inst)
    if not _decodable(ds):
        assert rel in CANNOT_DECODE or rel in UNKNOWN_SYNTAX
        with pytest.raises((CorruptFileError, NotAcceptableError)):
            wado.rendered(ctx, *_uids(inst), None, ("image/png",), None)
        return
    image = Image.open(BytesIO(wado.rendered(ctx, *_uids(inst), None, ("image/png",), None)))
    assert image.size == (int(ds.Columns), int(ds.Rows))
    assert image.mode in ("L", "RGB")


@pytest.mark.parametrize("rel", FILES)
def test_default_instance_is_explicit_vr_little_endian(
    registry: dict[str, Entry], rel: str
) -> None:
    """E-03/E-06: the default transfer syntax is Explicit VR LE, pixel values unchanged."""
    ctx, inst = _entry(registry, rel)
    ds = _reference(rel, inst)
    if inst.pixel_data_tag is not None and not _decodable(ds):
        with pytest.raises(NotAcceptableError):
            next(wado.iter_instances(ctx, *_uids(inst), None))
        return
    got = next(wado.iter_instances(ctx, *_uids(inst), None))
    assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert got.SOPInstanceUID == inst.sop_instance_uid
    if inst.pixel_data_tag is not None and int(ds.BitsAllocated) > 1:
        assert np.array_equal(got.pixel_array, ds.pixel_array)


_NUMBER_VRS = {"FL", "FD", "SL", "SS", "UL", "US"}
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_NON_FINITE = {"NaN", "Infinity", "-Infinity"}


def _json_problems(obj: dict[str, Any], where: str = "") -> list[str]:
    """Every breach of J-01/J-03/J-04/J-06/J-07/J-08/J-09/G-03 in a DICOM JSON object."""
    problems = []
    if list(obj) != sorted(obj):
        problems.append(f"{where}: keys not sorted (J-01)")
    for key, attr in obj.items():
        here, vr = f"{where}/{key}", attr.get("vr")
        if len(key) != 8 or key.upper() != key or key.endswith("0000"):
            problems.append(f"{here}: bad key (J-01)")
        kinds = [k for k in ("Value", "BulkDataURI", "InlineBinary") if k in attr]
        if len(kinds) > 1 or (vr in _BINARY_VRS and "Value" in attr):
            problems.append(f"{here}: {kinds} for {vr} (G-03)")
        if "InlineBinary" in attr and not isinstance(attr["InlineBinary"], str):
            problems.append(f"{here}: InlineBinary not one string (J-09)")
        values = attr.get("Value")
        if values is None:
            continue
        if values in ([], [""], [None]):
            problems.append(f"{here}: empty Value {values!r} (J-03)")
        for i, value in enumerate(values):
            if vr == "SQ":
                problems.extend(_json_problems(value, f"{here}/{i}"))
            elif value == "":
                problems.append(f"{here}: empty string, not null (J-04)")
            elif value is None:
                continue
            elif vr in _NUMBER_VRS and not (
                isinstance(value, (int, float)) or (vr in ("FL", "FD") and value in _NON_FINITE)
            ):
                problems.append(f"{here}: {vr} value {value!r} (J-08)")
            elif vr in ("IS", "DS") and not isinstance(value, (int, float, str)):
                problems.append(f"{here}: {vr} value {value!r} (J-07)")
            elif vr == "PN" and (
                not isinstance(value, dict) or not value or not all(value.values())
            ):
                problems.append(f"{here}: PN value {value!r} (J-06)")
            elif vr == "AT" and not (len(value) == 8 and value.upper() == value):
                problems.append(f"{here}: AT value {value!r} (J-08)")
    return problems


@pytest.mark.parametrize("rel", FILES)
def test_metadata_is_valid_dicom_json(registry: dict[str, Entry], rel: str) -> None:
    """J-01..J-09, G-03 on real files: strict JSON (no NaN), sorted upper-case keys, at most
    one of Value/BulkDataURI/InlineBinary, binary VRs never Value, nulls for empty values, PN
    objects without empty groups, numbers where numbers are due; J-13: it reads back into a
    dataset pydicom can write (padding restored)."""
    ctx, inst = _entry(registry, rel)
    obj = wado.metadata(ctx, *_uids(inst))[0]
    json.dumps(obj, allow_nan=False)
    assert _json_problems(obj) == []
    back = load_json_dataset(obj)
    buffer = BytesIO()
    back.save_as(buffer, implicit_vr=False, little_endian=True)
    assert len(buffer.getvalue()) % 2 == 0
