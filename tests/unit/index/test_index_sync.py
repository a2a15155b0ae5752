"""Incremental sync, rejections and duplicates (DICOMfileClient.sync / dicomfs.storage.scan)."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import factories
import pytest
from pydicom import dcmread

import dicomfs
from dicomfs.index.records import Rejection


def _client(tree: Path, db_dir: Path) -> dicomfs.DICOMfileClient:
    return dicomfs.DICOMfileClient(tree, db_dir=db_dir, workers=1)


def test_first_open_builds_and_second_sync_changes_nothing(tree: Path, db_dir: Path) -> None:
    with _client(tree, db_dir) as client:
        assert client.ctx.repo.counts() == {
            "studies": 5, "series": 8, "instances": 12, "rejected": 0,
        }
        report = client.sync()
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 12)
    assert report.rejected == []
    assert str(report) == "0 added, 0 updated, 0 removed, 12 unchanged, 0 rejected"


def test_add_modify_delete(tree: Path, db_dir: Path) -> None:
    with _client(tree, db_dir) as client:
        factories.write_datasets(tree / "new", [factories.make_instance(9, 1, 1)], layout="flat")
        changed = tree / "patientP1-0001" / "s0" / "IM00000"
        ds = dcmread(changed)
        ds.PatientName = "CHANGED^NAME"
        ds.save_as(changed, enforce_file_format=True)
        os.utime(changed, ns=(4 * 10**18, 4 * 10**18))  # the latest file of its study (2096)
        removed = tree / "patientP1-0002" / "s1" / "IM00006"
        removed.unlink()
        report = client.sync()
        assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 10)
        assert client.ctx.repo.counts()["instances"] == 12
        assert client.ctx.repo.instances(factories.study_uid(2)) == [
            i for i in client.ctx.repo.instances(factories.study_uid(2))
            if i.sop_instance_uid == factories.sop_uid(2, 1, 2)
        ]
        with client.ctx.repo.session() as session:
            from sqlalchemy import select

            from dicomfs.index.models import Study

            name = session.execute(
                select(Study.patient_name_key).where(
                    Study.study_instance_uid == factories.study_uid(1)
                )
            ).scalar_one()
        assert name == "CHANGED^NAME"


def test_removing_a_whole_study_drops_study_and_series(tree: Path, db_dir: Path) -> None:
    with _client(tree, db_dir) as client:
        shutil.rmtree(tree / "patientP1-0002")
        report = client.sync()
        assert report.removed == 2
        assert client.ctx.repo.counts() == {
            "studies": 4, "series": 7, "instances": 10, "rejected": 0,
        }
        assert client.ctx.repo.instances(factories.study_uid(2)) == []


def test_latest_file_wins_for_study_attributes(tmp_path: Path) -> None:
    """C-15: instances disagree on PatientName: the most recently written file's value wins."""
    root = tmp_path / "tree"
    a = factories.make_instance(1, 1, 1, PatientName="OLD^NAME")
    b = factories.make_instance(1, 1, 2, PatientName="NEW^NAME")
    pa, pb = factories.write_datasets(root, [a, b], layout="flat")
    os.utime(pa, ns=(4 * 10**18, 4 * 10**18))  # 2096: the latest
    os.utime(pb, ns=(3 * 10**18, 3 * 10**18))
    with dicomfs.DICOMfileClient(root, db_dir=tmp_path / "db", workers=1) as client:
        assert _patient_name(client) == "OLD^NAME"
        pa.unlink()
        client.sync()
        assert _patient_name(client) == "NEW^NAME"


def _patient_name(client: dicomfs.DICOMfileClient) -> str:
    from sqlalchemy import select

    from dicomfs.index.models import Study

    with client.ctx.repo.session() as session:
        return str(session.execute(select(Study.patient_name)).scalar_one())


def test_rejections_never_stop_the_scan(tree: Path, db_dir: Path) -> None:
    (tree / "notes.txt").write_text("not DICOM at all\n")
    (tree / "empty.dcm").write_bytes(b"")
    good = (tree / "patientP1-0001" / "s0" / "IM00000").read_bytes()
    cut = good.index(b"\xe0\x7f\x10\x00") - 3  # inside the last element before Pixel Data
    (tree / "truncated.dcm").write_bytes(good[:cut])
    no_uid = factories.make_instance(7, 1, 1, SeriesInstanceUID=None)
    no_uid.save_as(tree / "no-series-uid.dcm", enforce_file_format=True)
    bad_uid = factories.make_instance(7, 1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UID we want
        bad_uid.StudyInstanceUID = "1.2.abc"
        bad_uid.save_as(tree / "bad-uid.dcm", enforce_file_format=True)
    with _client(tree, db_dir) as client:
        rejected = {r.path: r.reason for r in client.rejected()}
        assert client.ctx.repo.counts()["instances"] == 12
    assert sorted(rejected) == [
        "bad-uid.dcm", "empty.dcm", "no-series-uid.dcm", "notes.txt", "truncated.dcm",
    ]
    assert rejected["notes.txt"] == "not a DICOM file (no DICM prefix, no data set)"
    assert rejected["empty.dcm"] == "not a DICOM file (empty)"
    assert rejected["no-series-uid.dcm"] == "no SeriesInstanceUID"
    assert rejected["bad-uid.dcm"] == "invalid StudyInstanceUID '1.2.abc'"
    assert rejected["truncated.dcm"].startswith("truncated: element ")
    assert all("\n" not in reason for reason in rejected.values())


def test_unchanged_rejected_files_are_not_read_again(tree: Path, db_dir: Path) -> None:
    (tree / "notes.txt").write_text("x")
    with _client(tree, db_dir) as client:
        report = client.sync()
        assert report.rejected == [Rejection("notes.txt", "not a DICOM file (empty)")] or (
            report.rejected == [
                Rejection("notes.txt", "not a DICOM file (no DICM prefix, no data set)")
            ]
        )
        assert (report.added, report.updated, report.unchanged) == (0, 0, 12)
        # Replaced by a DICOM file of a new size: read again and indexed.
        factories.make_instance(8, 1, 1).save_as(tree / "notes.txt", enforce_file_format=True)
        report = client.sync()
        assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 12)
        assert report.rejected == []


def test_duplicates_keep_the_smallest_path_across_syncs(tree: Path, db_dir: Path) -> None:
    original = "patientP1-0001/s0/IM00000"
    shutil.copy(tree / original, tree / "zz-copy.dcm")
    with _client(tree, db_dir) as client:
        assert client.rejected() == [Rejection("zz-copy.dcm", f"duplicate of {original}")]
        sop = factories.sop_uid(1, 1, 1)
        assert client.ctx.repo.path_of_sop(sop) == original
        # A smaller path appears later: it takes over, the old one becomes the duplicate.
        shutil.copy(tree / original, tree / "aa-copy.dcm")
        report = client.sync()
        assert (report.added, report.unchanged) == (1, 11)
        assert client.ctx.repo.path_of_sop(sop) == "aa-copy.dcm"
        assert client.rejected() == [
            Rejection(original, "duplicate of aa-copy.dcm"),
            Rejection("zz-copy.dcm", f"duplicate of {original}"),
        ]
        # The kept file goes: the smallest remaining path is indexed again.
        (tree / "aa-copy.dcm").unlink()
        report = client.sync()
        assert (report.removed, report.updated) == (1, 1)
        assert client.ctx.repo.path_of_sop(sop) == original
        assert client.rejected() == [Rejection("zz-copy.dcm", f"duplicate of {original}")]
        assert client.ctx.repo.counts()["instances"] == 12


def test_symlinks(tree: Path, db_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.dcm"
    factories.make_instance(6, 1, 1).save_as(outside, enforce_file_format=True)
    (tree / "to-outside.dcm").symlink_to(outside)
    (tree / "inside-link.dcm").symlink_to(tree / "patientP1-0001" / "s0" / "IM00000")
    (tree / "dir-link").symlink_to(tree / "patientP1-0001")
    (tree / "loop").symlink_to(tree / "loop")
    (tree / "dangling").symlink_to(tree / "nowhere")
    with _client(tree, db_dir) as client:
        assert {r.path: r.reason for r in client.rejected()} == {
            "dangling": "broken symlink: target does not exist",
            "loop": "symlink loop: not followed",
            "to-outside.dcm": "symlink to outside the root: not followed",
        }
        assert client.ctx.repo.counts()["instances"] == 12
        assert client.sync().unchanged == 12


def test_dicomfs_folder_is_never_indexed(tree: Path) -> None:
    (tree / ".dicomfs").mkdir()
    factories.make_instance(6, 1, 1).save_as(tree / ".dicomfs" / "x.dcm", enforce_file_format=True)
    with dicomfs.DICOMfileClient(tree, workers=1) as client:
        assert client.ctx.repo.counts()["instances"] == 12
        assert client.rejected() == []
        assert client.ctx.repo.path_of_sop(factories.sop_uid(6, 1, 1)) is None


def test_file_without_file_meta_is_indexed(tree: Path, db_dir: Path) -> None:
    ds = factories.make_instance(6, 1, 1)
    del ds.file_meta
    ds.save_as(tree / "raw.dcm", implicit_vr=True, little_endian=True)
    assert len(dcmread(tree / "raw.dcm", force=True).file_meta) == 0
    with _client(tree, db_dir) as client:
        stored = client.ctx.repo.instance(
            factories.study_uid(6), factories.series_uid(6, 1), factories.sop_uid(6, 1, 1)
        )
    assert stored.has_file_meta is False
    assert stored.transfer_syntax_uid == "1.2.840.10008.1.2"
    data = (tree / "raw.dcm").read_bytes()
    assert stored.pixel_data_offset is not None
    assert data[stored.pixel_data_offset : stored.pixel_data_offset + 32] == ds.PixelData


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_rejected(tree: Path, db_dir: Path) -> None:
    path = tree / "secret.dcm"
    factories.make_instance(6, 1, 1).save_as(path, enforce_file_format=True)
    path.chmod(0)
    try:
        with _client(tree, db_dir) as client:
            assert client.rejected() == [Rejection("secret.dcm", "unreadable: Permission denied")]
    finally:
        path.chmod(0o644)


def test_parallel_build_equals_serial_build(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    datasets = [factories.make_instance(s, 1, i) for s in range(1, 4) for i in range(1, 81)]
    factories.write_datasets(root, datasets, layout="flat")
    shutil.copy(root / "IMG00000.dcm", root / "IMG99999.dcm")
    (root / "junk.bin").write_bytes(b"\x00" * 10)
    states = []
    for workers in (1, 2):
        with dicomfs.DICOMfileClient(
            root, db_dir=tmp_path / f"db{workers}", workers=workers
        ) as client:
            states.append((client.ctx.repo.counts(), client.rejected()))
    assert states[0] == states[1]
    assert states[0][0] == {"studies": 3, "series": 3, "instances": 240, "rejected": 2}


def test_sync_skips_the_names_the_watcher_ignores(tmp_path: Path) -> None:
    """Hidden files, copy-tool partials and VCS folders are not indexed, as the watcher never
    acts on them (a watched store and a rebuilt one agree); a file named 4913 is an instance."""
    from dicomfs.file.client import DICOMfileClient

    names = [".hidden.dcm", "x.dcm.part", ".git/a.dcm", ".rejected/b.dcm", "4913", "c~"]
    for n, name in enumerate(names, 1):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        factories.make_instance(1, 1, n).save_as(path, enforce_file_format=True)
    with DICOMfileClient(tmp_path, in_memory=True, workers=1) as client:
        found = [r["00080018"]["Value"][0] for r in client.search_for_instances()]
        assert found == [factories.sop_uid(1, 1, 5)]
        assert client.rejected() == []
