"""dicomfs.storage.atomic: temporary name, fsync, rename; stale temporaries cleaned."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dicomfs.storage import atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_file_creates_folders_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.dcm"
    atomic.write_file(target, b"hello")
    assert target.read_bytes() == b"hello"
    assert _names(tmp_path / "a" / "b") == ["x.dcm"]


def test_write_file_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "x.dcm"
    target.write_bytes(b"old")
    inode_before = target.stat().st_ino
    atomic.write_file(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert target.stat().st_ino != inode_before  # a new file was renamed over the old one
    assert _names(tmp_path) == ["x.dcm"]


def test_write_files_batch(tmp_path: Path) -> None:
    items = [(tmp_path / f"s{i % 3}" / f"{i}.dcm", bytes([i]) * (i + 1)) for i in range(10)]
    assert atomic.write_files(items, durable=True) == [p for p, _ in items]
    for path, data in items:
        assert path.read_bytes() == data
    assert _names(tmp_path) == ["s0", "s1", "s2"]
    assert _names(tmp_path / "s0") == ["0.dcm", "3.dcm", "6.dcm", "9.dcm"]


def test_write_files_nothing_renamed_when_one_fails(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"a file, not a folder")
    items = [(tmp_path / "ok.dcm", b"1"), (tmp_path / "blocker" / "x.dcm", b"2")]
    with pytest.raises(OSError):
        atomic.write_files(items)
    assert _names(tmp_path) == ["blocker"]


def test_stage_then_discard(tmp_path: Path) -> None:
    staged = atomic.stage(tmp_path / "x.dcm", b"abc")
    assert staged.temporary.parent == tmp_path
    assert atomic.is_temporary_name(staged.temporary.name) is True
    assert staged.temporary.name.startswith(".x.dcm.dicomfs-tmp-")
    atomic.discard([staged])
    assert _names(tmp_path) == []


def test_stage_reports_size_and_mtime_kept_by_commit(tmp_path: Path) -> None:
    """STOW indexes a file from the stat taken when it was written: a rename keeps it."""
    staged = atomic.stage(tmp_path / "d" / "x.dcm", b"abcde")
    assert (staged.synced, staged.size, staged.created_dirs) == (True, 5, [tmp_path / "d"])
    atomic.commit([staged])
    st = (tmp_path / "d" / "x.dcm").stat()
    assert (st.st_size, st.st_mtime_ns) == (staged.size, staged.mtime_ns)


def test_stage_disk_full_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ENOSPC while writing removes the temporary file and raises OSError(ENOSPC) (I-07 A7xx)."""

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", full)
    with pytest.raises(OSError) as info:
        atomic.stage(tmp_path / "x.dcm", b"abc")
    assert info.value.errno == errno.ENOSPC
    assert _names(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (".x.dcm.dicomfs-tmp-123-deadbeef", True),
        (".x.dcm.dicomfs-del-1-00", True),
        ("x.dcm.dicomfs-tmp-123-deadbeef", False),
        (".x.dcm.dicomfs-tmp-abc-deadbeef", False),
        (".x.dcm.dicomfs-tmp-123-", False),
        (".hidden.dcm", False),
        ("1.2.3.dcm", False),
    ],
)
def test_temporary_name_pattern(name: str, expected: bool) -> None:
    assert atomic.is_temporary_name(name) is expected


def test_temporary_path_kinds(tmp_path: Path) -> None:
    tomb = atomic.temporary_path(tmp_path / "a.dcm", "del")
    assert tomb.name.startswith(f".a.dcm.dicomfs-del-{os.getpid()}-")
    with pytest.raises(ValueError):
        atomic.temporary_path(tmp_path / "a.dcm", "zzz")


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_cleanup_removes_only_stale(tmp_path: Path) -> None:
    """Temporaries of a dead writer are stale; a live writer's are kept unless too old."""
    dead = _dead_pid()
    (tmp_path / "s").mkdir()
    (tmp_path / ".dicomfs").mkdir()
    stale = tmp_path / "s" / f".a.dcm.dicomfs-tmp-{dead}-0a"
    tomb = tmp_path / "s" / f".b.dcm.dicomfs-del-{dead}-0b"
    live = tmp_path / "s" / f".c.dcm.dicomfs-tmp-{os.getpid()}-0c"
    old_live = tmp_path / f".d.dcm.dicomfs-tmp-{os.getpid()}-0d"
    internal = tmp_path / ".dicomfs" / f".e.dicomfs-tmp-{dead}-0e"
    keep = tmp_path / "s" / "a.dcm"
    for p in (stale, tomb, live, old_live, internal, keep):
        p.write_bytes(b"x")
    past = time.time() - 2 * atomic.DEFAULT_MAX_AGE
    os.utime(old_live, (past, past))
    expected = sorted([stale, tomb, old_live])
    assert sorted(atomic.cleanup_temporaries(tmp_path, dry_run=True)) == expected
    assert live.exists() and stale.exists()
    assert sorted(atomic.cleanup_temporaries(tmp_path)) == sorted([stale, tomb, old_live])
    assert _names(tmp_path / "s") == [live.name, "a.dcm"]
    assert internal.exists()
    assert atomic.is_stale_temporary(keep) is False


def test_ensure_directory_reports_created(tmp_path: Path) -> None:
    created = atomic.ensure_directory(tmp_path / "a" / "b" / "c", tmp_path)
    assert created == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    assert atomic.ensure_directory(tmp_path / "a" / "b", tmp_path) == []


def _stage_many(folder: Path, count: int) -> list[atomic.StagedFile]:
    return [
        atomic.stage(folder / f"{n}.dcm", bytes([n]) * 10, durable=False) for n in range(count)
    ]


@pytest.mark.skipif(atomic._syncfs is None, reason="syncfs is Linux only")
def test_sync_staged_batch_flushes_the_file_system_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From SYNCFS_MIN_FILES files on: one syncfs per file system, no fsync per file."""
    monkeypatch.setattr(atomic, "_syncfs_by_device", {})
    monkeypatch.setattr(atomic, "_file_system_type", lambda path: 0xEF53)  # as if on ext4
    staged = _stage_many(tmp_path / "a", atomic.SYNCFS_MIN_FILES + 3)
    calls: list[tuple[str, Path]] = []
    real_syncfs = atomic.syncfs
    monkeypatch.setattr(atomic, "syncfs", lambda p: calls.append(("syncfs", p)) or real_syncfs(p))
    monkeypatch.setattr(
        atomic, "_fsync_path", lambda p, directory: calls.append(("fsync", p))
    )
    atomic.sync_staged(staged)
    assert calls == [("syncfs", tmp_path / "a")]
    assert all(item.synced for item in staged)
    atomic.sync_staged(staged)  # nothing left to flush
    assert len(calls) == 1


def test_sync_staged_few_files_or_no_syncfs_fsyncs_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the threshold, or where syncfs is missing, every file is fsynced."""
    fsynced: list[Path] = []
    real = atomic._fsync_path

    def record(path: Path, *, directory: bool) -> None:
        fsynced.append(path)
        real(path, directory=directory)

    monkeypatch.setattr(atomic, "_fsync_path", record)
    few = _stage_many(tmp_path / "few", atomic.SYNCFS_MIN_FILES - 1)
    atomic.sync_staged(few)
    assert sorted(fsynced) == sorted(item.temporary for item in few)
    fsynced.clear()
    monkeypatch.setattr(atomic, "_syncfs", None)
    many = _stage_many(tmp_path / "many", atomic.SYNCFS_MIN_FILES + 1)
    atomic.sync_staged(many)
    assert sorted(fsynced) == sorted(item.temporary for item in many)
    assert all(item.synced for item in few + many)


@pytest.mark.skipif(atomic._syncfs is None, reason="syncfs is Linux only")
def test_sync_staged_fsyncs_each_file_of_other_file_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system whose syncfs may be weaker than fsync (NFS, FUSE...), fsync each file."""
    monkeypatch.setattr(atomic, "_syncfs_by_device", {})
    monkeypatch.setattr(atomic, "_file_system_type", lambda path: 0x65735546)  # FUSE
    monkeypatch.setattr(atomic, "syncfs", lambda path: pytest.fail("syncfs on FUSE"))
    fsynced: list[Path] = []
    monkeypatch.setattr(
        atomic, "_fsync_path", lambda path, directory: fsynced.append(path)
    )
    many = _stage_many(tmp_path / "many", atomic.SYNCFS_MIN_FILES + 2)
    atomic.sync_staged(many)
    assert sorted(fsynced) == sorted(item.temporary for item in many)
    assert all(item.synced for item in many)


def test_file_system_type_of_real_folders(tmp_path: Path) -> None:
    """statfs is read where the platform has it; a missing path gives None."""
    if atomic._statfs is None:
        assert atomic._file_system_type(tmp_path) is None
        return
    assert isinstance(atomic._file_system_type(tmp_path), int)
    assert atomic._file_system_type(tmp_path / "missing") is None
    if Path("/proc/self").exists():
        assert atomic._file_system_type(Path("/proc")) == 0x9FA0  # PROC_SUPER_MAGIC


@pytest.mark.skipif(atomic._syncfs is None, reason="syncfs is Linux only")
def test_syncfs_reports_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write-back error of the file system is raised as OSError with its errno."""
    assert atomic.syncfs(tmp_path) is True

    def failing(fd: int) -> int:
        import ctypes

        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(atomic, "_syncfs", failing)
    with pytest.raises(OSError) as info:
        atomic.syncfs(tmp_path)
    assert info.value.errno == errno.EIO
