"""The dicomfs command line, in-process (CliRunner) against the standard store (tests/factories).

Exit codes: 0 ok, 1 error, 2 usage (API.md "Command line").
"""

from __future__ import annotations

import json
from pathlib import Path

import factories
import pytest
from clirun import invoke, invoke_json

from dicomfs.file.client import DICOMfileClient

S1, S2 = factories.study_uid(1), factories.study_uid(2)
S1_SE1, S2_SE1 = factories.series_uid(1, 1), factories.series_uid(2, 1)
MULTIFRAME = factories.sop_uid(2, 1, 2)  # 3 frames, 4x4, 16 bits

COMMANDS = [
    [], ["index"], ["search"], ["search", "studies"], ["search", "series"],
    ["search", "instances"], ["retrieve"], ["retrieve", "studies"], ["retrieve", "series"],
    ["retrieve", "instances"], ["retrieve", "studies", "metadata"], ["retrieve", "studies", "full"],
    ["retrieve", "series", "metadata"], ["retrieve", "series", "full"],
    ["retrieve", "series", "rendered"], ["retrieve", "instances", "metadata"],
    ["retrieve", "instances", "full"], ["retrieve", "instances", "frames"],
    ["retrieve", "instances", "rendered"], ["store"], ["delete"], ["copy"], ["watch"], ["check"],
    ["serve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "dicomfs")
def test_every_command_has_help(command: list[str]) -> None:
    """`--help` works everywhere and exits 0."""
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: dicomfs {' '.join(command)}".rstrip() + " [OPTIONS]")


def test_index_prints_a_summary_and_the_rejected_files(standard_tree: Path, tmp_path: Path) -> None:
    """`dicomfs index` counts added/updated/removed/unchanged/rejected and lists rejections."""
    root = tmp_path / "tree"
    factories.write_datasets(root, factories.standard_datasets())
    (root / "notes.txt").write_text("hello\n")
    result = invoke("index", root)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{root}: 12 added, 0 updated, 0 removed, 0 unchanged, 1 rejected"
    assert lines[1] == "index: 5 studies, 8 series, 12 instances, 1 rejected"
    assert lines[3].split() == ["Rejected", "file", "Reason"]
    assert lines[5].startswith("notes.txt  ")
    (root / "notes.txt").unlink()
    again = invoke_json("index", root)
    assert (again["added"], again["removed"], again["unchanged"], again["rejected"]) == (
        0, 1, 12, [])
    assert again["totals"] == {"instances": 12, "rejected": 0, "series": 8, "studies": 5}
    rebuilt = invoke_json("index", root, "--rebuild")
    assert (rebuilt["added"], rebuilt["unchanged"]) == (12, 0)


def test_search_studies_table_and_json(store: Path) -> None:
    """QIDO through the CLI: filters, limit, exact JSON (C-01, L-01)."""
    table = invoke("search", "studies", "--root", store, "--filter", "PatientName=DOE*")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["StudyInstanceUID", "PatientName", "PatientID"]
    assert [line.split()[0] for line in lines[2:-1]] == sorted([S1, S2])
    assert lines[-1] == "2 studies found"
    # The table shows the descriptions it has columns for (asked for as includefield).
    assert "CHEST PA" in table.stdout and "chest ct" in table.stdout
    found = invoke_json("search", "studies", "--root", store, "--filter", "PatientID=P1-0001")
    assert [r["0020000D"]["Value"] for r in found] == [[S1]]
    assert found[0]["00100010"]["Value"] == [{"Alphabetic": "DOE^JOHN"}]
    assert invoke_json("search", "studies", "--root", store, "--limit", "0") == []


def test_url_option_is_percent_decoded(store: Path, tmp_path: Path) -> None:
    """``--url file:///...`` names the folder its percent-encoded path names (as the library's
    ``DICOMfileClient(url)`` does): a root with a space in its name, given as ``%20``."""
    spaced = tmp_path / "a store"
    store.rename(spaced)
    found = invoke_json("search", "studies", "--url", spaced.as_uri(), "--limit", "1")
    assert len(found) == 1
    assert found[0]["00081190"]["Value"][0].startswith(spaced.as_uri() + "/studies/")
    missing = invoke("search", "studies", "--url", (tmp_path / "none").as_uri())
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_search_series_and_instances_scoped(store: Path) -> None:
    """--study and --series scope the search (QIDO hierarchy)."""
    series = invoke_json("search", "series", "--root", store, "--study", S1)
    assert sorted(r["0020000E"]["Value"][0] for r in series) == [
        factories.series_uid(1, n) for n in (1, 2, 3)]
    instances = invoke_json("search", "instances", "--root", store, "--study", S1,
                            "--series", S1_SE1, "--field", "PatientName")
    assert sorted(r["00080018"]["Value"][0] for r in instances) == [
        factories.sop_uid(1, 1, n) for n in (1, 2, 3)]
    one = invoke("search", "instances", "--root", store, "--study", S1, "--series", S1_SE1)
    assert one.stdout.splitlines()[-1] == "3 instances found"
    two = invoke("search", "series", "--root", store, "--filter", "Modality=SEG")
    assert two.stdout.splitlines()[-1] == "1 series found"


def test_options_may_come_before_the_subcommand(store: Path) -> None:
    """`dicomfs --json search studies --root R` equals `... --json` at the end."""
    first = invoke("--json", "search", "studies", "--root", store)
    last = invoke("search", "studies", "--root", store, "--json")
    assert first.exit_code == last.exit_code == 0
    assert json.loads(first.stdout) == json.loads(last.stdout)
    assert len(json.loads(first.stdout)) == 5


def test_retrieve_metadata_json_and_save(store: Path, tmp_path: Path) -> None:
    """Metadata as DICOM JSON (G-01); --save writes <SOPInstanceUID>.json."""
    meta = invoke_json("retrieve", "instances", "--study", S2, "--series", S2_SE1,
                       "--instance", MULTIFRAME, "metadata", "--root", store)
    assert meta["00280008"]["Value"] == [3]
    out = tmp_path / "out"
    result = invoke("retrieve", "series", "--study", S2, "--series", S2_SE1, "metadata",
                    "--save", "--output-dir", out, "--root", store)
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{factories.sop_uid(2, 1, n)}.json" for n in (1, 2))


def test_retrieve_full_and_frames_save_named_files(store: Path, tmp_path: Path) -> None:
    """full --save writes <SOP>.dcm; frames --save writes <SOP>_<frame>.raw with native bytes
    (F-01: frames are octet-stream by default)."""
    out = tmp_path / "out"
    result = invoke("retrieve", "studies", "--study", S2, "full", "--save", "--output-dir", out,
                    "--root", store)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "2 files written"
    frames = invoke("retrieve", "instances", "--study", S2, "--series", S2_SE1, "--instance",
                    MULTIFRAME, "frames", "--numbers", "1,3", "--save", "--output-dir", out,
                    "--root", store)
    assert frames.exit_code == 0, frames.output
    frame3 = (out / f"{MULTIFRAME}_3.raw").read_bytes()
    assert frame3 == factories.make_instance(2, 1, 2, frames=3).PixelData[2 * 32:3 * 32]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{factories.sop_uid(2, 1, 1)}.dcm", f"{MULTIFRAME}.dcm", f"{MULTIFRAME}_1.raw",
         f"{MULTIFRAME}_3.raw"])
    table = invoke("retrieve", "instances", "--study", S2, "--series", S2_SE1, "--instance",
                   MULTIFRAME, "frames", "--numbers", "2", "--root", store)
    assert table.stdout.splitlines()[2].split() == ["2", "32", "raw"]


def test_retrieve_rendered_saves_images(store: Path, tmp_path: Path) -> None:
    """rendered --save writes <SOP>.jpg, <SOP>_<frame>.png and <Series>.gif (H-01)."""
    out = tmp_path / "out"
    common = ["--save", "--output-dir", str(out), "--root", str(store)]
    target = ["--study", S2, "--series", S2_SE1]
    assert invoke("retrieve", "instances", *target, "--instance", MULTIFRAME, "rendered",
                  *common).exit_code == 0
    assert invoke("retrieve", "instances", *target, "--instance", MULTIFRAME, "rendered",
                  "--numbers", "2", "--media-type", "image/png", *common).exit_code == 0
    assert invoke("retrieve", "series", *target, "rendered", "--media-type", "image/gif",
                  *common).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{MULTIFRAME}.jpg", f"{MULTIFRAME}_2.png", f"{S2_SE1}.gif"])
    assert (out / f"{MULTIFRAME}_2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_store_folder_with_include_skips_non_dicom(tmp_path: Path) -> None:
    """store: folders recursively, --include filters, non-DICOM files are skipped (I-01)."""
    src = tmp_path / "src"
    factories.write_datasets(src / "a", [factories.make_instance(7, 1, n) for n in (1, 2)],
                             layout="flat")
    factories.write_datasets(src / "b", [factories.make_instance(7, 2, 1)], layout="flat")
    (src / "a" / "README").write_text("not dicom")
    root = tmp_path / "new-store"
    only_a = invoke_json("store", "--root", root, src, "--include", "^a/")
    assert [Path(p).name for p in only_a["stored"]] == ["IMG00000.dcm", "IMG00001.dcm"]
    assert [(Path(s["path"]).name, s["reason"]) for s in only_a["skipped"]] == [
        ("README", "not a DICOM file")]
    assert only_a["failed"] == []
    result = invoke("store", "--root", root, src / "b")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["1 stored, 0 failed, 0 skipped (of 1 files)"]
    with DICOMfileClient(root) as client:
        assert len(client.search_for_instances()) == 3


def test_store_into_the_wrong_study_fails_with_exit_code_1(store: Path, tmp_path: Path) -> None:
    """--study X with an instance of study Y: not stored, listed, exit code 1 (I-09)."""
    src = tmp_path / "one.dcm"
    factories.make_instance(8, 1, 1).save_as(src, enforce_file_format=True)
    result = invoke("store", "--root", store, src, "--study", S1)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "0 stored, 1 failed, 0 skipped (of 1 files)"


def test_delete_then_not_found(store: Path) -> None:
    """delete removes a series; deleting it again is an error (exit 1), one line, no traceback."""
    result = invoke("delete", "--root", store, "--study", S1, "--series", S1_SE1)
    assert (result.exit_code, result.stdout) == (0, f"deleted series {S1_SE1}\n")
    again = invoke("delete", "--root", store, "--study", S1, "--series", S1_SE1)
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: ")
    assert len(again.stderr.splitlines()) == 1
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["search", "studies"], 2),  # no store
        (["search", "studies", "--root", "R", "--url", "http://127.0.0.1:9"], 2),
        (["search", "studies", "--root", "R", "--filter", "nokey"], 2),
        (["search", "studies", "--root", "R", "--filter", "NotAKeyword=1"], 2),
        (["search", "studies", "--root", "R", "--filter", "StudyDate=2020x"], 2),
        (["search", "studies", "--root", "R", "--limit", "-1"], 2),
        (["delete", "--root", "R", "--study", "1..2"], 2),
        (["delete", "--root", "R", "--study", "1.2", "--instance", "1.3"], 2),
        (["retrieve", "studies", "--study", "1.2.3", "metadata", "--root", "R"], 1),
        (["copy", "--from", "R", "--to", "R2", "--series", "1.2"], 2),
        (["serve", "R", "--port", "-1"], 2),  # serve runs until a signal: a bad option
        (["nosuchcommand"], 2),
    ],
)
def test_exit_codes(store: Path, tmp_path: Path, args: list[str], code: int) -> None:
    """0 ok, 1 error, 2 usage; messages are one line (A-01, A-03: bad query values are 400)."""
    args = [str(store) if a == "R" else str(tmp_path / "r2") if a == "R2" else a for a in args]
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ")


def test_verbose_shows_the_traceback(store: Path) -> None:
    """-v adds the traceback to the one-line message."""
    result = invoke("-v", "retrieve", "studies", "--study", "1.2.3", "metadata", "--root", store)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr


def test_check_and_repair(store: Path) -> None:
    """check: exit 0 when the index agrees, 1 when a file is not indexed; --repair fixes it."""
    assert invoke_json("check", store)["ok"] is True
    factories.make_instance(9, 1, 1).save_as(store / "extra.dcm", enforce_file_format=True)
    result = invoke("check", store)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        "13 files: 1 not indexed, 0 missing, 0 changed, 0 stale temporary files")
    assert invoke("check", store, "--repair").exit_code == 0
    assert invoke("check", store).exit_code == 0


def test_check_without_an_index_writes_nothing(standard_tree: Path, tmp_path: Path) -> None:
    """'dicomfs check' on a folder never indexed made an empty index, and the store then looked
    empty to every later command: it now says so, exit 1, and leaves the folder untouched."""
    import shutil

    root = tmp_path / "fresh"
    shutil.copytree(standard_tree, root)
    result = invoke("check", root)
    assert result.exit_code == 1
    assert "has no index yet" in result.output
    assert not (root / ".dicomfs").exists()
    assert len(invoke_json("search", "studies", "--root", root)) == 5


def test_url_without_a_scheme_is_a_usage_error(tmp_path: Path) -> None:
    """'--url 127.0.0.1:8765/dicomweb' (no http://) stored into a new local folder of that name."""
    result = invoke("search", "studies", "--url", "127.0.0.1:8765/dicomweb")
    assert result.exit_code == 2
    assert "--url takes http[s]://... or file:///..." in result.output
    assert not Path("127.0.0.1:8765").exists()


def test_serve_readonly_needs_db(store: Path) -> None:
    """--readonly without --db: a usage error naming --db (it named the Python arguments)."""
    result = invoke("serve", store, "--readonly", "--port", "0")
    assert result.exit_code == 2
    assert "--db" in result.output
