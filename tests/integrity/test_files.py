"""What STOW and delete do to the tree: layout, File Meta, read-only, disk full, path safety."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

import dicomfs
from dicomfs.errors import BadRequestError, NotFoundError, ReadOnlyError
from dicomfs.file import stow
from dicomfs.storage import atomic, check

sys.path.insert(0, str(Path(__file__).parents[1]))

import factories

S1, SE1 = factories.study_uid(1), factories.series_uid(1, 1)


def _tree(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.relative_to(root).parts[0] != ".dicomfs"
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[dicomfs.DICOMfileClient]:
    with dicomfs.DICOMfileClient(tmp_path / "store") as c:
        yield c


def test_layout_and_file_meta(client: dicomfs.DICOMfileClient) -> None:
    """Files go to <root>/<Study>/<Series>/<SOP>.dcm with File Meta made by dicomfs."""
    ds = factories.make_instance(1, 1, 1)
    client.store_instances([ds])
    root = client.ctx.root
    sop = factories.sop_uid(1, 1, 1)
    assert _tree(root) == [S1, f"{S1}/{SE1}", f"{S1}/{SE1}/{sop}.dcm"]
    stored = dcmread(root / S1 / SE1 / f"{sop}.dcm")
    meta = stored.file_meta
    assert meta.MediaStorageSOPClassUID == factories.CT_IMAGE_STORAGE
    assert meta.MediaStorageSOPInstanceUID == sop
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert meta.ImplementationClassUID == stow.IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == stow.IMPLEMENTATION_VERSION_NAME
    assert stored.preamble == b"\x00" * 128
    assert stored.PixelData == ds.PixelData


def test_encoding_kept(client: dicomfs.DICOMfileClient) -> None:
    """The dataset's transfer syntax is kept (Implicit VR stays Implicit VR on disk)."""
    ds = factories.make_instance(1, 1, 1, transfer_syntax=ImplicitVRLittleEndian)
    client.store_instances([ds])
    stored = dcmread(client.ctx.root / S1 / SE1 / f"{factories.sop_uid(1, 1, 1)}.dcm")
    assert stored.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert stored.original_encoding == (True, True)


def test_readonly_writes_nothing(tmp_path: Path) -> None:
    """API.md: on a read-only store, store and delete raise ReadOnlyError (403); nothing written."""
    root = tmp_path / "store"
    with dicomfs.DICOMfileClient(root) as c:
        c.store_instances([factories.make_instance(1, 1, 1)])
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    with dicomfs.DICOMfileClient(root, db_dir=tmp_path / "db", readonly=True) as ro:
        with pytest.raises(ReadOnlyError) as info:
            ro.store_instances([factories.make_instance(1, 1, 2)])
        assert info.value.response.status_code == 403
        with pytest.raises(ReadOnlyError):
            ro.delete_study(S1)
        with pytest.raises(ReadOnlyError):
            ro.delete_instance(S1, SE1, factories.sop_uid(1, 1, 1))
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_disk_full_is_a700(
    client: dicomfs.DICOMfileClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """I-07: ENOSPC while writing: FailureReason A700 (42752), nothing left behind, 409."""
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1].startswith("."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell dicomfs's writes apart")
    monkeypatch.setattr(atomic.os, "write", full)
    with pytest.raises(dicomfs.errors.ConflictError) as info:
        client.store_instances([factories.make_instance(1, 1, 1)])
    (item,) = info.value.dataset.FailedSOPSequence
    assert item.FailureReason == 42752
    assert item.ReferencedSOPInstanceUID == factories.sop_uid(1, 1, 1)
    assert _tree(client.ctx.root) == [S1, f"{S1}/{SE1}"]
    assert list(atomic.iter_temporaries(client.ctx.root)) == []
    assert client.search_for_instances() == []


def test_flush_failure_fails_every_instance(
    client: dicomfs.DICOMfileClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """I-07: the disk cannot flush the batch: every instance fails, nothing is renamed or indexed."""

    def failing(staged: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "sync_staged", failing)
    datasets = [factories.make_instance(1, 1, n) for n in range(1, 6)]
    with pytest.raises(dicomfs.errors.ConflictError) as info:
        client.store_instances(datasets)
    failed = info.value.dataset.FailedSOPSequence
    assert [item.FailureReason for item in failed] == [0x0110] * 5
    assert "ReferencedSOPSequence" not in info.value.dataset
    assert _tree(client.ctx.root) == [S1, f"{S1}/{SE1}"]
    assert list(atomic.iter_temporaries(client.ctx.root)) == []
    assert client.search_for_instances() == []


def test_delete_removes_empty_folders_not_root(client: dicomfs.DICOMfileClient) -> None:
    client.store_instances([factories.make_instance(1, 1, 1), factories.make_instance(1, 2, 1)])
    root = client.ctx.root
    client.delete_instance(S1, SE1, factories.sop_uid(1, 1, 1))
    se2 = factories.series_uid(1, 2)
    assert _tree(root) == [S1, f"{S1}/{se2}", f"{S1}/{se2}/{factories.sop_uid(1, 2, 1)}.dcm"]
    client.delete_study(S1)
    assert _tree(root) == []
    assert root.is_dir() and (root / ".dicomfs").is_dir()
    assert check.check(root, client.ctx.repo).ok


def test_delete_keeps_foreign_files_and_folders(client: dicomfs.DICOMfileClient) -> None:
    """Only the instance files go; a folder with other files in it stays."""
    client.store_instances([factories.make_instance(1, 1, 1)])
    root = client.ctx.root
    (root / S1 / "notes.txt").write_text("keep me")
    client.delete_study(S1)
    assert _tree(root) == [S1, f"{S1}/notes.txt"]


def test_delete_removes_duplicate_files(tmp_path: Path) -> None:
    """A file rejected as a duplicate of a deleted instance is removed too (it would come back)."""
    root = tmp_path / "store"
    root.mkdir()
    ds = factories.make_instance(1, 1, 1)
    factories.write_datasets(root / "a", [ds], layout="flat")
    factories.write_datasets(root / "b", [ds], layout="flat")
    with dicomfs.DICOMfileClient(root) as c:
        assert [r.path for r in c.rejected()] == ["b/IMG00000.dcm"]
        c.delete_study(S1)
        assert _tree(root) == []
        c.sync()
        assert c.search_for_instances() == []


def test_store_replaces_tree_file_in_place(tmp_path: Path) -> None:
    """I-10: an instance already in the tree under its own name is replaced where it is."""
    root = tmp_path / "store"
    root.mkdir()
    factories.write_datasets(root / "in", [factories.make_instance(1, 1, 1)], layout="flat")
    with dicomfs.DICOMfileClient(root) as c:
        c.store_instances([factories.make_instance(1, 1, 1, PatientName="NEW")])
        assert _tree(root) == ["in", "in/IMG00000.dcm"]
        assert str(dcmread(root / "in" / "IMG00000.dcm").PatientName) == "NEW"
        assert c.ctx.repo.counts()["instances"] == 1
        assert check.check(root, c.ctx.repo).ok


def test_store_never_writes_through_symlink_outside(tmp_path: Path) -> None:
    """A study folder that is a symlink to outside the root is never written through."""
    root = tmp_path / "store"
    outside = tmp_path / "outside"
    outside.mkdir()
    with dicomfs.DICOMfileClient(root) as c:
        os.symlink(outside, root / S1)
        with pytest.raises(dicomfs.errors.ConflictError) as info:
            c.store_instances([factories.make_instance(1, 1, 1)])
        assert info.value.dataset.FailedSOPSequence[0].FailureReason == 0x0110
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "suffix",
    [
        "/studies/../../../etc/passwd",
        f"/studies/{S1}/series/{SE1}/instances/../../../../etc/passwd/bulk/7FE00010",
        f"/studies/{S1}/series/..%2F..%2Fetc/instances/1.2/bulk/7FE00010",
        f"/studies/{S1}/series/{SE1}/instances/{factories.sop_uid(1, 1, 1)}/bulk/../../x",
    ],
)
def test_bulkdata_url_with_dotdot(client: dicomfs.DICOMfileClient, suffix: str) -> None:
    """Bulk data URLs crafted with ../ never read a file outside the store."""
    client.store_instances([factories.make_instance(1, 1, 1)])
    with pytest.raises((BadRequestError, NotFoundError)):
        client.retrieve_bulkdata(client.base_url + suffix)


def test_check_and_repair(tmp_path: Path) -> None:
    """check finds files not indexed, rows without files, changed files and stale temporaries;
    repair fixes them all and never removes a DICOM file."""
    root = tmp_path / "store"
    with dicomfs.DICOMfileClient(root) as c:
        c.store_instances([factories.make_instance(1, 1, n) for n in (1, 2, 3)])
        repo = c.ctx.repo
        folder = root / S1 / SE1
        (folder / f"{factories.sop_uid(1, 1, 1)}.dcm").unlink()
        factories.make_instance(1, 1, 2, PatientName="X").save_as(
            folder / f"{factories.sop_uid(1, 1, 2)}.dcm", enforce_file_format=True
        )
        os.utime(folder / f"{factories.sop_uid(1, 1, 2)}.dcm", ns=(1, 1))
        factories.make_instance(1, 1, 4).save_as(folder / "extra.dcm", enforce_file_format=True)
        stale = folder / ".x.dcm.dicomfs-tmp-999999999-00"
        stale.write_bytes(b"partial")
        report = check.check(root, repo)
        assert report.not_indexed == [f"{S1}/{SE1}/extra.dcm"]
        assert report.missing_files == [f"{S1}/{SE1}/{factories.sop_uid(1, 1, 1)}.dcm"]
        assert report.changed == [f"{S1}/{SE1}/{factories.sop_uid(1, 1, 2)}.dcm"]
        assert report.stale_temporaries == [f"{S1}/{SE1}/{stale.name}"]
        assert report.ok is False and report.problems() == 4
        fixed = check.repair(root, repo)
        assert fixed.removed_temporaries == [f"{S1}/{SE1}/{stale.name}"]
        assert (fixed.sync.added, fixed.sync.updated, fixed.sync.removed) == (1, 1, 1)
        assert fixed.after.ok
        assert repo.counts()["instances"] == 3


def test_pixel_data_shorter_than_declared_is_a900(client: dicomfs.DICOMfileClient) -> None:
    """I-07: native pixel data that lacks bytes of the frames Rows x Columns x Samples x
    BitsAllocated x NumberOfFrames declare is refused (A900, Data Set does not match SOP Class)
    instead of stored and failing every frame request later; complete data beside it is stored."""
    short = factories.make_instance(1, 1, 1, rows=8, columns=8, frames=2)
    short.PixelData = short.PixelData[:-10]
    complete = factories.make_instance(1, 1, 2, rows=8, columns=8, frames=2)
    response = client.store_instances([short, complete])
    (failed,) = response.FailedSOPSequence
    assert failed.ReferencedSOPInstanceUID == factories.sop_uid(1, 1, 1)
    assert failed.FailureReason == 0xA900
    assert [item.ReferencedSOPInstanceUID for item in response.ReferencedSOPSequence] == [
        factories.sop_uid(1, 1, 2)
    ]
    assert list(atomic.iter_temporaries(client.ctx.root)) == []
    assert not (client.ctx.root / S1 / SE1 / f"{factories.sop_uid(1, 1, 1)}.dcm").exists()
