"""The watch loop with a real observer (native events and polling), bounded by timeouts."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import factories
import pytest
from watchkit import LoopThread, wait_for

from dicomfs.file.client import DICOMfileClient
from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.observer import FolderObserver
from dicomfs.watch.runner import InboxHandler, IndexKeeper, WatchOptions, run

FAST = WatchOptions(poll_interval=0.1, settle=0.3, tick=0.05)
FAST_POLL = WatchOptions(poll=True, poll_interval=0.1, settle=0.3, tick=0.05)


def _instances(root: Path) -> list[str]:
    with DICOMfileClient(root) as client:
        return sorted(r["00080018"]["Value"][0] for r in client.search_for_instances())


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("options", [FAST, FAST_POLL], ids=["native", "poll"])
def test_inbox_is_ingested_and_emptied(tmp_path: Path, options: WatchOptions) -> None:
    """Files already there (catch-up), copied in, renamed into place or written slowly are all
    stored once and removed; a text file goes to .rejected/ (I-01, I-17)."""
    inbox, root = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    factories.make_instance(1, 1, 1).save_as(inbox / "before", enforce_file_format=True)
    events: list[WatchEvent] = []
    with DICOMfileClient(root) as store:
        handler = InboxHandler(inbox, store, events.append)
        loop = LoopThread(lambda stop, started: run(inbox, handler, stop, options,
                                                    started=started))
        try:
            source = tmp_path / "src"
            source.mkdir()
            factories.make_instance(1, 1, 2).save_as(source / "IM2", enforce_file_format=True)
            shutil.copy(source / "IM2", inbox / "copied")
            factories.make_instance(1, 1, 3).save_as(inbox / ".IM3.part",
                                                     enforce_file_format=True)
            os.rename(inbox / ".IM3.part", inbox / "renamed")
            data = (source / "IM2").read_bytes()
            big = factories.make_instance(1, 1, 4, rows=32, columns=32)
            big.save_as(source / "IM4", enforce_file_format=True)
            data = (source / "IM4").read_bytes()
            (inbox / "sub").mkdir()
            with open(inbox / "sub" / "slow", "wb") as out:
                for start in range(0, len(data), 512):
                    out.write(data[start:start + 512])
                    out.flush()
                    time.sleep(0.02)
            (inbox / "readme.txt").write_text("hello\n")
            wait_for(lambda: sorted(e.path for e in events if e.action != "retry") == [
                "before", "copied", "readme.txt", "renamed", "sub/slow"], what="5 events")
        finally:
            loop.stop()
    assert _instances(root) == [factories.sop_uid(1, 1, i) for i in (1, 2, 3, 4)]
    assert _files(inbox) == [".rejected/readme.txt", ".rejected/readme.txt.reason"]


def test_index_follows_the_tree(tmp_path: Path) -> None:
    """`watch ROOT`: files added, moved and deleted under the root show in the index."""
    root = tmp_path / "store"
    root.mkdir()
    factories.make_instance(1, 1, 1).save_as(root / "old", enforce_file_format=True)
    events: list[WatchEvent] = []
    with DICOMfileClient(root) as client:
        keeper = IndexKeeper(client, events.append)
        loop = LoopThread(lambda stop, started: run(root, keeper, stop, FAST, started=started))
        try:
            assert _instances(root) == [factories.sop_uid(1, 1, 1)]  # caught up on start
            (root / "a").mkdir()
            factories.make_instance(1, 1, 2).save_as(root / "a" / "IM2",
                                                     enforce_file_format=True)
            wait_for(lambda: len(_instances(root)) == 2, what="IM2 indexed")
            os.rename(root / "a" / "IM2", root / "IM2-moved")
            wait_for(lambda: ("removed", "a/IM2") in [(e.action, e.path) for e in events],
                     what="a/IM2 removed")
            wait_for(lambda: ("indexed", "IM2-moved") in [(e.action, e.path) for e in events],
                     what="IM2-moved indexed")
            (root / "old").unlink()
            wait_for(lambda: _instances(root) == [factories.sop_uid(1, 1, 2)], what="old gone")
            with DICOMfileClient(root) as reader:
                assert reader.ctx.repo.file_states().keys() == {"IM2-moved"}
        finally:
            loop.stop()


def test_folder_observer_reports_relative_changes(tmp_path: Path) -> None:
    """The adapter turns watchdog events into relative Change values and stops its threads."""
    before = set(threading.enumerate())
    with FolderObserver(tmp_path) as observer:
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "f").write_bytes(b"x")
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while "d/f" not in seen and time.monotonic() < deadline:
            seen += [c.path for c in observer.next_batch(0.1)]
    assert "d/f" in seen
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []


def test_folder_observer_refuses_a_missing_folder(tmp_path: Path) -> None:
    """Inputs are validated at the entry point."""
    with pytest.raises(NotADirectoryError):
        FolderObserver(tmp_path / "missing")


@pytest.mark.parametrize("options", [FAST, FAST_POLL], ids=["native", "poll"])
def test_inbox_moves_links_and_fifos_aside(tmp_path: Path, options: WatchOptions) -> None:
    """A symbolic link (its target never read) and a FIFO dropped into a watched inbox, one
    there at start and one arriving later, are moved to .rejected/ with their reason; they
    stayed in the inbox for ever, without an event (the loop saw regular files only)."""
    inbox, root = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    target = tmp_path / "elsewhere.dcm"
    factories.make_instance(1, 1, 1).save_as(target, enforce_file_format=True)
    (inbox / "early-link").symlink_to(target)
    events: list[WatchEvent] = []
    with DICOMfileClient(root) as store:
        handler = InboxHandler(inbox, store, events.append)
        loop = LoopThread(lambda stop, started: run(inbox, handler, stop, options,
                                                    started=started))
        try:
            os.mkfifo(inbox / "pipe")
            wait_for(lambda: sorted(e.path for e in events if e.action == "rejected") == [
                "early-link", "pipe"], what="2 rejections")
        finally:
            loop.stop()
    assert _instances(root) == []
    assert (inbox / ".rejected" / "early-link").is_symlink() and target.is_file()
    assert sorted(p.name for p in inbox.iterdir()) == [".rejected"]
