"""400 files copied into an inbox concurrently, half of them slowly: each ingested exactly once.

Also measures the latency from a file's close to its instance being stored (searchable, I-17):
the figures are printed (run with ``-s``), never asserted.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import factories
import pytest
from pydicom.dataset import Dataset
from watchkit import LoopThread, wait_for

from dicomfs.file.client import DICOMfileClient
from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.runner import InboxHandler, WatchOptions, run

COUNT = 400


class CountingStore:
    """Forwards store_instances to a real store and counts every SOP Instance UID sent."""

    def __init__(self, store: DICOMfileClient) -> None:
        self.store = store
        self.sent: Counter[str] = Counter()

    def store_instances(self, datasets: Sequence[Dataset], study_instance_uid: Any = None,
                        additional_params: Any = None) -> Dataset:
        self.sent.update(str(ds.SOPInstanceUID) for ds in datasets)
        return self.store.store_instances(datasets, study_instance_uid)


def _payload(n: int) -> bytes:
    ds = factories.make_instance(10, 1 + n % 4, n, rows=64, columns=64)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_400_concurrent_files_are_each_ingested_exactly_once(tmp_path: Path) -> None:
    """No file is lost, none is stored twice, none is read half-written (I-10, I-17)."""
    inbox, root = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    payloads = {n: _payload(n) for n in range(1, COUNT + 1)}
    closed: dict[str, float] = {}
    stored: dict[str, float] = {}
    events: list[WatchEvent] = []

    def report(event: WatchEvent) -> None:
        events.append(event)
        if event.action == "stored":
            stored[event.path] = time.monotonic()

    def write(n: int) -> None:
        name = f"d{n % 7}/IM{n:04d}"
        path = inbox / name
        path.parent.mkdir(exist_ok=True)
        data = payloads[n]
        with open(path, "wb") as out:
            if n % 2:  # slowly, in chunks
                for start in range(0, len(data), 1024):
                    out.write(data[start:start + 1024])
                    out.flush()
                    time.sleep(0.01)
            else:
                out.write(data)
        closed[name] = time.monotonic()

    with DICOMfileClient(root) as store:
        target = CountingStore(store)
        handler = InboxHandler(inbox, target, report)  # type: ignore[arg-type]
        options = WatchOptions(settle=1.0, tick=0.05)
        loop = LoopThread(lambda stop, started: run(inbox, handler, stop, options,
                                                    started=started))
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(write, payloads))
            wait_for(lambda: len(stored) == COUNT, timeout=120, what=f"{COUNT} stored")
        finally:
            loop.stop()
        # the watcher's own threads (session fixtures may run a dicomfs server meanwhile)
        assert [t.name for t in threading.enumerate() if t.name.startswith("dicomfs-watch")] == []
        found = store.search_for_instances(get_remaining=True)
        pixels = {str(ds.SOPInstanceUID): ds.PixelData
                  for ds in store.iter_study(factories.study_uid(10),
                                             media_types=(("application/dicom", "*"),))}
    expected = {factories.sop_uid(10, 1 + n % 4, n) for n in payloads}
    assert {r["00080018"]["Value"][0] for r in found} == expected
    assert len(found) == COUNT
    assert set(target.sent) == expected
    assert [uid for uid, n in target.sent.items() if n != 1] == []
    assert [e for e in events if e.action == "rejected"] == []
    assert [p for p in inbox.rglob("*") if p.is_file()] == []
    # never stored half-written: every instance has its whole pixel data
    reference = factories.make_instance(10, 1, 1, rows=64, columns=64).PixelData
    assert [uid for uid, data in pixels.items() if data != reference] == []
    assert len(pixels) == COUNT
    latencies = [stored[name] - closed[name] for name in closed]
    print(f"\nclose -> searchable over {COUNT} files: "
          f"p50 {_percentile(latencies, 0.5):.3f} s, p95 {_percentile(latencies, 0.95):.3f} s, "
          f"max {max(latencies):.3f} s (load average {_load()})")


def _load() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # not on every platform
        return "unknown"
