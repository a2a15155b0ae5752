"""`make bench`: every benchmark, dicomfs and its reference in one run; writes docs/benchmarks.md.

Each section runs in its own subprocess (``bench_*.py``), prints markdown, and is collected here.
A section that fails is reported as failed, and the others still run. The STOW section runs
first (the file is written in the order of :data:`SECTIONS`): the others remove temporary stores,
and on an ext4 without a journal every file created in the minutes after thousands were
removed is much slower to create (see ``bench_stow.py``). A hand-written block of the output
between :data:`KEEP_START` and :data:`KEEP_END` (the targets of the issues and where the last
run stands) is carried over to the new file.
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
        "- command: `make bench` (about 2 minutes; the 20,000-file tree is generated once into "
        "`data/bench/`)",
        "",
    ]
    if args.out and args.out.exists():
        header += _kept(args.out.read_text())
    sections: dict[str, str] = {}
    for title, script in sorted(SECTIONS, key=lambda section: section[1] != "bench_stow.py"):
        if args.only and args.only not in script:
            continue
        sections[title] = _run(script)
        print(f"## {title}\n\n{sections[title]}", flush=True)
    body = [f"## {title}\n\n{sections[title]}" for title, _ in SECTIONS if title in sections]
    text = "\n".join(header + body)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")


#: A hand-written block of the output file between these lines is kept when it is rewritten.
KEEP_START, KEEP_END = "<!-- kept by run.py: start -->", "<!-- kept by run.py: end -->"


def _kept(text: str) -> list[str]:
    """The kept block of an earlier output (markers included), or nothing."""
    start, end = text.find(KEEP_START), text.find(KEEP_END)
    if start < 0 or end < start:
        return []
    return [text[start : end + len(KEEP_END)], ""]


def _run(script: str) -> str:
    """The markdown of one section (or why it failed)."""
    path = HERE / script
    if not path.exists():
        return f"_{script} is not written yet._\n"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        return f"_{script} failed (exit {proc.returncode}):_\n\n```\n{proc.stderr[-2000:]}\n```\n"
    return proc.stdout.strip() + f"\n\n<!-- {script}: {took:.0f} s -->\n"


if __name__ == "__main__":
    main()
