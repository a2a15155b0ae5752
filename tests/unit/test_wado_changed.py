"""A read that meets a file changed since its index row was read (dicomfs/file/wado.py _current)."""

from __future__ import annotations

from pathlib import Path

import factories
import pytest

import dicomfs
from dicomfs.file import wado
from dicomfs.storage.safefile import FileChangedError

UIDS = (factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1))


def test_replaced_by_a_concurrent_store_is_read_from_the_fresh_row(tmp_path: Path) -> None:
    """A row read before another STOW replaced the file: the read follows the new row."""
    with dicomfs.DICOMfileClient(tmp_path / "store") as client:
        client.store_instances([factories.make_instance(rows=4, columns=4)])
        stale = client.ctx.repo.instance(*UIDS)
        client.store_instances([factories.make_instance(rows=8, columns=8)])  # replaces the file
        ds = wado._current(client.ctx, stale, lambda inst: wado._read(client.ctx, inst))
        assert (ds.Rows, ds.Columns) == (8, 8)


def test_changed_behind_the_store_fails_at_once(tmp_path: Path) -> None:
    """A file rewritten outside dicomfs (same size, new mtime): CorruptFileError (the index row
    did not move, so there is no writer to wait for)."""
    with dicomfs.DICOMfileClient(tmp_path / "store") as client:
        client.store_instances([factories.make_instance()])
        path = client.ctx.root / client.ctx.repo.instance(*UIDS).path
        data = path.read_bytes()
        path.write_bytes(data[:-2] + b"\x00\x00")
        with pytest.raises(FileChangedError):
            client.retrieve_instance_frames(*UIDS, [1])
        assert isinstance(FileChangedError("x"), dicomfs.errors.CorruptFileError)
