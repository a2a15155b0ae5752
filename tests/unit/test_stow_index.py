"""STOW indexes its files from the bytes it wrote: the rows are exactly those a sync makes.

``store_instances`` never reads its files back: it parses the encoded bytes with the scanner's
parser (:func:`dicomfs.storage.scan.read_buffer`). These tests pin that the result equals reading
the written file (:func:`dicomfs.storage.scan.read_file`, ``header.read_prepared``) and that a
store's index equals one rebuilt from the files (CONFORMANCE I-17: a stored instance is
searchable and retrievable at once, with the attributes of its file).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import factories
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from sqlalchemy import Engine, text

import dicomfs
from dicomfs.file.part10 import EncodingError, encode_part10
from dicomfs.index.records import InstanceRecord, Rejection
from dicomfs.index.repository import PreparedInstance, prepare
from dicomfs.storage import header, scan


def _check_buffer(tmp_path: Path, ds: Dataset) -> PreparedInstance | Rejection:
    data = encode_part10(ds)
    relpath = "study/series/x.dcm"
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    mtime = path.stat().st_mtime_ns
    assert header.read_buffer(relpath, data, mtime) == header.read_prepared(tmp_path, relpath)
    got = scan.read_buffer(relpath, data, mtime)
    record = scan.read_file(tmp_path, relpath)
    if isinstance(record, InstanceRecord):
        assert got == prepare(
            record.path, record.size, record.mtime_ns, record.instance, record.instance_attributes
        )
    else:
        assert got == record
    return got


@pytest.mark.parametrize("position", range(12))
def test_read_buffer_equals_reading_the_file(tmp_path: Path, position: int) -> None:
    got = _check_buffer(tmp_path, factories.standard_datasets()[position])
    assert isinstance(got, PreparedInstance)
    assert got.sop_instance_uid == str(factories.standard_datasets()[position].SOPInstanceUID)


def test_read_buffer_rejects_like_read_file(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").write_bytes(b"not dicom")
    expected = scan.read_file(tmp_path, "x.dcm")
    assert scan.read_buffer("x.dcm", b"not dicom", 0) == expected


@pytest.mark.parametrize("path", factories.corpus_files(), ids=lambda p: p.name)
def test_corpus_read_buffer_equals_reading_the_file(tmp_path: Path, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path)
        except InvalidDicomError as exc:
            pytest.skip(f"not readable by pydicom: {exc}")
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            pytest.skip("no SOP Class/Instance UID")
        try:
            _check_buffer(tmp_path, ds)
        except EncodingError as exc:
            pytest.skip(f"not storable: {exc}")


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "files": "SELECT path, size, mtime_ns, rejected_reason, sop_instance_uid FROM files",
        "studies": "SELECT * FROM studies",
        "series": "SELECT * FROM series",
        "instances": "SELECT i.*, f.path FROM instances i JOIN files f ON f.id = i.file_id",
    }
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table, query in queries.items():
            result = conn.execute(text(query))
            keys = list(result.keys())
            rows = [dict(zip(keys, row, strict=True)) for row in result]
            for row in rows:
                row.pop("file_id", None)
            out[table] = sorted((tuple(sorted(row.items())) for row in rows), key=repr)
    return out


def test_stored_rows_equal_a_rebuilt_index(tmp_path: Path) -> None:
    """The index after STOW is the index a full sync of the same files builds."""
    root = tmp_path / "store"
    datasets = factories.standard_datasets()
    with dicomfs.DICOMfileClient(root) as client:
        client.store_instances(datasets[:5])
        client.store_instances(datasets[5:])
        client.store_instances([datasets[0]])  # replaced: same file, new mtime
        stored = _rows(client.ctx.repo.engine)
    with dicomfs.DICOMfileClient(root, in_memory=True) as rebuilt:
        assert rebuilt.last_sync is not None and rebuilt.last_sync.added == 12
        assert _rows(rebuilt.ctx.repo.engine) == stored
    assert len(stored["instances"]) == 12


def test_duplicate_sop_last_encodable_copy_is_written(tmp_path: Path) -> None:
    """I-10: the last copy that can be encoded is written; the one that cannot fails (0110)."""
    first = factories.make_instance(1, 1, 1, PatientName="FIRST")
    broken = factories.make_instance(1, 1, 1, PatientName="SECOND")
    broken.add_new(0x00000002, "UI", "1.2.3")  # a command element: not encodable
    with dicomfs.DICOMfileClient(tmp_path / "store") as client:
        response = client.store_instances([first, broken])
        assert [int(item.FailureReason) for item in response.FailedSOPSequence] == [0x0110]
        assert len(response.ReferencedSOPSequence) == 1
        got = client.retrieve_instance(
            factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
        )
        assert str(got.PatientName) == "FIRST"


def test_duplicate_sop_fails_with_the_copy_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the copy written fails (disk full, A700), the earlier copies fail with it."""
    from dicomfs.errors import ConflictError
    from dicomfs.storage import atomic

    def full(*args: Any, **kwargs: Any) -> atomic.StagedFile:
        raise OSError(28, "No space left on device")

    a = factories.make_instance(1, 1, 1, PatientName="FIRST")
    b = factories.make_instance(1, 1, 1, PatientName="SECOND")
    with dicomfs.DICOMfileClient(tmp_path / "store") as client:
        monkeypatch.setattr(atomic, "stage", full)
        with pytest.raises(ConflictError) as info:
            client.store_instances([a, b])
    reasons = [int(item.FailureReason) for item in info.value.dataset.FailedSOPSequence]
    assert reasons == [0xA700, 0xA700]
