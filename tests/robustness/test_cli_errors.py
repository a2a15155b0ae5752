"""The command line with bad arguments: one ``Error: ...`` line on stderr, no traceback (unless
-v), exit code 1 (runtime error) or 2 (usage), and nothing lost (API.md "Command line").

Most cases run in-process through click's CliRunner; a few run the real entry point in a
subprocess. The only network address used is a closed loopback port (127.0.0.1:9).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import factories
import pytest
from click.testing import CliRunner, Result

from dicomfs.cli.main import cli
from dicomfs.file.client import DICOMfileClient

REPO = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9/"  # the discard port: nothing listens on it here
S1, SE1, I1 = factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
MULTI = (factories.study_uid(2), factories.series_uid(2, 1), factories.sop_uid(2, 1, 2))


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory,
           standard_tree: Path) -> Iterator[dict[str, str]]:
    """R: an indexed store; F: a plain file; D: a DICOM file; N: a missing path; E: an empty
    folder; O: a folder for output; B: a broken DICOM file (cut at 300 bytes); FIFO: a FIFO."""
    base = tmp_path_factory.mktemp("cli-errors")
    root = base / "store"
    shutil.copytree(standard_tree, root)
    DICOMfileClient(root, workers=1).close()
    (base / "file.txt").write_text("not a folder\n")
    dicom = base / "one.dcm"
    factories.make_instance(9, 1, 1).save_as(dicom, enforce_file_format=True)
    (base / "broken.dcm").write_bytes(dicom.read_bytes()[:300])
    (base / "empty").mkdir()
    os.mkfifo(base / "fifo")
    yield {"R": str(root), "F": str(base / "file.txt"), "D": str(dicom),
           "N": str(base / "missing" / "folder"), "E": str(base / "empty"),
           "O": str(base / "out"), "B": str(base / "broken.dcm"), "BASE": str(base),
           "FIFO": str(base / "fifo")}


def _run(places: dict[str, str], args: list[str]) -> Result:
    argv = [places.get(a, a) for a in args]
    return CliRunner().invoke(cli, argv, catch_exceptions=True)


def _digest(root: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".dicomfs"]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root)] = fh.read()
    return out


def _check_error(result: Result, codes: tuple[int, ...]) -> str:
    """The one-line error contract; returns the error line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"raised {result.exception!r}"
    )
    assert result.exit_code in codes, (result.exit_code, result.stdout, result.stderr)
    stderr = result.stderr
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert len(errors[0]) > len("Error: ") + 3, stderr
    if result.exit_code == 1:
        assert stderr.count("\n") == 1 and stderr.startswith("Error: "), stderr
    return errors[0]


#: (arguments, allowed exit codes). R, F, D, N, E, O, B are replaced by the places above.
CASES: list[tuple[list[str], tuple[int, ...]]] = [
    # index / check: missing root, a file, a missing path, bad options
    (["index"], (2,)),
    (["index", "N"], (1, 2)),
    (["index", "F"], (1, 2)),
    (["index", "R", "--workers", "0"], (2,)),
    (["index", "R", "--workers", "abc"], (2,)),
    (["index", "R", "--db", "notaurl"], (1, 2)),
    (["index", "R", "--db", "mysql://127.0.0.1:9/x"], (1, 2)),
    (["check"], (2,)),
    (["check", "N"], (1, 2)),
    (["check", "F"], (1, 2)),
    (["check", "R", "--workers", "-3"], (2,)),
    # search: store options, filters, paging, UIDs
    (["search", "studies"], (2,)),
    (["search", "nothing", "--root", "R"], (2,)),
    (["search", "studies", "--root", "N"], (1, 2)),
    (["search", "studies", "--root", "F"], (1, 2)),
    (["search", "studies", "--root", "R", "--url", CLOSED], (2,)),
    (["search", "studies", "--url", CLOSED], (1,)),
    (["search", "series", "--url", CLOSED, "--study", S1], (1,)),
    (["search", "studies", "--url", "ftp://127.0.0.1:9/"], (1, 2)),
    (["search", "studies", "--url", "file:///nonexistent-dicomfs-root"], (1, 2)),
    (["search", "studies", "--root", "R", "--filter", "K"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "=V"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "NotAKeyword=1"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "patientname=DOE"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "StudyDate=2020-13-45"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "StudyDate=20200101-20190101"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "0010=1"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "PixelData=1"], (2,)),
    (["search", "studies", "--root", "R", "--filter", "SOPInstanceUID=1.2"], (2,)),
    (["search", "studies", "--root", "R", "--field", "NotAKeyword"], (2,)),
    (["search", "studies", "--root", "R", "--limit", "-1"], (2,)),
    (["search", "studies", "--root", "R", "--limit", "abc"], (2,)),
    (["search", "studies", "--root", "R", "--limit", "1e3"], (2,)),
    (["search", "studies", "--root", "R", "--offset", "-5"], (2,)),
    (["search", "series", "--root", "R", "--study", "../.."], (2,)),
    (["search", "instances", "--root", "R", "--series", SE1], (2,)),
    (["search", "instances", "--root", "R", "--study", "1.2.3\\4", "--series", SE1], (2,)),
    # retrieve
    (["retrieve", "studies", "--study", "1.2.3", "metadata", "--root", "R"], (1,)),
    (["retrieve", "studies", "--study", "../../etc", "metadata", "--root", "R"], (2,)),
    (["retrieve", "studies", "metadata", "--root", "R"], (2,)),
    (["retrieve", "studies", "--study", S1, "metadata", "--url", CLOSED], (1,)),
    (["retrieve", "series", "--study", S1, "metadata", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", S1, "--series", SE1, "full", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", S1, "--series", SE1, "--instance", "9.9",
      "full", "--root", "R"], (1,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--numbers", "0", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--numbers", "abc", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--numbers", "9", "--root", "R"], (1,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--numbers", "\u00b2", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--numbers", ",", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--numbers", "99999999999999999999999", "--root", "R"], (1, 2)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "frames", "--media-type", "text/html", "--root", "R"], (1, 2)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "rendered", "--media-type", "application/pdf", "--root", "R"], (1, 2)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "rendered", "--param", "window", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "rendered", "--param", "quality=500", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "rendered", "--param", "bogus=1", "--root", "R"], (2,)),
    (["retrieve", "instances", "--study", MULTI[0], "--series", MULTI[1], "--instance",
      MULTI[2], "full", "--media-type", "application/dicom;transfer-syntax=1.2.3",
      "--root", "R"], (1, 2)),
    (["retrieve", "studies", "--study", S1, "metadata", "--save", "--output-dir", "F",
      "--root", "R"], (1, 2)),
    (["retrieve", "studies", "--study", S1, "full", "--save", "--output-dir", "D",
      "--root", "R"], (1, 2)),
    # store
    (["store", "--root", "R"], (2,)),
    (["store", "D"], (2,)),
    (["store", "--root", "R", "N"], (1, 2)),
    (["store", "--root", "R", "B"], (1,)),
    (["store", "--root", "R", "FIFO"], (1, 2)),
    (["store", "--root", "R", "D", "--include", "["], (2,)),
    (["store", "--root", "R", "D", "--study", "not-a-uid"], (2,)),
    (["store", "--root", "R", "D", "--batch-size", "0"], (2,)),
    (["store", "--root", "F", "D"], (1, 2)),
    (["store", "--url", CLOSED, "D"], (1,)),
    # delete
    (["delete", "--root", "R"], (2,)),
    (["delete", "--root", "R", "--study", "bad uid"], (2,)),
    (["delete", "--root", "R", "--study", "9.9.9"], (1,)),
    (["delete", "--root", "R", "--study", S1, "--series", "9.9"], (1,)),
    (["delete", "--root", "R", "--study", S1, "--instance", I1], (2,)),
    (["delete", "--url", CLOSED, "--study", S1], (1,)),
    (["delete", "--root", "N", "--study", S1], (1, 2)),
    # copy
    (["copy", "--from", "R"], (2,)),
    (["copy", "--to", "O"], (2,)),
    (["copy", "--from", "N", "--to", "O"], (1, 2)),
    (["copy", "--from", CLOSED, "--to", "O"], (1,)),
    (["copy", "--from", "R", "--to", CLOSED], (1,)),
    (["copy", "--from", "R", "--to", "F"], (1, 2)),
    (["copy", "--from", "R", "--to", "O", "--study", "x/../y"], (2,)),
    (["copy", "--from", "R", "--to", "O", "--study", "9.9.9"], (1,)),
    # watch (only arguments rejected before watching starts)
    (["watch"], (2,)),
    (["watch", "N"], (1, 2)),
    (["watch", "F"], (1, 2)),
    (["watch", "E", "--into", "F"], (1, 2)),
    (["watch", "E", "--into", "E"], (1, 2)),
    (["watch", "E", "--poll-interval", "0"], (2,)),
    (["watch", "E", "--settle", "-1"], (2,)),
    # serve (only arguments rejected before serving starts)
    (["serve"], (2,)),
    (["serve", "N"], (1, 2)),
    (["serve", "F"], (1, 2)),
    (["serve", "R", "--port", "abc"], (2,)),
    (["serve", "R", "--port", "99999"], (2,)),
    (["serve", "R", "--port", "-1"], (2,)),
    (["serve", "R", "--max-results", "-1"], (2,)),
    (["serve", "R", "--host", "203.0.113.1"], (1, 2)),
    (["serve", "R", "--host", "no such host name"], (1, 2)),
    # the group
    (["nosuchcommand"], (2,)),
    (["--nosuchoption"], (2,)),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("args", "codes"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_arguments(places: dict[str, str], args: list[str], codes: tuple[int, ...]) -> None:
    """One ``Error:`` line on stderr, no traceback, exit 1 or 2; the store is unchanged and
    nothing is created in place of a missing path."""
    before = _digest(places["R"])
    _check_error(_run(places, args), codes)
    assert _digest(places["R"]) == before
    assert not os.path.exists(places["N"])


@pytest.mark.parametrize(
    "args",
    [["search", "studies", "--url", CLOSED], ["delete", "--root", "R", "--study", "9.9.9"],
     ["retrieve", "studies", "--study", "1.2.3", "metadata", "--root", "R"]],
)
def test_verbose_adds_the_traceback(places: dict[str, str], args: list[str]) -> None:
    """-v shows the traceback, and the last line is still the one-line error."""
    result = _run(places, ["-v", *args])
    assert result.exit_code in (1, 2)
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ")


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dicomfs", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["search", "studies", "--url", CLOSED], 1),
        (["search", "studies", "--root", "R", "--filter", "K"], 2),
        (["index", "F"], 2),
        (["store", "--root", "R", "B"], 1),
    ],
)
def test_entry_point_errors(places: dict[str, str], args: list[str], code: int) -> None:
    """The real entry point: same one line, same exit code, no traceback."""
    result = _subprocess(*[places.get(a, a) for a in args], cwd=Path(places["BASE"]))
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    if code == 1:
        assert result.stderr.count("\n") == 1


def test_a_root_with_corrupt_files_indexes_and_reports(tmp_path: Path) -> None:
    """``dicomfs index`` on a tree with broken files: exit 0, the rejected files listed with
    their one-line reasons."""
    root = tmp_path / "root"
    factories.write_datasets(root, factories.standard_datasets()[:2], layout="flat")
    (root / "empty.dcm").write_bytes(b"")
    (root / "name\nwith newline.dcm").write_bytes(b"DICM")
    os.mkfifo(root / "fifo")
    result = CliRunner().invoke(cli, ["index", str(root), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    json_result = CliRunner().invoke(cli, ["index", str(root), "--json"])
    assert json_result.exit_code == 0, json_result.output
