"""Concurrency: 2 writer processes (2 threads each) and 2 reader processes on one store.

No "database is locked" nor any other error in any process, and no lost write: every instance a
writer saw stored is in the index at the end, exactly once (CONFORMANCE I-10, I-17).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import dicomfs
from dicomfs.storage import check

sys.path.insert(0, str(Path(__file__).parent))

import _worker

pytestmark = pytest.mark.slow

#: Seconds the readers run (the issue's target of 30 s was run by hand: see docs/stow.md).
SECONDS = float(os.environ.get("DICOMFS_CONCURRENCY_SECONDS", "10"))


def test_writers_and_readers_share_a_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with dicomfs.DICOMfileClient(root) as client:
        client.store_instances([_worker.dataset(n) for n in range(50)])  # readers find work
    per_writer = max(200, int(SECONDS * 60))
    readers = [_worker.spawn("read", root, SECONDS, 2) for _ in range(2)]
    writers = [
        _worker.spawn("write", root, 100_000 * (w + 1), per_writer, 10, 2) for w in range(2)
    ]
    stored: set[int] = set(range(50))
    for proc in writers + readers:
        out, err = proc.communicate(timeout=SECONDS * 20 + 120)
        assert proc.returncode == 0, err[-3000:]
        lines = out.splitlines()
        done = [line for line in lines if line.startswith("DONE")]
        assert done, err[-3000:]
        errors = [line for line in lines if line.startswith("ERROR")]
        assert done[0].split()[-1] == "0", "\n".join(errors)
        if proc in readers:
            assert int(done[0].split()[1]) >= 1  # the reader did read
        stored |= {int(line.split()[1]) for line in lines if line.startswith("S ")}
    shared = {_worker.SHARED + k for k in range(20) if k * 10 * 2 < per_writer}
    expected = stored | shared
    assert len(stored) == 50 + 2 * per_writer
    with dicomfs.DICOMfileClient(root) as client:
        found = client.search_for_instances(fields=["SOPInstanceUID"], get_remaining=True)
        sops = [row["00080018"]["Value"][0] for row in found]
        assert len(sops) == len(set(sops))
        assert sorted(sops) == sorted(_worker.uids(n)[2] for n in expected)
        report = check.check(root, client.ctx.repo)
        assert report.ok, str(report)
