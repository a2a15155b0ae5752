"""Folder convenience and copying between stores (dicomfs.transfer), and `dicomfs copy`."""

from __future__ import annotations

from pathlib import Path

import factories
import pydicom
import pytest
from clirun import invoke, invoke_json

from dicomfs.errors import NotFoundError
from dicomfs.file.client import DICOMfileClient
from dicomfs.transfer import (
    copy_studies,
    find_study_of_series,
    list_series,
    plan_copy,
    retrieve_series_into_folder,
    retrieve_study_into_folder,
)

S1 = factories.study_uid(1)


def _sops(root: Path) -> list[str]:
    with DICOMfileClient(root) as client:
        return sorted(r["00080018"]["Value"][0] for r in client.search_for_instances())


def test_find_study_and_list_series(store: Path) -> None:
    """Find a series' study; list a study's series by Series Number (C-01)."""
    with DICOMfileClient(store) as client:
        assert find_study_of_series(client, factories.series_uid(4, 2)) == factories.study_uid(4)
        assert find_study_of_series(client, "1.2.3.4") is None
        assert list_series(client, S1) == [factories.series_uid(1, n) for n in (1, 2, 3)]
        assert list_series(client, "1.2.3.4") == []


def test_retrieve_study_into_folder_numbers_files(store: Path, tmp_path: Path) -> None:
    """One subfolder per series, files file000000.dcm...; an existing folder is refused."""
    with DICOMfileClient(store) as client:
        written = retrieve_study_into_folder(client, S1, tmp_path)
        assert [p.relative_to(tmp_path).as_posix() for p in written] == [
            f"{S1}/{factories.series_uid(1, 1)}/file00000{n}.dcm" for n in range(3)
        ] + [f"{S1}/{factories.series_uid(1, 2)}/file00000{n}.dcm" for n in range(2)] + [
            f"{S1}/{factories.series_uid(1, 3)}/file000000.dcm"]
        assert sorted(str(pydicom.dcmread(p).SOPInstanceUID) for p in written[:3]) == [
            factories.sop_uid(1, 1, n) for n in (1, 2, 3)]
        with pytest.raises(FileExistsError):
            retrieve_series_into_folder(client, S1, factories.series_uid(1, 1), tmp_path)
        (tmp_path / "x").mkdir()
        flat = retrieve_series_into_folder(client, S1, factories.series_uid(1, 2), tmp_path / "x",
                                           use_study_subfolder=False)
        assert [p.relative_to(tmp_path).as_posix() for p in flat] == [
            f"x/{factories.series_uid(1, 2)}/file00000{n}.dcm" for n in range(2)]
        with pytest.raises(NotFoundError):
            retrieve_study_into_folder(client, "1.2.3.4", tmp_path)


def test_copy_skips_what_the_target_has(store: Path, tmp_path: Path) -> None:
    """Copy streams series the target lacks, fetches only missing instances of partial series,
    and a second copy has nothing to do (I-10: no duplicates)."""
    target_root = tmp_path / "target"
    with DICOMfileClient(store) as source, DICOMfileClient(target_root) as target:
        target.store_instances([source.retrieve_instance(S1, factories.series_uid(1, 1),
                                                         factories.sop_uid(1, 1, 2))])
        plan = plan_copy(source, target, S1)
        assert [(p.series_instance_uid, p.missing, p.present) for p in plan.series] == [
            (factories.series_uid(1, 1), (factories.sop_uid(1, 1, 1), factories.sop_uid(1, 1, 3)),
             1),
            (factories.series_uid(1, 2), (factories.sop_uid(1, 2, 1), factories.sop_uid(1, 2, 2)),
             0),
            (factories.series_uid(1, 3), (factories.sop_uid(1, 3, 1),), 0),
        ]
        ticks: list[int] = []
        summary = copy_studies(source, target, plan, batch_size=1, progress=ticks.append)
        assert (sorted(summary.copied), summary.skipped, summary.failed) == (
            sorted(u for p in plan.series for u in p.missing), 1, [])
        assert ticks == [1, 1, 1, 1, 1]
        again = plan_copy(source, target)
        assert (again.to_copy, again.present) == (6, 6)  # the other 4 studies remain to copy
    assert _sops(target_root) == sorted(factories.sop_uid(1, se, i)
                                        for se, i in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2),
                                                      (3, 1)])


def test_copy_command_whole_store_then_nothing(store: Path, tmp_path: Path) -> None:
    """`dicomfs copy` local -> local: everything, then nothing left to copy."""
    target = tmp_path / "copy"
    first = invoke("copy", "--from", store, "--to", target)
    assert first.exit_code == 0
    assert first.stdout == (
        "5 studies, 8 series: 12 instances copied, 0 already present, 0 failed\n")
    second = invoke_json("copy", "--from", store, "--to", target, "--study", S1, "--series",
                         factories.series_uid(1, 3))
    assert (second["copied"], second["skipped"], second["failed"]) == (0, 1, [])
    assert _sops(target) == _sops(store)
    missing = invoke("copy", "--from", store, "--to", target, "--study", "1.2.3.4")
    assert missing.exit_code == 1


def test_read_instance_file_accepts_a_dataset_without_preamble(tmp_path: Path) -> None:
    """A raw dataset with no preamble/File Meta but with its UIDs is stored, as the scanner
    indexes it; bytes without the four identifying UIDs are still 'not a DICOM file'."""
    from pydicom.filewriter import dcmwrite

    from dicomfs.transfer import UnusableFile, read_instance_file

    ds = factories.make_instance(3, 1, 7)
    del ds.file_meta
    raw = tmp_path / "raw.dcm"
    dcmwrite(raw, ds, implicit_vr=True, little_endian=True)
    assert raw.read_bytes()[128:132] != b"DICM"
    assert read_instance_file(raw).SOPInstanceUID == factories.sop_uid(3, 1, 7)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" * 3)
    with pytest.raises(UnusableFile, match="not a DICOM file"):
        read_instance_file(junk)
