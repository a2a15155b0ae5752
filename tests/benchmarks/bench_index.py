"""Index build and QIDO latency: dicomfs vs dicomweb-client 0.61.2's DICOMfileClient (issue 2).

Each build runs in a fresh subprocess so that timings and peak RSS are not polluted by each
other. Usage: ``python tests/benchmarks/bench_index.py [--files 20000]`` prints a markdown section.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "data"))

import synthetic  # noqa: E402


def plan_for(files: int) -> synthetic.Plan:
    """200 studies x 5 series x 20 instances at 20,000 files (scaled down for smaller runs)."""
    studies = max(1, files // 100)
    return synthetic.Plan(
        patients=max(1, studies // 2),
        studies_per_patient=2 if studies > 1 else 1,
        series_per_study=5,
        instances_per_series=20,
        size=64,
        multiframe=False,
    )


def ensure_tree(files: int) -> Path:
    root = REPO / "data" / "bench" / f"tree-{files}"
    marker = root.with_name(root.name + ".complete")
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        n = synthetic.generate(root, plan_for(files))
        marker.write_text(str(n))
        print(f"<!-- generated {n} files in {time.perf_counter() - t:.1f} s -->", file=sys.stderr)
    return root


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _queries(client: Any, study_uid: str) -> dict[str, Callable[[], Any]]:
    return {
        "all studies": lambda: client.search_for_studies(),
        "PatientName wildcard": lambda: client.search_for_studies(
            search_filters={"PatientName": "SMITH*"}
        ),
        "StudyDate range": lambda: client.search_for_studies(
            search_filters={"StudyDate": "20150101-20181231"}
        ),
        "all series": lambda: client.search_for_series(),
        "instances of a study": lambda: client.search_for_instances(study_uid),
        "all instances": lambda: client.search_for_instances(),
    }


def measure(kind: str, root: Path, db_dir: Path) -> dict[str, Any]:
    """Runs in the child process: one build (and, for clients, the queries)."""
    root = root.resolve()
    files = [p for p in root.rglob("*.dcm")]
    out: dict[str, Any] = {"files": len(files)}
    if kind == "pydicom":
        from multiprocessing import Pool

        t = time.perf_counter()
        with Pool(2) as pool:
            for _ in pool.imap_unordered(_read_header, [str(p) for p in files], chunksize=256):
                pass
        out["build_s"] = time.perf_counter() - t
        out["rss_mb"] = _peak_rss_mb()
        return out
    if kind == "dicomfs":
        import dicomfs

        t = time.perf_counter()
        client = dicomfs.DICOMfileClient(root, db_dir=db_dir)
        out["build_s"] = time.perf_counter() - t
        out["rss_mb"] = _peak_rss_mb()
        client.close()
        out["reopen_s"], client = _median(lambda: dicomfs.DICOMfileClient(root, db_dir=db_dir), 5)
        out["sync_s"], report = _median(client.sync, 3)
        out["sync_report"] = str(report)
    else:
        from dicomweb_client import DICOMfileClient as Reference

        t = time.perf_counter()
        client = Reference(url=f"file://{root}", db_dir=db_dir, update_db=True)
        out["build_s"] = time.perf_counter() - t
        out["rss_mb"] = _peak_rss_mb()
    study_uid = client.search_for_studies(limit=1)[0]["0020000D"]["Value"][0]
    out["queries"] = {}
    for name, query in _queries(client, study_uid).items():
        seconds, result = _median(query, 3 if name != "all instances" or kind == "dicomfs" else 1)
        out["queries"][name] = {"s": seconds, "count": len(result)}
    return out


def _read_header(path: str) -> int:
    import pydicom

    return len(pydicom.dcmread(path, stop_before_pixels=True))


def _child(kind: str, root: Path) -> dict[str, Any]:
    db_dir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", kind, "--root", str(root), "--db", str(db_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)


def expected_counts(files: int) -> dict[str, int]:
    """The right answers, computed from the generator's plan (no index involved)."""
    import pydicom  # noqa: F401

    plan = plan_for(files)
    studies: dict[str, tuple[str, str]] = {}
    series = 0
    for ds in synthetic.datasets(plan):
        studies[ds.StudyInstanceUID] = (str(ds.PatientName), ds.StudyDate)
        series += 0
    n_series = len(studies) * plan.series_per_study
    return {
        "all studies": len(studies),
        "PatientName wildcard": sum(1 for n, _ in studies.values() if n.startswith("SMITH")),
        "StudyDate range": sum(1 for _, d in studies.values() if "20150101" <= d <= "20181231"),
        "all series": n_series,
        "instances of a study": plan.series_per_study * plan.instances_per_series,
        "all instances": n_series * plan.instances_per_series,
    }


def main(files: int = 20000) -> str:
    root = ensure_tree(files)
    env_files = sum(1 for _ in root.rglob("*.dcm"))
    ours = _child("dicomfs", root)
    ref = _child("reference", root)
    loop = _child("pydicom", root)
    expected = expected_counts(files)
    rate = {k: env_files / v["build_s"] for k, v in (("ours", ours), ("ref", ref), ("loop", loop))}
    lines = [
        f"### Index build ({env_files} files of 64x64, 200 studies x 5 series x 20 at 20,000)",
        "",
        "| | seconds | files/s | peak RSS (MB) | ratio |",
        "|---|---:|---:|---:|---|",
        f"| dicomfs | {ours['build_s']:.2f} | {rate['ours']:.0f} | {ours['rss_mb']:.0f} | "
        f"{rate['ours'] / rate['ref']:.1f}x reference, {100 * rate['ours'] / rate['loop']:.0f}% of the pydicom loop |",
        f"| dicomweb-client 0.61.2 | {ref['build_s']:.2f} | {rate['ref']:.0f} | {ref['rss_mb']:.0f} | 1.0x |",
        f"| 2-process pydicom header loop | {loop['build_s']:.2f} | {rate['loop']:.0f} | {loop['rss_mb']:.0f} | practical limit |",
        "",
        f"Re-opening the indexed store: {1000 * ours['reopen_s']:.1f} ms (median of 5). "
        f"`sync()` with nothing changed: {1000 * ours['sync_s']:.0f} ms ({ours['sync_report']}).",
        "",
        "### QIDO latency (median of 3; the reference's all-instances query once)",
        "",
        "| query | expected | dicomfs ms (count) | reference ms (count) | speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, want in expected.items():
        a, b = ours["queries"][name], ref["queries"][name]
        note = "" if b["count"] == want else " (wrong count)"
        lines.append(
            f"| {name} | {want} | {1000 * a['s']:.1f} ({a['count']}) | "
            f"{1000 * b['s']:.1f} ({b['count']}){note} | {b['s'] / a['s']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--measure")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.root, args.db)))
    else:
        print(main(args.files))
