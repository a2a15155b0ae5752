"""DICOMfileClient's constructor options, sync/rejected/close, pickling (API.md)."""

from __future__ import annotations

import pickle
from pathlib import Path

import factories
import pytest

import dicomfs
from dicomfs.errors import BadRequestError
from dicomfs.index import migrate


def test_default_index_lives_under_root(tree: Path) -> None:
    with dicomfs.DICOMfileClient(tree, workers=1) as client:
        assert (tree / ".dicomfs" / "index.sqlite").is_file()
        assert client.base_url == "file://" + tree.resolve().as_posix()
        assert client.ctx.root == tree.resolve()
        assert client.ctx.readonly is False
        assert client.ctx.repo.counts()["instances"] == 12


def test_file_url_and_pathlike(tree: Path, db_dir: Path) -> None:
    with dicomfs.DICOMfileClient("file://" + tree.as_posix(), db_dir=db_dir) as client:
        assert client.ctx.root == tree.resolve()
    with dicomfs.DICOMfileClient(str(tree), db_dir=db_dir) as client:
        assert client.ctx.repo.counts()["instances"] == 12
    assert repr(client) == (
        f"DICOMfileClient('file://{tree.resolve().as_posix()}', "
        f"index='{(db_dir / 'index.sqlite').as_posix()}')"
    )


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="not a file URL"):
        dicomfs.DICOMfileClient("http://example.org/dicom")
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadRequestError, match="is not a folder"):
        dicomfs.DICOMfileClient(tmp_path / "f", db_dir=tmp_path / "db")
    with pytest.raises(BadRequestError, match="does not exist"):
        dicomfs.DICOMfileClient(tmp_path / "missing", readonly=True, in_memory=True)
    with pytest.raises(BadRequestError, match="workers must be at least 1"):
        dicomfs.DICOMfileClient(tmp_path / "empty", workers=0)


def test_missing_root_is_created_when_writable(tmp_path: Path) -> None:
    with dicomfs.DICOMfileClient(tmp_path / "a" / "b") as client:
        assert (tmp_path / "a" / "b").is_dir()
        assert client.ctx.repo.counts()["instances"] == 0


def test_existing_index_is_not_walked_without_update_db(tree: Path, db_dir: Path) -> None:
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, workers=1):
        pass
    factories.make_instance(9, 1, 1).save_as(tree / "late.dcm", enforce_file_format=True)
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir) as client:
        assert client.ctx.repo.counts()["instances"] == 12
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, update_db=True, workers=1) as client:
        assert client.ctx.repo.counts()["instances"] == 13


def test_recreate_db_rebuilds(tree: Path, db_dir: Path) -> None:
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, workers=1) as client:
        client.ctx.repo.remove_paths(["patientP1-0001/s0/IM00000"])
        assert client.ctx.repo.counts()["instances"] == 11
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, recreate_db=True, workers=1) as client:
        assert client.ctx.repo.counts()["instances"] == 12


def test_in_memory(tree: Path) -> None:
    with dicomfs.DICOMfileClient(tree, in_memory=True, readonly=True) as client:
        assert client.ctx.repo.counts()["instances"] == 12
        assert client.ctx.readonly is True
    assert not (tree / ".dicomfs").exists()


def test_db_url_wins(tree: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    with dicomfs.DICOMfileClient(tree, db_url=url, in_memory=True, db_dir=tmp_path / "x") as c:
        assert c.ctx.repo.counts()["instances"] == 12
        assert migrate.current_revision(c.ctx.repo.engine) == migrate.head_revision()
    assert (tmp_path / "other.sqlite").is_file()
    assert not (tmp_path / "x").exists()


def test_readonly_writes_nothing_under_root(tree: Path, db_dir: Path) -> None:
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, readonly=True) as client:
        assert client.ctx.readonly is True
        client.sync()
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before
    with pytest.raises(BadRequestError, match="read-only store writes nothing under its root"):
        dicomfs.DICOMfileClient(tree, readonly=True)
    with pytest.raises(BadRequestError, match="read-only store writes nothing under its root"):
        dicomfs.DICOMfileClient(tree, db_dir=tree / "idx", readonly=True)


def test_pickle_reopens_without_syncing(tree: Path, db_dir: Path) -> None:
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, workers=1) as client:
        factories.make_instance(9, 1, 1).save_as(tree / "late.dcm", enforce_file_format=True)
        copy = pickle.loads(pickle.dumps(client))
        try:
            assert copy.ctx.root == client.ctx.root
            assert copy.base_url == client.base_url
            assert copy.ctx.repo.counts()["instances"] == 12
        finally:
            copy.close()


def test_pickled_in_memory_client_builds_its_own_index(tree: Path) -> None:
    with dicomfs.DICOMfileClient(tree, in_memory=True, workers=1) as client:
        copy = pickle.loads(pickle.dumps(client))
        with copy:
            assert copy.ctx.repo.counts()["instances"] == 12


def test_close_is_idempotent(tree: Path, db_dir: Path) -> None:
    client = dicomfs.DICOMfileClient(tree, db_dir=db_dir, workers=1)
    client.close()
    client.close()


def test_progress_bar(tree: Path, db_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, progress=True, workers=1) as client:
        assert client.rejected() == []
    assert "indexing" in capsys.readouterr().err


def test_last_sync_reports_the_constructor_sync(tree: Path, db_dir: Path) -> None:
    """The first open builds the index and keeps its report; a plain re-open walks nothing."""
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir) as client:
        assert client.last_sync is not None
        assert (client.last_sync.added, client.last_sync.unchanged) == (12, 0)
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir) as client:
        assert client.last_sync is None
    with dicomfs.DICOMfileClient(tree, db_dir=db_dir, update_db=True) as client:
        assert client.last_sync is not None
        assert (client.last_sync.added, client.last_sync.unchanged) == (0, 12)
