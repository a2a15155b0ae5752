"""`make bench`: every benchmark, dicomfs and its reference in one run; writes docs/benchmarks.md.

Each section runs in its own subprocess (``bench_*.py``), prints markdown, and is collected here.
A section that fails is reported as failed, and the others still run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTIONS = [
    ("Index and QIDO (issue 2)", "bench_index.py"),
    ("WADO (issue 3)", "bench_wado.py"),
    ("STOW (issue 4)", "bench_stow.py"),
    ("Web client against Orthanc (issue 5)", "bench_web.py"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", help="run only sections whose script name contains this")
    args = parser.parse_args()
    header = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (tests/benchmarks/run.py); every section runs dicomfs and its",
        "reference in the same run on the same machine. Timings are wall-clock medians.",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
    ]
    body: list[str] = []
    for title, script in SECTIONS:
        if args.only and args.only not in script:
            continue
        path = HERE / script
        body.append(f"## {title}\n")
        if not path.exists():
            body.append(f"_{script} is not written yet._\n")
            continue
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
        took = time.perf_counter() - t
        if proc.returncode != 0:
            body.append(
                f"_{script} failed (exit {proc.returncode}):_\n\n```\n{proc.stderr[-2000:]}\n```\n"
            )
        else:
            body.append(proc.stdout.strip() + f"\n\n<!-- {script}: {took:.0f} s -->\n")
        print(body[-1], flush=True)
    text = "\n".join(header + body)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
