"""Helpers of the watch tests: a fake file system, bounded waits, the loop in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dicomfs.watch.changes import is_noise
from dicomfs.watch.sync import FileStat


class FakeFilesystem:
    """relpath -> (size, mtime_ns); ``walk`` lists files below a folder, noise excluded."""

    def __init__(self) -> None:
        self.files: dict[str, FileStat] = {}

    def write(self, relpath: str, size: int, mtime_ns: int) -> None:
        self.files[relpath] = FileStat(size, mtime_ns)

    def remove(self, relpath: str) -> None:
        del self.files[relpath]

    def stat(self, relpath: str) -> FileStat | None:
        return self.files.get(relpath)

    def walk(self, reldir: str) -> Iterator[str]:
        prefix = reldir.rstrip("/") + "/" if reldir else ""
        for path in sorted(self.files):
            if path.startswith(prefix) and not is_noise(path):
                yield path


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll ``predicate`` until true; fail the test (never hang) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


class LoopThread:
    """Runs dicomfs.watch.runner.run in a thread; ``stop()`` ends and joins it."""

    def __init__(self, target: Callable[[threading.Event, threading.Event], None]) -> None:
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None

        def body() -> None:
            try:
                target(self.stop_event, self.started)
            except BaseException as exc:  # reported by stop()
                self.error = exc
                self.started.set()

        self.thread = threading.Thread(target=body, name="watch-loop")
        self.thread.start()
        if not self.started.wait(20):
            self.stop()
            pytest.fail("the watch loop did not start")
        if self.error is not None:
            self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the watch loop did not stop"
        if self.error is not None:
            raise self.error
