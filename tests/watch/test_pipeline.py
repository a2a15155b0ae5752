"""The inbox pipeline: reading in the loop's thread, storing in batches in a worker thread.

A gated store (``store_instances`` waits until the test opens the gate) makes the interleavings
deterministic: what is read while a batch is being stored, and what comes back complete again
while its attempt is in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import factories
import pytest
from pydicom.dataset import Dataset
from watchkit import wait_for

from dicomfs.errors import ServerError
from dicomfs.file.client import DICOMfileClient
from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.ingest import Inbox
from dicomfs.watch.pipeline import InboxPipeline
from dicomfs.watch.sync import LocalFilesystem, Plan, WatchState, reconcile


class GatedStore:
    """Forwards to a real store; each call waits for ``gate``, is recorded, and raises
    ``error`` while it is set."""

    def __init__(self, store: DICOMfileClient, *, error: BaseException | None = None) -> None:
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []
        self.error = error

    def store_instances(self, datasets: Sequence[Dataset], study_instance_uid: Any = None,
                        additional_params: Any = None) -> Dataset:
        self.calls.append([str(ds.SOPInstanceUID) for ds in datasets])
        self.entered.set()
        if not self.gate.wait(20):
            raise AssertionError("the test never opened the gate")
        if self.error is not None:
            raise self.error
        return self.store.store_instances(datasets, study_instance_uid)


def _write(inbox: Path, name: str, n: int) -> None:
    path = inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    factories.make_instance(3, 1, n, rows=8, columns=8).save_as(path, enforce_file_format=True)


def _sop(n: int) -> str:
    return factories.sop_uid(3, 1, n)


def _stored(events: list[WatchEvent]) -> list[str]:
    return sorted(e.path for e in events if e.action == "stored")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def test_files_read_during_a_store_share_the_next_call(inbox: Path, tmp_path: Path) -> None:
    """Everything read while a batch is stored goes into one next store call; each instance is
    sent once, stored (searchable, I-17) and removed from the inbox."""
    events: list[WatchEvent] = []
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store)
        pipeline = InboxPipeline(Inbox(inbox, target), events.append)  # type: ignore[arg-type]
        state = WatchState()
        try:
            _write(inbox, "IM1", 1)
            pipeline.apply(Plan(ready=["IM1"]), state, 0.0)
            assert target.entered.wait(20)
            for n in (2, 3, 4):
                _write(inbox, f"IM{n}", n)
            pipeline.apply(Plan(ready=["IM2", "IM3", "IM4"]), state, 0.1)
            target.gate.set()
            wait_for(lambda: len(_stored(events)) == 4, what="4 stored")
            pipeline.collect(state, 0.2)
        finally:
            target.gate.set()
            pipeline.close()
        assert target.calls == [[_sop(1)], [_sop(2), _sop(3), _sop(4)]]
        assert sorted(r["00080018"]["Value"][0] for r in store.search_for_instances()) == [
            _sop(n) for n in (1, 2, 3, 4)
        ]
    assert _stored(events) == ["IM1", "IM2", "IM3", "IM4"]
    assert state.pending == {}
    assert list(inbox.iterdir()) == []


def test_a_file_complete_again_while_in_flight_is_sent_once(inbox: Path, tmp_path: Path) -> None:
    """A file reported complete a second time while its batch is stored (the catch-up and a
    close event both saw it) is not read nor sent again: exactly once (I-10)."""
    events: list[WatchEvent] = []
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store)
        pipeline = InboxPipeline(Inbox(inbox, target), events.append)  # type: ignore[arg-type]
        state = WatchState()
        try:
            _write(inbox, "a/IM1", 1)
            pipeline.apply(Plan(ready=["a/IM1"]), state, 0.0)
            assert target.entered.wait(20)
            pipeline.apply(Plan(ready=["a/IM1"]), state, 0.1)
            target.gate.set()
            wait_for(lambda: _stored(events) == ["a/IM1"], what="a/IM1 stored")
            pipeline.collect(state, 0.2)
            assert state.pending == {}  # gone once stored: nothing to look at again
            fs = LocalFilesystem(inbox)
            assert reconcile(state, [], 5.0, fs) == Plan()
        finally:
            target.gate.set()
            pipeline.close()
    assert target.calls == [[_sop(1)]]
    assert [(e.action, e.path) for e in events] == [("stored", "a/IM1")]


def test_a_file_rewritten_while_in_flight_is_stored_again(inbox: Path, tmp_path: Path) -> None:
    """A file rewritten after it was read is not removed: it is taken again, with its new
    content, once it completes (never lost)."""
    events: list[WatchEvent] = []
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store)
        pipeline = InboxPipeline(Inbox(inbox, target), events.append)  # type: ignore[arg-type]
        state = WatchState()
        fs = LocalFilesystem(inbox)
        try:
            _write(inbox, "IM1", 1)
            pipeline.apply(Plan(ready=["IM1"]), state, 0.0)
            assert target.entered.wait(20)
            factories.make_instance(3, 1, 2, rows=16, columns=16).save_as(
                inbox / "IM1", enforce_file_format=True
            )
            target.gate.set()
            wait_for(lambda: [e.action for e in events] == ["retry"], what="a retry")
            pipeline.collect(state, 1.0)
            plan = reconcile(state, [], 1.0, fs)
            assert plan == Plan(ready=["IM1"])
            pipeline.apply(plan, state, 1.0)
            wait_for(lambda: _stored(events) == ["IM1"], what="IM1 stored")
        finally:
            target.gate.set()
            pipeline.close()
    assert target.calls == [[_sop(1)], [_sop(2)]]
    assert [(e.action, e.reason) for e in events] == [
        ("retry", "changed after it was stored"),
        ("stored", ""),
    ]
    assert list(inbox.iterdir()) == []


def test_a_store_down_keeps_the_files_for_later(inbox: Path, tmp_path: Path) -> None:
    """A passing failure of the store keeps every file of the batch in the inbox and retries
    it after the delay; nothing is removed before it was stored."""
    events: list[WatchEvent] = []
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store, error=ServerError("503 busy"))
        target.gate.set()
        pipeline = InboxPipeline(Inbox(inbox, target, retry_delay=2.0),  # type: ignore[arg-type]
                                 events.append)
        state = WatchState()
        fs = LocalFilesystem(inbox)
        try:
            _write(inbox, "IM1", 1)
            _write(inbox, "IM2", 2)
            pipeline.apply(Plan(ready=["IM1", "IM2"]), state, 0.0)
            wait_for(lambda: len(events) == 2, what="2 retries")
            assert sorted(p.name for p in inbox.iterdir()) == ["IM1", "IM2"]
            pipeline.collect(state, 0.5)
            target.error = None
            assert reconcile(state, [], 2.4, fs) == Plan()
            plan = reconcile(state, [], 2.5, fs)
            assert plan == Plan(ready=["IM1", "IM2"])
            pipeline.apply(plan, state, 2.5)
            wait_for(lambda: _stored(events) == ["IM1", "IM2"], what="2 stored")
        finally:
            pipeline.close()
    # how the four sends group into calls depends on when the worker wakes up
    assert sorted(sop for call in target.calls for sop in call) == [_sop(1), _sop(1), _sop(2),
                                                                     _sop(2)]
    assert [e.action for e in events] == ["retry", "retry", "stored", "stored"]
    assert list(inbox.iterdir()) == []


def test_a_batch_is_bounded_in_bytes(inbox: Path, tmp_path: Path) -> None:
    """Past ``max_bytes`` read ahead, complete files are left for a later round (memory stays
    bounded), and each store call holds at most ``max_bytes`` (at least one file)."""
    events: list[WatchEvent] = []
    for n in (1, 2, 3):
        _write(inbox, f"IM{n}", n)
    size = (inbox / "IM1").stat().st_size
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store)
        pipeline = InboxPipeline(Inbox(inbox, target), events.append,  # type: ignore[arg-type]
                                 max_bytes=size)
        state = WatchState()
        fs = LocalFilesystem(inbox)
        try:
            pipeline.apply(Plan(ready=["IM1"]), state, 0.0)
            assert target.entered.wait(20)
            pipeline.apply(Plan(ready=["IM2", "IM3"]), state, 0.0)
            # IM1 is being stored, IM2 waits (read ahead), IM3 was put back for retry_delay
            assert sorted(state.pending) == ["IM3"]
            target.gate.set()
            wait_for(lambda: _stored(events) == ["IM1", "IM2"], what="2 stored")
            pipeline.collect(state, 0.1)
            assert reconcile(state, [], 0.9, fs) == Plan()
            plan = reconcile(state, [], 1.0, fs)
            assert plan == Plan(ready=["IM3"])
            pipeline.apply(plan, state, 1.0)
            wait_for(lambda: len(_stored(events)) == 3, what="3 stored")
        finally:
            target.gate.set()
            pipeline.close()
    assert target.calls == [[_sop(1)], [_sop(2)], [_sop(3)]]


def test_a_failing_store_stops_the_pipeline_with_its_error(inbox: Path, tmp_path: Path) -> None:
    """An unexpected error of the store reaches the loop's thread; the files stay in the inbox
    and the worker thread is joined."""
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store, error=RuntimeError("index exploded"))
        target.gate.set()
        pipeline = InboxPipeline(Inbox(inbox, target))  # type: ignore[arg-type]
        state = WatchState()
        _write(inbox, "IM1", 1)
        pipeline.apply(Plan(ready=["IM1"]), state, 0.0)
        with pytest.raises(RuntimeError, match="index exploded"):
            wait_for(lambda: pipeline.collect(state, 0.1) is not None, what="the error")
        pipeline.close()
    assert [t.name for t in threading.enumerate() if t.name == "dicomfs-watch-store"] == []
    assert [p.name for p in inbox.iterdir()] == ["IM1"]


def test_close_finishes_the_batch_in_progress(inbox: Path, tmp_path: Path) -> None:
    """Stopping while a batch is stored lets it finish (stored, then removed); files only read
    are left in the inbox for the next start."""
    events: list[WatchEvent] = []
    with DICOMfileClient(tmp_path / "store") as store:
        target = GatedStore(store)
        pipeline = InboxPipeline(Inbox(inbox, target), events.append)  # type: ignore[arg-type]
        state = WatchState()
        _write(inbox, "IM1", 1)
        _write(inbox, "IM2", 2)
        pipeline.apply(Plan(ready=["IM1"]), state, 0.0)
        assert target.entered.wait(20)
        pipeline.apply(Plan(ready=["IM2"]), state, 0.1)
        closing = threading.Thread(target=pipeline.close)
        closing.start()
        target.gate.set()
        closing.join(20)
        assert not closing.is_alive()
    assert target.calls == [[_sop(1)]]
    assert [(e.action, e.path) for e in events] == [("stored", "IM1")]
    assert [p.name for p in inbox.iterdir()] == ["IM2"]
