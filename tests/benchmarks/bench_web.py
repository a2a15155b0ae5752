"""Benchmark of the web client against a real Orthanc: dicomfs vs dicomweb-client.

Stores a 500-instance and a 50-instance study (64x64 16-bit instances), then reads them with
``iter_study``: throughput (instances/s, best of several interleaved runs) and peak traced
memory while iterating (tracemalloc; each dataset is dropped before the next one is read).

Run: ``.venv/bin/python tests/benchmarks/bench_web.py`` (prints a markdown table).
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import factories
from peers.orthanc import OrthancServer, start_orthanc

Report = Callable[[str, float, "float | None", str], None]

BIG, SMALL = 500, 50
RUNS = {BIG: 5, SMALL: 25}  # best of N interleaved runs (the machine is noisy)


def _datasets(study: int, count: int) -> list[Any]:
    return [
        factories.make_instance(study, 1 + i // 100, i + 1, rows=64, columns=64)
        for i in range(count)
    ]


def _drain(iterator: Iterator[Any]) -> int:
    n = 0
    for _ in iterator:
        n += 1
    return n


def _best_seconds(
    makers: tuple[Callable[[], Iterator[Any]], Callable[[], Iterator[Any]]], expected: int
) -> tuple[float, float]:
    """Best time of ``RUNS[expected]`` runs of each, interleaved (ours, theirs, ...)."""
    best = [float("inf"), float("inf")]
    for _ in range(RUNS[expected]):
        for side, make_iter in enumerate(makers):
            start = time.perf_counter()
            count = _drain(make_iter())
            best[side] = min(best[side], time.perf_counter() - start)
            assert count == expected, f"{count} instances instead of {expected}"
    return best[0], best[1]


def _peak_mb(make_iter: Callable[[], Iterator[Any]], expected: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        count = _drain(make_iter())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == expected
    return peak / 1e6


def _store_seconds(
    stores: tuple[Callable[[list[Any]], Any], Callable[[list[Any]], Any]],
    datasets: tuple[list[Any], list[Any]],
) -> tuple[float, float]:
    """Seconds to store each list in batches of 100, batches interleaved between the clients."""
    total = [0.0, 0.0]
    for i in range(0, len(datasets[0]), 100):
        for side in (0, 1):
            start = time.perf_counter()
            stores[side](datasets[side][i : i + 100])
            total[side] += time.perf_counter() - start
    return total[0], total[1]


def measure() -> dict[str, tuple[float, float]]:
    """Start Orthanc, store the studies and measure: ``{measure: (dicomfs, dicomweb-client)}``.

    Keys: ``stow_s`` (seconds for 500 instances), ``iter_500_s``/``iter_50_s`` (best seconds to
    iterate the study), ``peak_500_mb``/``peak_50_mb`` (tracemalloc peak while iterating).
    """
    from dicomweb_client import DICOMwebClient as ReferenceClient

    import dicomfs

    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server: OrthancServer = start_orthanc(tmp)
        try:
            ours = dicomfs.DICOMwebClient(server.dicomweb_url)
            theirs = ReferenceClient(server.dicomweb_url)
            big, small, other = _datasets(801, BIG), _datasets(802, SMALL), _datasets(803, BIG)
            results["stow_s"] = _store_seconds(
                (ours.store_instances, theirs.store_instances), (big, other)
            )
            ours.store_instances(small)
            studies = {BIG: big[0].StudyInstanceUID, SMALL: small[0].StudyInstanceUID}
            for count, uid in studies.items():
                results[f"iter_{count}_s"] = _best_seconds(
                    (lambda u=uid: ours.iter_study(u), lambda u=uid: theirs.iter_study(u)), count
                )
            for count, uid in studies.items():
                results[f"peak_{count}_mb"] = (
                    _peak_mb(lambda u=uid: ours.iter_study(u), count),
                    _peak_mb(lambda u=uid: theirs.iter_study(u), count),
                )
            ours.close()
        finally:
            server.stop()
    return results


def run(report: Report) -> None:
    """Report timings in seconds (throughput and peak memory in the notes)."""
    r = measure()
    ours_s, theirs_s = r["stow_s"]
    report("web: STOW-RS 500 instances to Orthanc (batches of 100)", ours_s, theirs_s,
           f"{BIG / ours_s:,.0f} vs {BIG / theirs_s:,.0f} instances/s")
    for count in (BIG, SMALL):
        ours_s, theirs_s = r[f"iter_{count}_s"]
        peak_ours, peak_theirs = r[f"peak_{count}_mb"]
        report(
            f"web: iter_study {count} instances from Orthanc", ours_s, theirs_s,
            f"{count / ours_s:,.0f} vs {count / theirs_s:,.0f} instances/s; "
            f"peak memory {peak_ours:.1f} MB vs {peak_theirs:.1f} MB",
        )


def main() -> None:
    """Print the results as a markdown table."""
    r = measure()
    rows = [
        ("STOW-RS, 500 instances (instances/s)", BIG / r["stow_s"][0], BIG / r["stow_s"][1]),
        ("iter_study, 500 instances (instances/s)", BIG / r["iter_500_s"][0],
         BIG / r["iter_500_s"][1]),
        ("iter_study, 50 instances (instances/s)", SMALL / r["iter_50_s"][0],
         SMALL / r["iter_50_s"][1]),
        ("iter_study, 500 instances: peak memory (MB)", *r["peak_500_mb"]),
        ("iter_study, 50 instances: peak memory (MB)", *r["peak_50_mb"]),
    ]
    print("Orthanc with its DICOMweb plugin (Debian packages), started on 127.0.0.1 by the "
          "benchmark; 64x64 instances.\n")
    print("| measure | dicomfs | dicomweb-client |")
    print("|---|---:|---:|")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours:,.1f} | {theirs:,.1f} |")


if __name__ == "__main__":
    main()
