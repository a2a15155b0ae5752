"""A tree full of broken files: opening and syncing never raise, every file is indexed or
rejected with a one-line reason, and WADO on files damaged after indexing fails cleanly.

The guarantees tested here (API.md "DICOMfileClient": ``rejected()`` gives each unusable file
with a one-line reason; errors derive from DicomfsError) hold for any tree: corrupt files in a
tree are reported, never fatal.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brokenfiles
import factories
import pytest
from pydicom.fileset import FileSet

import dicomfs
from dicomfs.errors import CorruptFileError, DicomfsError, NotAcceptableError, NotFoundError
from dicomfs.storage import scan

pytestmark = pytest.mark.timeout(120)

#: The SOP Instance UIDs of the valid files of the tree (odd names, structures, DICOMDIR set).
GOOD = factories.sop_uid(1, 1, 1)


def _sop(n: int) -> str:
    return factories.sop_uid(1, 1, n)


def build_tree(root: Path, outside: Path) -> dict[str, str]:
    """Write the broken tree; returns ``relpath -> "indexed" | "rejected" | "skipped"``."""
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    (root / "good.dcm").write_bytes(brokenfiles.valid(1))
    expected["good.dcm"] = "indexed"
    broken = root / "broken"
    broken.mkdir()
    for name, data in brokenfiles.broken_files().items():
        (broken / name).write_bytes(data)
        expected[f"broken/{name}"] = "rejected"
    odd = root / "odd"
    odd.mkdir()
    for name, data in brokenfiles.odd_valid_files().items():
        (odd / name).write_bytes(data)
        expected[f"odd/{name}"] = "indexed"
    # A file and a folder whose names are not valid UTF-8 (POSIX allows any bytes but / and
    # NUL): the index keys paths by text, so they are rejected under an escaped name.
    raw_name = os.path.join(os.fsencode(odd), b"latin1-\xe9\xff.dcm")
    with open(raw_name, "wb") as fh:
        fh.write(brokenfiles.valid(27))
    expected["odd/latin1-\\xe9\\xff.dcm"] = "rejected"
    os.mkdir(os.path.join(os.fsencode(odd), b"folder-\xff"))
    with open(os.path.join(os.fsencode(odd), b"folder-\xff", b"inside.dcm"), "wb") as fh:
        fh.write(brokenfiles.valid(31))
    expected["odd/folder-\\xff"] = "rejected"
    # A directory named like a file, holding a file.
    (root / "IM0001.dcm").mkdir()
    (root / "IM0001.dcm" / "IM0001.dcm").write_bytes(brokenfiles.valid(28))
    expected["IM0001.dcm/IM0001.dcm"] = "indexed"
    # A DICOMDIR file set: the DICOMDIR is rejected (no instance UIDs), its instance indexed.
    fileset = FileSet()
    fileset.add(factories.make_instance(1, 1, 29, rows=4, columns=4))
    staging = outside / "fileset"
    fileset.write(staging)
    shutil.copytree(staging, root / "media")
    for path in sorted((root / "media").rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            expected[rel] = "rejected" if path.name == "DICOMDIR" else "indexed"
    # Special files and links: never opened, never followed.
    specials = root / "special"
    specials.mkdir()
    os.mkfifo(specials / "fifo.dcm")
    expected["special/fifo.dcm"] = "rejected"
    os.symlink("loop-b", specials / "loop-a")
    os.symlink("loop-a", specials / "loop-b")
    os.symlink("self", specials / "self")
    os.symlink("nowhere.dcm", specials / "dangling.dcm")
    (outside / "secret.dcm").write_bytes(brokenfiles.valid(99))
    os.symlink(outside / "secret.dcm", specials / "to-outside.dcm")
    os.symlink(outside, specials / "to-outside-dir")
    os.symlink("../../" + outside.name + "/secret.dcm", specials / "relative-escape.dcm")
    os.symlink("..", specials / "to-root")
    os.symlink("../.dicomfs", specials / "to-dicomfs")
    for name in ("loop-a", "loop-b", "self", "dangling.dcm", "to-outside.dcm", "to-outside-dir",
                 "relative-escape.dcm"):
        expected[f"special/{name}"] = "rejected"
    os.symlink("../good.dcm", specials / "to-inside.dcm")
    expected["special/to-inside.dcm"] = "skipped"  # the target is indexed under its own name
    expected["special/to-root"] = "skipped"
    expected["special/to-dicomfs"] = "rejected"
    # A deep folder chain and a long name.
    deep = root.joinpath(*[f"d{i}" for i in range(40)])
    deep.mkdir(parents=True)
    (deep / ("x" * 200 + ".dcm")).write_bytes(brokenfiles.valid(30))
    expected[deep.relative_to(root).as_posix() + "/" + "x" * 200 + ".dcm"] = "indexed"
    return expected


def _shown(path: str) -> str:
    """A path as the index shows it: bytes that are not UTF-8 escaped as ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _entries(root: Path) -> Iterator[str]:
    """Every non-directory entry under root (links not followed), relative POSIX paths; a
    folder whose name is not UTF-8 counts as one entry."""
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if rel.parts[:1] == (".dicomfs",) or _shown(str(rel)) != str(rel):
            continue
        for name in dirs:
            if os.path.islink(os.path.join(folder, name)) or _shown(name) != name:
                yield _shown((rel / name).as_posix())
        for name in files:
            yield _shown((rel / name).as_posix())


def _indexed_paths(client: dicomfs.DICOMfileClient) -> set[str]:
    return {p for p, (_s, _m, rejected) in client.ctx.repo.file_states().items() if not rejected}


def _open(root: Path, tmp_path: Path, **kwargs: Any) -> dicomfs.DICOMfileClient:
    return dicomfs.DICOMfileClient(root, db_dir=tmp_path / "index", **kwargs)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "root"
    expected = build_tree(root, tmp_path / "outside")
    return root, expected


def _check_accounting(client: dicomfs.DICOMfileClient, expected: dict[str, str]) -> None:
    indexed = _indexed_paths(client)
    rejected = {r.path: r.reason for r in client.rejected()}
    for path, fate in sorted(expected.items()):
        got = "indexed" if path in indexed else "rejected" if path in rejected else "skipped"
        assert got == fate, (path, got, rejected.get(path))
    assert set(indexed) | set(rejected) == {p for p, f in expected.items() if f != "skipped"}
    for path, reason in rejected.items():
        assert reason.strip() == reason and reason, (path, reason)
        assert "\n" not in reason and "\r" not in reason, (path, reason)
        assert len(reason) <= 400, (path, reason)


@pytest.mark.parametrize("workers", [1, 2])
def test_open_and_sync_a_broken_tree(
    tree: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    """Every file is indexed or rejected with a one-line reason; opening never raises.

    ``workers=2`` reads through the process pool (threshold lowered), where a worker that dies
    would break the whole sync.
    """
    root, expected = tree
    if workers > 1:
        monkeypatch.setattr(scan, "_POOL_MIN", 1)
        monkeypatch.setattr(scan, "_TASK_MIN", 5)
    with _open(root, tmp_path, workers=workers) as client:
        assert set(_entries(root)) == set(expected)
        _check_accounting(client, expected)
        report = client.last_sync
        assert report is not None
        assert report.added == sum(1 for f in expected.values() if f == "indexed")
        # Only the valid files are searchable, and the file outside the root never is.
        sops = sorted(i["00080018"]["Value"][0] for i in client.search_for_instances())
        assert sops == sorted([GOOD, *(_sop(n) for n in (4, 20, 21, 22, 23, 24, 25, 26, 28,
                                                         29, 30))])
        assert client.search_for_instances(search_filters={"SOPInstanceUID": _sop(99)}) == []
        again = client.sync()
        assert (again.added, again.updated, again.removed) == (0, 0, 0)
        assert again.unchanged == report.added
        assert sorted(again.rejected, key=lambda r: r.path) == sorted(
            client.rejected(), key=lambda r: r.path
        )


def test_broken_files_read_one_by_one(tmp_path: Path) -> None:
    """``scan.read_file`` on each broken file gives a Rejection, never an exception."""
    for name, data in brokenfiles.broken_files().items():
        (tmp_path / name).write_bytes(data)
        result = scan.read_file(tmp_path, name)
        assert isinstance(result, dicomfs.index.records.Rejection), name
        assert result.path == name
        assert "\n" not in result.reason and result.reason, name


def test_reasons_of_known_damage(tree: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """The reasons name the damage (one line each)."""
    root, _ = tree
    with _open(root, tmp_path, workers=1) as client:
        reasons = {r.path: r.reason for r in client.rejected()}
    assert reasons["broken/empty.dcm"] == "not a DICOM file (empty)"
    assert reasons["special/fifo.dcm"] == "not a regular file"
    assert reasons["special/loop-a"] == "symlink loop: not followed"
    assert reasons["special/self"] == "symlink loop: not followed"
    assert reasons["special/dangling.dcm"] == "broken symlink: target does not exist"
    assert reasons["special/to-outside.dcm"] == "symlink to outside the root: not followed"
    assert reasons["special/relative-escape.dcm"] == "symlink to outside the root: not followed"
    assert reasons["broken/huge-un-length.dcm"].startswith("truncated")
    assert reasons["broken/huge-pixel-length.dcm"].startswith("truncated")


# ---- files that change while the scanner reads them ---------------------------------------
def _mutating_walk(
    monkeypatch: pytest.MonkeyPatch, mutate: Callable[[], None]
) -> None:
    real_walk = scan.walk

    def walk(root: Path) -> Any:
        listed = real_walk(root)
        mutate()  # after listing, before reading
        return listed

    monkeypatch.setattr(scan, "walk", walk)


def _small_tree(root: Path) -> None:
    factories.write_datasets(root, factories.standard_datasets()[:4], layout="flat")


@pytest.mark.parametrize(
    "change",
    ["truncate", "delete", "grow", "replace-with-dir", "replace-with-fifo", "replace-with-link"],
)
def test_file_changes_between_listing_and_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A file that changes while being scanned: the sync does not raise, and the next sync
    notices the change (the file ends up indexed, rejected or removed, never stale)."""
    root = tmp_path / "root"
    _small_tree(root)
    victim = root / "IMG00001.dcm"
    original = victim.read_bytes()

    def mutate() -> None:
        if change == "truncate":
            victim.write_bytes(original[:200])
        elif change == "delete":
            victim.unlink()
        elif change == "grow":
            victim.write_bytes(original + b"\0" * 10)
        elif change == "replace-with-dir":
            victim.unlink()
            victim.mkdir()
        elif change == "replace-with-fifo":
            victim.unlink()
            os.mkfifo(victim)
        else:
            victim.unlink()
            os.symlink("/etc/hostname", victim)

    with _open(root, tmp_path, workers=1, in_memory=True) as client:
        _mutating_walk(monkeypatch, mutate)
        (root / "new.dcm").write_bytes(original.replace(
            factories.sop_uid(1, 1, 2).encode(), factories.sop_uid(1, 1, 7).encode()))
        client.sync()  # must not raise
        monkeypatch.undo()
        report = client.sync()
        states = client.ctx.repo.file_states()
        rejected = {r.path: r.reason for r in client.rejected()}
        if change == "delete":
            assert "IMG00001.dcm" not in states
        elif change == "replace-with-dir":
            assert "IMG00001.dcm" not in states
            assert report.removed == 1
        elif change == "grow":
            assert "IMG00001.dcm" in _indexed_paths(client) or "IMG00001.dcm" in rejected
        else:
            assert "IMG00001.dcm" in rejected, rejected
        for reason in rejected.values():
            assert "\n" not in reason


def test_folder_removed_while_walking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder listed, then removed before the walker enters it: sync does not raise."""
    root = tmp_path / "root"
    factories.write_datasets(root, factories.standard_datasets()[:4])
    real_scandir = os.scandir
    doomed = {str(p) for p in root.iterdir() if p.is_dir()}

    def scandir(path: Any) -> Any:
        if str(path) in doomed:
            shutil.rmtree(path)
        return real_scandir(path)

    with _open(root, tmp_path, workers=1, in_memory=True) as client:
        monkeypatch.setattr(scan.os, "scandir", scandir)
        report = client.sync()
        monkeypatch.undo()
        assert (report.added, report.removed) == (0, 4)
        assert client.search_for_instances() == []


# ---- WADO on files damaged after indexing --------------------------------------------------
MULTI = (factories.study_uid(2), factories.series_uid(2, 1), factories.sop_uid(2, 1, 2))


def _damage(path: Path, how: str, outside: Path) -> None:
    data = path.read_bytes()
    if how == "truncate-header":
        path.write_bytes(data[:300])
    elif how == "truncate-pixels":
        path.write_bytes(data[:-20])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(os.urandom(len(data)))
    elif how == "zeros":
        path.write_bytes(bytes(len(data)))
    elif how == "delete":
        path.unlink()
    elif how == "directory":
        path.unlink()
        path.mkdir()
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "link-outside":
        path.unlink()
        (outside / "secret.dcm").write_bytes(data)
        os.symlink(outside / "secret.dcm", path)
    elif how == "huge-length":
        at = data.find(b"\x10\x00\x10\x00PN")
        path.write_bytes(data[: at + 6] + b"\xf0\xff" + data[at + 8 :])
    elif how == "unreadable":
        os.chmod(path, 0)
    else:  # pragma: no cover
        raise AssertionError(how)


DAMAGE = [
    "truncate-header", "truncate-pixels", "empty", "delete", "directory", "fifo",
    "link-outside",
    # Damage that keeps the file's size: seen because the file's size and mtime no longer
    # match the index's record (StoredInstance.file_size/file_mtime_ns).
    "random", "zeros", "huge-length",
]

CLEAN = (CorruptFileError, NotFoundError)


def _wado_calls(client: dicomfs.DICOMfileClient) -> dict[str, Callable[[], Any]]:
    study, series, sop = MULTI
    bulk = f"{client.base_url}/studies/{study}/series/{series}/instances/{sop}/bulk/7FE00010"
    return {
        "retrieve_instance": lambda: client.retrieve_instance(study, series, sop),
        "retrieve_instance_as_stored": lambda: client.retrieve_instance(
            study, series, sop, media_types=(("application/dicom", "*"),)),
        "retrieve_series": lambda: client.retrieve_series(study, series),
        "retrieve_study": lambda: client.retrieve_study(study),
        "instance_metadata": lambda: client.retrieve_instance_metadata(study, series, sop),
        "series_metadata": lambda: client.retrieve_series_metadata(study, series),
        "frames": lambda: client.retrieve_instance_frames(study, series, sop, [1, 3]),
        "rendered": lambda: client.retrieve_instance_rendered(study, series, sop),
        "frames_rendered": lambda: client.retrieve_instance_frames_rendered(
            study, series, sop, [2], media_types=("image/png",)),
        "series_rendered": lambda: client.retrieve_series_rendered(
            study, series, media_types=("image/gif",)),
        "bulkdata": lambda: client.retrieve_bulkdata(bulk),
        "bulkdata_range": lambda: client.retrieve_bulkdata(bulk, byte_range=(0, 9)),
        "instance_bulkdata": lambda: client.retrieve_bulkdata(bulk.rsplit("/bulk/", 1)[0]),
    }


#: Calls that may still succeed after a given damage, because they only read what is intact
#: (or only the index).
_MAY_SUCCEED = {
    # The header and frames 1-2 are intact (the cut is in frame 3).
    "truncate-pixels": {"instance_metadata", "series_metadata", "rendered", "frames_rendered",
                        "series_rendered"},
}


@pytest.fixture
def damaged_store(tmp_path: Path) -> Iterator[tuple[dicomfs.DICOMfileClient, Path, Path]]:
    root = tmp_path / "root"
    factories.write_datasets(root, factories.standard_datasets(), layout="flat")
    outside = tmp_path / "outside"
    outside.mkdir()
    with _open(root, tmp_path, workers=1) as client:
        path = root / client.ctx.repo.instance(*MULTI).path
        yield client, path, outside


@pytest.mark.parametrize("how", DAMAGE)
def test_wado_on_a_file_damaged_after_indexing(
    damaged_store: tuple[dicomfs.DICOMfileClient, Path, Path], how: str
) -> None:
    """Every WADO call on an instance whose file was damaged after indexing raises
    CorruptFileError or NotFoundError (or, for a call that reads only intact bytes, succeeds);
    it never returns wrong data, raises a raw error, hangs on a FIFO or reads outside the root.
    The next sync notices the change."""
    client, path, outside = damaged_store
    _damage(path, how, outside)
    for name, call in _wado_calls(client).items():
        try:
            call()
        except CLEAN:
            continue
        except DicomfsError as exc:  # pragma: no cover - reported below
            pytest.fail(f"{name} after {how}: {type(exc).__name__}: {exc}")
        assert name in _MAY_SUCCEED.get(how, set()), f"{name} succeeded after {how}"
    report = client.sync()
    rel = path.relative_to(client.ctx.root).as_posix()
    rejected = {r.path: r.reason for r in client.rejected()}
    if how in ("delete", "directory"):
        assert report.removed == 1
        assert rel not in client.ctx.repo.file_states()
    else:
        assert rel in rejected, (how, rejected)
        assert "\n" not in rejected[rel]
    with pytest.raises(NotFoundError):
        client.retrieve_instance(*MULTI)


def test_unreadable_file_is_rejected(tmp_path: Path) -> None:
    """A file without read permission is rejected with a reason (skipped when running as root,
    which reads anyway)."""
    if os.geteuid() == 0:
        pytest.skip("root reads files without read permission")
    root = tmp_path / "root"
    _small_tree(root)
    os.chmod(root / "IMG00002.dcm", 0)
    try:
        with _open(root, tmp_path, workers=1) as client:
            reasons = {r.path: r.reason for r in client.rejected()}
        assert reasons["IMG00002.dcm"] == "unreadable: Permission denied"
    finally:
        os.chmod(root / "IMG00002.dcm", stat.S_IRUSR | stat.S_IWUSR)


# ---- WADO on well-formed files whose contents lie ------------------------------------------
HOSTILE = brokenfiles.hostile_indexed_files()
#: What WADO may raise for an instance whose pixel module or codestream is unusable.
WADO_ERRORS = (CorruptFileError, NotAcceptableError, NotFoundError)


@pytest.fixture(scope="module")
def lying_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dicomfs.DICOMfileClient]:
    root = tmp_path_factory.mktemp("lying") / "root"
    root.mkdir()
    for name, (_n, data) in HOSTILE.items():
        (root / name).write_bytes(data)
    with dicomfs.DICOMfileClient(root, in_memory=True, readonly=True, workers=1) as client:
        yield client


def _instance_calls(
    client: dicomfs.DICOMfileClient, sop: str
) -> dict[str, Callable[[], Any]]:
    study, series = factories.study_uid(1), factories.series_uid(1, 1)
    bulk = f"{client.base_url}/studies/{study}/series/{series}/instances/{sop}/bulk/7FE00010"
    return {
        "retrieve_instance": lambda: client.retrieve_instance(study, series, sop),
        "as_stored": lambda: client.retrieve_instance(
            study, series, sop, media_types=(("application/dicom", "*"),)),
        "as_rle": lambda: client.retrieve_instance(
            study, series, sop, media_types=(("application/dicom", "1.2.840.10008.1.2.5"),)),
        "metadata": lambda: client.retrieve_instance_metadata(study, series, sop),
        "frames": lambda: client.retrieve_instance_frames(study, series, sop, [1]),
        "frames_as_jpeg": lambda: client.retrieve_instance_frames(
            study, series, sop, [1], media_types=("image/jpeg",)),
        "rendered": lambda: client.retrieve_instance_rendered(study, series, sop),
        "rendered_png_window": lambda: client.retrieve_instance_rendered(
            study, series, sop, media_types=("image/png",),
            params={"window": "10,20,linear", "viewport": "8,8"}),
        "frames_rendered_gif": lambda: client.retrieve_instance_frames_rendered(
            study, series, sop, [1], media_types=("image/gif",)),
        "bulkdata": lambda: client.retrieve_bulkdata(bulk),
        "instance_bulkdata": lambda: client.retrieve_bulkdata(bulk.rsplit("/bulk/", 1)[0]),
    }


# pydicom warns (UserWarning) about the invalid values it reads from these files and goes on:
# that is its documented behaviour, not an error. Other warnings (numpy's) stay errors.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_wado_on_files_whose_contents_lie(
    lying_store: dicomfs.DICOMfileClient, name: str
) -> None:
    """A well-formed file with a lying Image Pixel module (Rows=0, BitsAllocated=12, a palette
    without a LUT, garbage codestreams, text in a DS...) is indexed or rejected; if indexed,
    every WADO call either succeeds or raises CorruptFileError / NotAcceptableError /
    NotFoundError, never a raw pydicom, numpy or PIL error."""
    number, _data = HOSTILE[name]
    rejected = {r.path: r.reason for r in lying_store.rejected()}
    if name in rejected:
        assert "\n" not in rejected[name] and rejected[name]
        return
    sop = factories.sop_uid(1, 1, number)
    for call_name, call in _instance_calls(lying_store, sop).items():
        try:
            call()
        except WADO_ERRORS as exc:
            assert str(exc), call_name
        except DicomfsError as exc:  # pragma: no cover - a documented class, but the wrong one
            pytest.fail(f"{call_name}: {type(exc).__name__}: {exc}")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_series_of_lying_files(lying_store: dicomfs.DICOMfileClient) -> None:
    """Series-level WADO over all the lying files fails cleanly or succeeds."""
    study, series = factories.study_uid(1), factories.series_uid(1, 1)
    for call in (
        lambda: lying_store.retrieve_series(study, series),
        lambda: lying_store.retrieve_series_metadata(study, series),
        lambda: lying_store.retrieve_series_rendered(study, series, media_types=("image/gif",)),
        lambda: lying_store.retrieve_bulkdata(
            f"{lying_store.base_url}/studies/{study}/series/{series}"),
    ):
        try:
            call()
        except WADO_ERRORS:
            pass
