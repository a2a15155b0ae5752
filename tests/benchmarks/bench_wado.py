"""WADO latency: dicomfs vs dicomweb-client 0.61.2's DICOMfileClient (issue 3).

Synthetic data is written to a temporary folder: a 500-frame uncompressed instance (256x256,
16-bit), a 50-frame JPEG 2000 lossless instance (pydicom + pylibjpeg-openjpeg encoder), a 512x512
16-bit CT, and a 500-instance series. Usage: ``python tests/benchmarks/bench_wado.py`` prints a
markdown section (wall-clock medians).

Targets: a frame as stored <= 0.5 ms whatever its position; a rendered 512x512 PNG <= 20 ms;
series metadata no slower than the reference.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import JPEG2000Lossless
from requests import HTTPError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import factories  # noqa: E402

import dicomfs  # noqa: E402


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up (file cache, imports)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def build(root: Path) -> dict[str, tuple[str, str, str]]:
    """Write the benchmark instances under ``root``; returns name -> (study, series, sop)."""
    out: dict[str, tuple[str, str, str]] = {}
    rng = np.random.default_rng(0)
    big = factories.make_instance(90, 1, 1, rows=256, columns=256, frames=500)
    out["mf500"] = (big.StudyInstanceUID, big.SeriesInstanceUID, big.SOPInstanceUID)
    j2k = factories.make_instance(91, 1, 1, rows=256, columns=256, frames=50, BitsStored=12,
                                  HighBit=11)
    j2k.PixelData = (rng.integers(0, 4096, (50, 256, 256), dtype=np.uint16)).tobytes()
    j2k.compress(JPEG2000Lossless, generate_instance_uid=False)
    out["j2k50"] = (j2k.StudyInstanceUID, j2k.SeriesInstanceUID, j2k.SOPInstanceUID)
    yy, xx = np.mgrid[0:512, 0:512]
    ct = factories.make_instance(92, 1, 1, rows=512, columns=512, RescaleIntercept=-1024,
                                 WindowCenter=40, WindowWidth=400)
    ct.PixelData = ((yy * 3 + xx * 2) % 4096).astype(np.uint16).tobytes()
    out["ct512"] = (ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID)
    series = [factories.make_instance(93, 1, i, rows=128, columns=128) for i in range(1, 501)]
    out["series500"] = (series[0].StudyInstanceUID, series[0].SeriesInstanceUID, "")
    factories.write_datasets(root, [big, j2k, ct, *series], layout="flat")
    return out


def _cases(client: Any, uids: dict[str, tuple[str, str, str]]) -> dict[str, Callable[[], Any]]:
    mf, j2k, ct, series = uids["mf500"], uids["j2k50"], uids["ct512"], uids["series500"]
    return {
        "frame 1 of 500 (uncompressed)": lambda: client.retrieve_instance_frames(*mf, [1]),
        "frame 500 of 500 (uncompressed)": lambda: client.retrieve_instance_frames(*mf, [500]),
        "JPEG 2000 frame 50, as stored": lambda: client.retrieve_instance_frames(
            *j2k, [50], media_types=("image/jp2",)
        ),
        "JPEG 2000 frame 50, decoded": lambda: client.retrieve_instance_frames(*j2k, [50]),
        "rendered PNG 512x512 CT": lambda: client.retrieve_instance_rendered(
            *ct, media_types=("image/png",)
        ),
        "rendered JPEG 512x512 CT": lambda: client.retrieve_instance_rendered(
            *ct, media_types=("image/jpeg",)
        ),
        "series metadata, 500 instances": lambda: client.retrieve_series_metadata(*series[:2]),
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


REPEATS = {"series metadata, 500 instances": 5}


def _run(client: Any, uids: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    out = {}
    for name, fn in _cases(client, uids).items():
        try:
            out[name] = f"{_median_ms(fn, REPEATS.get(name, 50)):.3f}"
        except (HTTPError, ValueError, LookupError, RuntimeError, NotImplementedError) as exc:
            out[name] = f"fails ({type(exc).__name__})"
    return out


def main() -> str:
    """Build the data, time both clients, print and return a markdown table."""
    import dicomweb_client

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        uids = build(root)
        with dicomfs.DICOMfileClient(root, db_dir=Path(tmp) / "dicomfs") as client:
            ours = _run(client, uids)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = dicomweb_client.DICOMfileClient(
                url=root.as_uri(), db_dir=_mkdir(Path(tmp) / "dwc")
            )
            theirs = _run(reference, uids)
    lines = [
        "Frames from a 500-frame uncompressed instance and a JPEG 2000 multi-frame, rendered "
        "512x512",
        "16-bit CT, metadata of a 500-instance series (median ms). The reference answers frames "
        "as stored",
        'only (its "decoded" JPEG 2000 frame is the codestream).',
        "",
        "| operation | dicomfs (ms) | dicomweb-client 0.61.2 DICOMfileClient (ms) |",
        "|---|---:|---:|",
        *(f"| {name} | {ours[name]} | {theirs[name]} |" for name in ours),
    ]
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    main()
