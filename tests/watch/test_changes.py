"""The noise filter and the Change value (dicomfs.watch.changes)."""

from __future__ import annotations

import pytest

from dicomfs.watch.changes import Change, ChangeKind, is_noise, relevant


@pytest.mark.parametrize(
    ("path", "noise"),
    [
        ("IM0001", False),
        ("a/b/c.dcm", False),
        ("1.2.3/4.5/6.7.dcm", False),
        (".dicomfs/index.sqlite", True),
        (".dicomfs/index.sqlite-wal", True),
        ("sub/.dicomfs/x", True),
        (".rejected/IM1", True),
        (".rejected/IM1.reason", True),
        (".git/config", True),
        ("a/.IM1.dicomfs-tmp-123-abcdef", True),
        ("a/.IM1.swp", True),
        ("a/IM1.swp", True),
        ("a/IM1~", True),
        ("a/#IM1#", True),
        ("a/4913", False),  # a numbered instance (vim's probe of that name lives a moment)
        ("a/.#IM1", True),
        ("a/IM1.part", True),
        ("a/IM1.crdownload", True),
        ("a/IM1.tmp", True),
        ("a/.DS_Store", True),
        ("a/Thumbs.db", True),
        ("a/~$report.docx", True),
        ("a/rsync/.IM1.Xy12Ab", True),
    ],
)
def test_is_noise(path: str, noise: bool) -> None:
    """The watcher never acts on its own folders, nor on editor and copy-tool temporary files."""
    assert is_noise(path) is noise


def test_relevant_turns_moves_across_the_filter_into_creations_and_deletions() -> None:
    """A copy tool renaming its temporary file into place creates the final name."""
    batch = [
        Change(ChangeKind.CREATED, "a/.IM1.part"),
        Change(ChangeKind.MODIFIED, "a/.IM1.part"),
        Change(ChangeKind.MOVED, "a/.IM1.part", "a/IM1"),
        Change(ChangeKind.MOVED, "a/IM2", "a/IM2~"),
        Change(ChangeKind.MOVED, "a/IM3", "b/IM3"),
        Change(ChangeKind.MOVED, "a/.x", ".rejected/x"),
        Change(ChangeKind.DELETED, ".dicomfs/index.sqlite-journal"),
    ]
    assert relevant(batch) == [
        Change(ChangeKind.CREATED, "a/IM1"),
        Change(ChangeKind.DELETED, "a/IM2"),
        Change(ChangeKind.MOVED, "a/IM3", "b/IM3"),
    ]


@pytest.mark.parametrize("path", ["/abs/path", "../outside", "a/../../b"])
def test_change_paths_must_stay_inside(path: str) -> None:
    """Paths are relative to the watched folder: absolute or escaping paths are refused."""
    with pytest.raises(ValueError, match="relative"):
        Change(ChangeKind.CREATED, path)
