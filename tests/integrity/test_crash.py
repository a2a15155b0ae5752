"""Crash safety: SIGKILL a writer at random moments; nothing whose call returned is lost.

After each kill (CONFORMANCE I-17 and docs/stow.md "Durability"):

* every instance whose ``store_instances`` call returned (the child printed ``S n``) is in the
  index and its file is byte-equal to the encoding of the dataset;
* every instance whose delete returned (``D n``) is gone, and stays gone after ``sync``;
* no indexed file is partial: each one that exists has exactly the expected bytes;
* ``sync()`` heals: afterwards ``check`` finds nothing to repair and no temporary file is left.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

import dicomfs
from dicomfs.file.stow import encode_part10
from dicomfs.storage import atomic, check, layout

sys.path.insert(0, str(Path(__file__).parent))

import _worker

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")]

KILLS = 10
PER_RUN = 10_000  # instance numbers available to each child


def _run_and_kill(
    root: Path, run: int, rng: random.Random
) -> tuple[set[int], set[int], set[int]]:
    """Run a child, kill it; return (stored, deleted, open): ``open`` may have gone either way."""
    child = _worker.spawn("store", root, run * PER_RUN, PER_RUN, 5)
    assert child.stdout is not None
    ready = child.stdout.readline().strip()
    assert ready == "READY", child.stderr.read() if child.stderr else ready
    time.sleep(rng.uniform(0.05, 0.8))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    stored: set[int] = set()
    deleted: set[int] = set()
    trying: set[int] = set()
    for line in out.splitlines():
        if not out.endswith("\n") and line == out.splitlines()[-1]:
            break  # a line cut by the kill
        kind, _, number = line.partition(" ")
        if kind == "S":
            stored.add(int(number))
        elif kind == "T":
            trying.add(int(number))
        elif kind == "D":
            deleted.add(int(number))
    last = max(stored, default=run * PER_RUN - 1)
    unsure = (trying - deleted) | set(range(last + 1, last + 6))  # the call the kill cut
    return stored, deleted, unsure


def _expected(n: int) -> bytes:
    return encode_part10(_worker.dataset(n))


def test_sigkill_loses_nothing_that_returned(tmp_path: Path) -> None:
    root = tmp_path / "store"
    dicomfs.DICOMfileClient(root).close()
    rng = random.Random(20240601)
    stored: set[int] = set()
    deleted: set[int] = set()
    unsure: set[int] = set()
    progressed = 0
    for run in range(KILLS):
        new_stored, new_deleted, new_unsure = _run_and_kill(root, run, rng)
        progressed += bool(new_stored)
        stored |= new_stored
        deleted |= new_deleted
        unsure |= new_unsure
        alive = stored - deleted - unsure
        with dicomfs.DICOMfileClient(root) as client:
            repo = client.ctx.repo
            # 1. Every returned store is indexed and byte-equal on disk (before any sync).
            for n in sorted(alive):
                relpath = layout.relative_instance_path(*_worker.uids(n))
                assert repo.path_of_sop(_worker.uids(n)[2]) == relpath
                assert (root / relpath).read_bytes() == _expected(n), n
            # 2. No partial file is served: each indexed file that exists is complete.
            states = repo.file_states()
            for relpath, (size, _mtime, rejected) in states.items():
                assert not rejected, relpath
                path = root / relpath
                if path.exists():
                    number = int(relpath.rsplit(".", 2)[-2])
                    assert path.read_bytes() == _expected(number), relpath
                    assert path.stat().st_size == size
            # 3. sync heals: temporaries cleaned, index == tree, returned deletes stay deleted.
            client.sync()
            report = check.check(root, repo)
            assert report.ok, str(report)
            assert report.active_temporaries == []
            assert list(atomic.iter_temporaries(root)) == []
            indexed = {int(p.rsplit(".", 2)[-2]) for p in repo.file_states()}
            assert alive <= indexed
            assert not (deleted & indexed)
            # Only instances whose call was cut by a kill may differ from what returned.
            assert indexed - alive <= unsure
    assert progressed >= KILLS // 2  # the kills landed while the child was storing
