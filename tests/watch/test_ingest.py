"""Ingesting an inbox into a store (dicomfs.watch.ingest.Inbox), without an observer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import factories
import pytest
from pydicom.dataset import Dataset

from dicomfs.file.client import DICOMfileClient
from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.ingest import Inbox
from dicomfs.watch.sync import WatchState


def _write(path: Path, ds: Dataset) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path.read_bytes()


def _sops(client: DICOMfileClient) -> list[str]:
    return sorted(r["00080018"]["Value"][0] for r in client.search_for_instances())


def test_good_files_are_stored_and_removed_bad_ones_rejected(tmp_path: Path) -> None:
    """Complete instances are stored (I-01, I-17: searchable at once) and leave the inbox; a
    non-DICOM file and an old truncated file go to .rejected/ with a .reason beside each."""
    inbox, root = tmp_path / "inbox", tmp_path / "store"
    good = [factories.make_instance(1, 1, i) for i in (1, 2)]
    _write(inbox / "a" / "IM1", good[0])
    _write(inbox / "IM2.dcm", good[1])
    (inbox / "notes.txt").write_text("not dicom\n")
    data = _write(inbox / "cut.dcm", factories.make_instance(1, 1, 3, rows=16, columns=16))
    (inbox / "cut.dcm").write_bytes(data[:-100])
    old = time.time() - 3600
    os.utime(inbox / "cut.dcm", (old, old))
    events: list[WatchEvent] = []
    with DICOMfileClient(root) as store:
        box = Inbox(inbox, store, report=events.append)
        result = box.ingest(["IM2.dcm", "a/IM1", "cut.dcm", "notes.txt"], WatchState(), 0.0)
        assert _sops(store) == [factories.sop_uid(1, 1, 1), factories.sop_uid(1, 1, 2)]
    assert result == events
    assert [(e.action, e.path) for e in events] == [
        ("rejected", "cut.dcm"),
        ("rejected", "notes.txt"),
        ("stored", "IM2.dcm"),
        ("stored", "a/IM1"),
    ]
    assert events[0].reason == "truncated: element (7FE0,0010) has 412 of 512 bytes"
    assert events[1].reason == "not a DICOM file (no DICM prefix)"
    remaining = sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())
    assert remaining == [
        ".rejected/cut.dcm",
        ".rejected/cut.dcm.reason",
        ".rejected/notes.txt",
        ".rejected/notes.txt.reason",
    ]
    assert (inbox / ".rejected/notes.txt.reason").read_text() == (
        "not a DICOM file (no DICM prefix)\n"
    )


def test_a_young_truncated_file_is_retried_not_rejected(tmp_path: Path) -> None:
    """A file that ends early but was just written may still be growing: retry it later."""
    inbox = tmp_path / "inbox"
    data = _write(inbox / "IM1", factories.make_instance(1, 1, 1, rows=16, columns=16))
    (inbox / "IM1").write_bytes(data[:-64])
    state = WatchState()
    with DICOMfileClient(tmp_path / "store") as store:
        events = Inbox(inbox, store, retry_delay=5.0).ingest(["IM1"], state, now=100.0)
        assert [(e.action, e.path) for e in events] == [("retry", "IM1")]
        assert state.pending["IM1"].not_before == 105.0
        assert (inbox / "IM1").exists()
        assert _sops(store) == []


def test_a_file_missing_uids_is_rejected_when_old(tmp_path: Path) -> None:
    """An instance without SOPInstanceUID cannot be stored (I-12)."""
    inbox = tmp_path / "inbox"
    ds = factories.make_instance(1, 1, 1)
    del ds.SOPInstanceUID
    _write(inbox / "IM1", ds)
    old = time.time() - 3600
    os.utime(inbox / "IM1", (old, old))
    with DICOMfileClient(tmp_path / "store") as store:
        events = Inbox(inbox, store).ingest(["IM1"], WatchState(), 0.0)
    assert [(e.action, e.reason) for e in events] == [("rejected", "missing SOPInstanceUID")]


def test_the_same_instance_twice_is_stored_once(tmp_path: Path) -> None:
    """Two inbox files with one SOP Instance UID: one instance in the store (I-10)."""
    inbox = tmp_path / "inbox"
    ds = factories.make_instance(2, 1, 1)
    _write(inbox / "x/IM1", ds)
    _write(inbox / "y/IM1", ds)
    with DICOMfileClient(tmp_path / "store") as store:
        events = Inbox(inbox, store).ingest(["x/IM1", "y/IM1"], WatchState(), 0.0)
        assert _sops(store) == [factories.sop_uid(2, 1, 1)]
    assert [e.action for e in events] == ["stored", "stored"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs and symbolic links")
def test_links_and_fifos_are_never_read(tmp_path: Path) -> None:
    """A symbolic link or a FIFO under a complete file's name is never read (the link's target
    is not opened, the FIFO not waited on) nor stored: each is moved aside to .rejected with a
    reason (they stayed in the inbox for ever, without a word); the link's target is untouched."""
    inbox = tmp_path / "inbox"
    target = tmp_path / "elsewhere" / "IM1"
    content = _write(target, factories.make_instance(1, 1, 1))
    inbox.mkdir()
    (inbox / "link").symlink_to(target)
    os.mkfifo(inbox / "fifo")
    retries: list[str] = []
    with DICOMfileClient(tmp_path / "store") as store:
        box = Inbox(inbox, store)
        events = [box.read(name, lambda relpath, stat, delay: retries.append(relpath))[0]
                  for name in ("link", "fifo")]
        assert _sops(store) == []
    assert [(e.action, e.path, e.reason) for e in events if e is not None] == [
        ("rejected", "link", "a symbolic link (its target is not read)"),
        ("rejected", "fifo", "not a regular file"),
    ]
    assert retries == []
    assert (inbox / ".rejected" / "link").is_symlink()
    assert target.read_bytes() == content
    assert sorted(p.name for p in inbox.iterdir()) == [".rejected"]


def test_a_data_set_without_preamble_is_stored(tmp_path: Path) -> None:
    """A bare data set (no preamble, no File Meta), as old devices write and as ``sync`` and
    ``dicomfs store`` take, is stored from the inbox too (it went to .rejected)."""
    from io import BytesIO

    inbox, root = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    ds = factories.make_instance(1, 1, 7)
    del ds.file_meta
    buffer = BytesIO()
    ds.save_as(buffer, implicit_vr=True, little_endian=True)  # no preamble, no File Meta
    assert buffer.getvalue()[128:132] != b"DICM"
    (inbox / "bare").write_bytes(buffer.getvalue())
    (inbox / "random").write_bytes(os.urandom(3000))
    events: list[WatchEvent] = []
    with DICOMfileClient(root) as store:
        Inbox(inbox, store, report=events.append).ingest(["bare", "random"], WatchState(), 0.0)
        assert _sops(store) == [factories.sop_uid(1, 1, 7)]
    assert [(e.action, e.path) for e in events] == [("rejected", "random"), ("stored", "bare")]
