"""The reconciliation function fed scripted event batches (dicomfs.watch.sync.reconcile)."""

from __future__ import annotations

import pytest
from watchkit import FakeFilesystem

from dicomfs.watch.changes import Change, ChangeKind
from dicomfs.watch.sync import FileStat, Plan, WatchState, initial_changes, reconcile

C, M, X, D, V = (ChangeKind.CREATED, ChangeKind.MODIFIED, ChangeKind.CLOSED,
                 ChangeKind.DELETED, ChangeKind.MOVED)


def test_a_growing_file_is_ready_only_after_it_settles(fake_fs: FakeFilesystem) -> None:
    """Size and mtime must stay the same for `settle` seconds: never half-written."""
    state = WatchState()
    fake_fs.write("IM1", 100, 1)
    assert reconcile(state, [Change(C, "IM1")], 0.0, fake_fs, settle=1.0) == Plan()
    fake_fs.write("IM1", 200, 2)
    assert reconcile(state, [Change(M, "IM1")], 0.8, fake_fs, settle=1.0) == Plan()
    # no event, time passes, still growing (polling sees it)
    fake_fs.write("IM1", 300, 3)
    assert reconcile(state, [], 1.5, fake_fs, settle=1.0) == Plan()
    assert reconcile(state, [], 2.4, fake_fs, settle=1.0) == Plan()
    assert reconcile(state, [], 2.5, fake_fs, settle=1.0) == Plan(ready=["IM1"])
    assert state.pending == {}
    # reported once only
    assert reconcile(state, [], 9.0, fake_fs, settle=1.0) == Plan()


def test_a_closed_file_is_ready_at_once_unless_written_again(fake_fs: FakeFilesystem) -> None:
    """A close (IN_CLOSE_WRITE) marks the file complete; a write after the close cancels that."""
    state = WatchState()
    fake_fs.write("a/IM1", 10, 1)
    fake_fs.write("a/IM2", 10, 1)
    batch = [Change(C, "a/IM1"), Change(X, "a/IM1"),
             Change(C, "a/IM2"), Change(X, "a/IM2"), Change(M, "a/IM2")]
    assert reconcile(state, batch, 0.0, fake_fs, settle=5.0) == Plan(ready=["a/IM1"])
    assert state.pending["a/IM2"].closed is False
    fake_fs.write("a/IM2", 20, 2)
    assert reconcile(state, [Change(M, "a/IM2")], 0.1, fake_fs, settle=5.0) == Plan()
    assert reconcile(state, [Change(X, "a/IM2")], 0.2, fake_fs, settle=5.0) == Plan(
        ready=["a/IM2"]
    )


def test_deleted_and_moved_files(fake_fs: FakeFilesystem) -> None:
    """Deleted files are reported removed; a rename is a removal plus a complete file."""
    state = WatchState()
    fake_fs.write("b/IM3", 10, 1)
    batch = [Change(D, "a/IM1"), Change(V, "a/IM3", "b/IM3"), Change(V, "a/IM4", None)]
    assert reconcile(state, batch, 0.0, fake_fs) == Plan(
        ready=["b/IM3"], removed=["a/IM1", "a/IM3", "a/IM4"]
    )


def test_a_file_created_then_deleted_before_settling_is_never_ready(
    fake_fs: FakeFilesystem,
) -> None:
    """Editor and tool churn that disappears is not acted upon (only reported gone)."""
    state = WatchState()
    fake_fs.write("IM1", 10, 1)
    assert reconcile(state, [Change(C, "IM1")], 0.0, fake_fs) == Plan()
    fake_fs.remove("IM1")
    assert reconcile(state, [Change(D, "IM1")], 0.5, fake_fs) == Plan(removed=["IM1"])
    assert reconcile(state, [], 5.0, fake_fs) == Plan()


def test_folders_created_moved_and_deleted(fake_fs: FakeFilesystem) -> None:
    """A folder moved in brings its files (complete); a folder removed takes its files along."""
    state = WatchState()
    fake_fs.write("new/s1/IM1", 10, 1)
    fake_fs.write("new/s1/IM2", 10, 1)
    fake_fs.write("new/.IM3.swp", 10, 1)
    fake_fs.write("made/IM9", 10, 1)
    batch = [
        Change(V, "old", "new", is_dir=True),
        Change(C, "made", is_dir=True),
        Change(M, "made", is_dir=True),
        Change(D, "gone", is_dir=True),
    ]
    plan = reconcile(state, batch, 0.0, fake_fs, settle=1.0)
    assert plan == Plan(ready=["new/s1/IM1", "new/s1/IM2"], removed_dirs=["old", "gone"])
    assert reconcile(state, [], 1.0, fake_fs, settle=1.0) == Plan(ready=["made/IM9"])


def test_deleting_a_folder_forgets_its_pending_files(fake_fs: FakeFilesystem) -> None:
    """Pending files below a removed folder are dropped, never reported ready."""
    state = WatchState()
    fake_fs.write("d/IM1", 10, 1)
    reconcile(state, [Change(C, "d/IM1")], 0.0, fake_fs)
    fake_fs.remove("d/IM1")
    assert reconcile(state, [Change(D, "d", is_dir=True)], 0.1, fake_fs) == Plan(
        removed_dirs=["d"]
    )
    assert state.pending == {}


def test_noise_never_reaches_the_plan(fake_fs: FakeFilesystem) -> None:
    """`.dicomfs/`, `.rejected/` and temporary files are ignored whatever happens to them."""
    state = WatchState()
    for path in (".dicomfs/index.sqlite", ".rejected/IM1", "a/.IM1.swp", "a/IM1.part"):
        fake_fs.write(path, 1, 1)
    batch = [Change(k, p) for p in fake_fs.files for k in (C, M, X, D)]
    assert reconcile(state, batch, 0.0, fake_fs) == Plan()
    assert reconcile(state, [], 10.0, fake_fs) == Plan()


def test_retry_waits_then_reports_again(fake_fs: FakeFilesystem) -> None:
    """A file put back with WatchState.retry comes back after the delay if unchanged."""
    state = WatchState()
    fake_fs.write("IM1", 10, 1)
    state.retry("IM1", FileStat(10, 1), now=0.0, delay=2.0)
    assert reconcile(state, [], 1.9, fake_fs) == Plan()
    assert reconcile(state, [], 2.0, fake_fs) == Plan(ready=["IM1"])


def test_initial_changes_catch_up_with_every_file(fake_fs: FakeFilesystem) -> None:
    """A restart sees every file already there (and only after it settled)."""
    for path in ("b/IM2", "a/IM1", ".rejected/x", "a/IM1.tmp"):
        fake_fs.write(path, 5, 1)
    batch = initial_changes(fake_fs)
    assert batch == [Change(C, "a/IM1"), Change(C, "b/IM2")]
    state = WatchState()
    assert reconcile(state, batch, 0.0, fake_fs, settle=0.5) == Plan()
    assert reconcile(state, [], 0.5, fake_fs, settle=0.5) == Plan(ready=["a/IM1", "b/IM2"])


def test_negative_settle_is_refused(fake_fs: FakeFilesystem) -> None:
    """Inputs are validated at the entry point."""
    with pytest.raises(ValueError, match="settle"):
        reconcile(WatchState(), [], 0.0, fake_fs, settle=-1)


def test_a_burst_of_events_costs_one_stat_per_file(fake_fs: FakeFilesystem) -> None:
    """A file written in many chunks brings many events; one reconcile stats it once, and the
    outcome is the same as event by event: closed last, so complete."""
    stats: list[str] = []
    original = fake_fs.stat

    def counting_stat(relpath: str) -> FileStat | None:
        stats.append(relpath)
        return original(relpath)

    fake_fs.stat = counting_stat  # type: ignore[method-assign]
    fake_fs.write("IM1", 8192, 7)
    fake_fs.write("IM2", 8192, 7)
    batch = [Change(C, "IM1"), *[Change(M, "IM1")] * 8, Change(X, "IM1"),
             Change(C, "IM2"), Change(X, "IM2"), Change(M, "IM2")]
    state = WatchState()
    assert reconcile(state, batch, 0.0, fake_fs, settle=5.0) == Plan(ready=["IM1"])
    assert sorted(stats) == ["IM1", "IM2"]
    assert state.pending["IM2"].closed is False  # written again after its close
