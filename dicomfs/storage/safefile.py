"""Open a stored file for reading without trusting it: what WADO and the scanner read through.

A file the index knows may have changed since it was indexed. Reading it must never block
(a FIFO put in its place), follow a symbolic link put in its place (out of the root), or
allocate what a corrupt length claims (``read(0xFFFFFFF0)`` in a 3 kB file).
"""

from __future__ import annotations

import os
import stat
from io import BufferedReader, FileIO
from pathlib import Path
from typing import Any

from dicomfs.errors import CorruptFileError

__all__ = ["BoundedReader", "FileChangedError", "expected_of", "open_stored", "stored_path"]

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(
    os, "O_CLOEXEC", 0
)


class BoundedReader(BufferedReader):
    """A buffered reader that never asks for more bytes than the file holds.

    pydicom reads an element's value with ``read(length)``; a corrupt length would allocate
    gigabytes. Clamped, the value comes back short, which readers detect as truncation.

    Parameters
    ----------
    raw: raw binary stream
        The file (or any raw stream).
    size: int
        The number of bytes it holds.
    """

    def __init__(self, raw: Any, size: int) -> None:
        super().__init__(raw)
        self._size = size

    def read(self, n: int | None = -1, /) -> bytes:
        if n is not None and n > 0:
            n = max(0, min(n, self._size - self.tell()))
        return super().read(n)


class FileChangedError(CorruptFileError):
    """The file's size or modification time is not what the index recorded: it was rewritten
    after it was indexed (by another process's STOW replacing it, or behind the store's back)."""


def _changed(relpath: str, what: str) -> CorruptFileError:
    return CorruptFileError(f"{relpath}: {what} since it was indexed (sync the store)")


def stored_path(root: Path, relpath: str, expected: tuple[int, int] | None = None) -> Path:
    """``root / relpath`` after checking that it is still a regular file (not followed).

    Parameters
    ----------
    expected: tuple[int, int], optional
        The file's ``(size, mtime_ns)`` when it was indexed: a file that no longer has them was
        rewritten behind the index's back, so offsets recorded for it cannot be trusted.

    Raises
    ------
    CorruptFileError
        The file is gone, is now a folder, a link, a FIFO or another special file, or changed.
    """
    path = root / relpath
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise _changed(relpath, f"cannot be read ({exc.strerror or exc})") from exc
    _check(relpath, st, expected)
    return path


def _check(relpath: str, st: os.stat_result, expected: tuple[int, int] | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise _changed(relpath, "replaced by something that is not a regular file")
    if expected is not None and (st.st_size, st.st_mtime_ns) != expected:
        raise FileChangedError(
            f"{relpath}: changed (size or modification time) since it was indexed (sync the store)"
        )


def expected_of(size: int | None, mtime_ns: int | None) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` for :func:`stored_path`/:func:`open_stored`, when both are known."""
    return None if size is None or mtime_ns is None else (size, mtime_ns)


def open_stored(
    root: Path, relpath: str, expected: tuple[int, int] | None = None
) -> BoundedReader:
    """Open ``root / relpath`` for reading (see the module docstring).

    Returns
    -------
    BoundedReader
        A buffered binary file whose ``read(n)`` never allocates past the end of the file.

    Raises
    ------
    CorruptFileError
        As :func:`stored_path`, or the file cannot be opened.
    """
    path = stored_path(root, relpath, expected)
    try:
        raw = FileIO(path, "rb", opener=_opener)
    except OSError as exc:
        raise _changed(relpath, f"cannot be opened ({exc.strerror or exc})") from exc
    try:
        st = os.fstat(raw.fileno())
        _check(relpath, st, expected)
    except BaseException:
        raw.close()
        raise
    return BoundedReader(raw, st.st_size)


def _opener(path: str, flags: int) -> int:
    return os.open(path, _FLAGS)
