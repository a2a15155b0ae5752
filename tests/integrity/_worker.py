"""Child process for the crash and concurrency tests (run as a script, never imported by pytest).

Modes
-----
``store ROOT FIRST COUNT BATCH``
    Store instances FIRST..FIRST+COUNT-1 (see :func:`dataset`) in batches, printing
    ``S <n>`` for each instance once its ``store_instances`` call returned, and every fifth batch
    deletes the first instance of the previous batch, printing ``T <n>`` before and ``D <n>``
    once the delete returned.
``write ROOT FIRST COUNT BATCH THREADS``
    Store as above (no deletes) from THREADS threads, plus a shared block of instances every
    writer stores (replacement races); prints ``S <n>`` lines, then ``DONE <errors>``.
``read ROOT SECONDS THREADS``
    Search and retrieve for SECONDS from THREADS threads; prints ``DONE <reads> <errors>`` and the
    first errors.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import factories
from pydicom.dataset import Dataset

import dicomfs
from dicomfs.errors import NotFoundError

WORKER = Path(__file__).resolve()

#: Instances numbered from here up are stored by every writer (the shared block).
SHARED = 900_000


def spawn(*args: object) -> subprocess.Popen[str]:
    """Start this script with these arguments; stdout is a pipe of text lines."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def uids(n: int) -> tuple[str, str, str]:
    """Study, series and SOP Instance UID of instance number ``n``."""
    study, series = 1 + n // 1000, 1 + (n // 100) % 10
    return factories.study_uid(study), factories.series_uid(study, series), factories.sop_uid(
        study, series, n
    )


def dataset(n: int) -> Dataset:
    """A deterministic small instance numbered ``n`` (same bytes every time it is encoded)."""
    study, series = 1 + n // 1000, 1 + (n // 100) % 10
    return factories.make_instance(study, series, n, rows=16, columns=16, PatientID=f"P{n}")


def _emit(lock: threading.Lock, line: str) -> None:
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def store(root: str, first: int, count: int, batch: int) -> None:
    lock = threading.Lock()
    with dicomfs.DICOMfileClient(root) as client:
        _emit(lock, "READY")
        previous: list[int] = []
        for k, start in enumerate(range(first, first + count, batch)):
            numbers = list(range(start, min(start + batch, first + count)))
            client.store_instances([dataset(n) for n in numbers])
            for n in numbers:
                _emit(lock, f"S {n}")
            if k % 5 == 4 and previous:
                _emit(lock, f"T {previous[0]}")  # a delete starts: its outcome is open
                client.delete_instance(*uids(previous[0]))
                _emit(lock, f"D {previous[0]}")
            previous = numbers


def write(root: str, first: int, count: int, batch: int, threads: int) -> None:
    lock = threading.Lock()
    errors: list[str] = []

    def work(offset: int) -> None:
        with dicomfs.DICOMfileClient(root) as client:
            numbers = list(range(first + offset, first + count, threads))
            for start in range(0, len(numbers), batch):
                chunk = numbers[start : start + batch]
                shared = SHARED + (start // batch) % 20
                try:
                    client.store_instances([dataset(n) for n in chunk] + [dataset(shared)])
                except Exception:
                    errors.append(traceback.format_exc())
                    continue
                for n in chunk:
                    _emit(lock, f"S {n}")

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    _emit(lock, f"DONE {len(errors)}")
    for error in errors[:3]:
        _emit(lock, "ERROR " + error.replace("\n", " | "))


def read(root: str, seconds: float, threads: int) -> None:
    lock = threading.Lock()
    errors: list[str] = []
    reads = [0]
    deadline = time.monotonic() + seconds

    def work(seed: int) -> None:
        rng = random.Random(seed)
        with dicomfs.DICOMfileClient(root) as client:
            while time.monotonic() < deadline:
                try:
                    found = client.search_for_instances(
                        fields=["SeriesInstanceUID", "StudyInstanceUID"], limit=200,
                        offset=rng.randrange(0, 2000),
                    )
                    client.search_for_studies()
                    for row in rng.sample(found, min(3, len(found))):
                        sop = row["00080018"]["Value"][0]
                        study = row["0020000D"]["Value"][0]
                        series = row["0020000E"]["Value"][0]
                        ds = client.retrieve_instance(study, series, sop)
                        if ds.SOPInstanceUID != sop:
                            raise AssertionError(f"wrong instance {ds.SOPInstanceUID} for {sop}")
                    with lock:
                        reads[0] += 1
                except NotFoundError as exc:  # writers here never delete: a 404 is an error
                    errors.append(f"NotFound {exc}")
                except Exception:
                    errors.append(traceback.format_exc())

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    _emit(lock, f"DONE {reads[0]} {len(errors)}")
    for error in errors[:3]:
        _emit(lock, "ERROR " + error.replace("\n", " | "))


if __name__ == "__main__":
    mode, root, *rest = sys.argv[1:]
    if mode == "store":
        store(root, *(int(x) for x in rest))
    elif mode == "write":
        write(root, *(int(x) for x in rest))
    elif mode == "read":
        read(root, float(rest[0]), int(rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
