"""Regression tests, one per crash the robustness suite found (each names the input that
triggered it). Errors are the documented classes of API.md "Errors"; reasons are one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import brokenfiles
import factories
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dicomfs
from dicomfs.errors import BadRequestError, ConflictError, CorruptFileError, InvalidQueryError
from dicomfs.index.records import Rejection
from dicomfs.storage import safefile, scan
from dicomfs.transfer import UnusableFile, read_instance_file, store_files
from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.ingest import Inbox
from dicomfs.watch.runner import IndexKeeper
from dicomfs.watch.sync import Plan, WatchState


def test_huge_declared_length_does_not_allocate(tmp_path: Path) -> None:
    """A 896-byte file whose UN element declares 0xFFFFFFF0 bytes: pydicom's read(length)
    allocated 4 GB (MemoryError, or the OOM killer ending the scan). Now rejected as
    truncated."""
    (tmp_path / "huge.dcm").write_bytes(brokenfiles.broken_files()["huge-un-length.dcm"])
    result = scan.read_file(tmp_path, "huge.dcm")
    assert isinstance(result, Rejection)
    assert result.reason == ("truncated: element 00091010 of 4294967280 bytes ends beyond the "
                             "end of the file (896 bytes)")


def test_bounded_reader_clamps_reads(tmp_path: Path) -> None:
    """``BoundedReader.read(n)`` never asks past the end of the file."""
    (tmp_path / "f").write_bytes(b"0123456789")
    with safefile.open_stored(tmp_path, "f") as fh:
        assert fh.read(4) == b"0123"
        assert fh.read(2**40) == b"456789"
        assert fh.read(10) == b""


@pytest.mark.parametrize("kind", ["fifo", "link", "folder", "missing"])
def test_open_stored_refuses_what_replaced_a_file(tmp_path: Path, kind: str) -> None:
    """A FIFO put in place of an indexed file made WADO block forever in open(); a symlink
    made it read outside the root. Both are CorruptFileError now."""
    path = tmp_path / "IM1"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link":
        (tmp_path / "outside").write_bytes(b"secret")
        os.symlink(tmp_path / "outside", path)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(CorruptFileError, match=r"^IM1: "):
        safefile.open_stored(tmp_path, "IM1")


def test_name_not_utf8_is_rejected_not_fatal(tmp_path: Path) -> None:
    """A file named b"\\xff.dcm" made sync raise UnicodeEncodeError (SQLite), so the store
    could not be opened at all."""
    root = tmp_path / "root"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), b"\xff.dcm"), "wb") as fh:
        fh.write(brokenfiles.valid(1))
    with dicomfs.DICOMfileClient(root, in_memory=True, workers=1) as client:
        assert [(r.path, r.reason) for r in client.rejected()] == [
            ("\\xff.dcm", "name is not valid UTF-8: not indexed")
        ]
        assert client.search_for_instances() == []
        report = client.sync()
        assert (report.added, report.removed, len(report.rejected)) == (0, 0, 1)


def test_workers_must_be_an_integer(tmp_path: Path) -> None:
    """``workers=""`` raised TypeError ('<' between str and int) from the scanner."""
    with pytest.raises(BadRequestError, match=r"workers must be at least 1 \(an integer\), got ''"):
        dicomfs.DICOMfileClient(tmp_path / "r", in_memory=True, workers="")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("1" + ".2" * 128, "File name too long"),  # ENAMETOOLONG raised OSError
        ("\ud800", "cannot create store root"),  # a lone surrogate raised UnicodeEncodeError
        ("a\x00b", "NUL"),  # raised ValueError on mkdir
        ("", "empty store path"),  # Path("") is "." : the current folder was indexed
        ("file://", "file URL without a path"),  # same
    ],
)
def test_constructor_bad_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str,
                              message: str) -> None:
    """Bad roots give a one-line BadRequestError and create nothing."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadRequestError, match=message) as info:
        dicomfs.DICOMfileClient(url, in_memory=True)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_index_open_error_is_one_line(tmp_path: Path) -> None:
    """An index SQLite cannot open gave SQLAlchemy's two-line text; now one line."""
    db_dir = tmp_path / "db"
    (db_dir / "index.sqlite").mkdir(parents=True)  # a folder where the database file should be
    with pytest.raises(BadRequestError) as info:
        dicomfs.DICOMfileClient(tmp_path / "store", db_dir=db_dir)
    assert "\n" not in str(info.value)
    assert str(info.value).endswith("(sqlite3.OperationalError) unable to open database file")


@pytest.mark.parametrize("name", ["?", "a?b=c", "a#b", "a b", "a%20b", "é"])
def test_root_names_that_mean_something_in_urls(tmp_path: Path, name: str) -> None:
    """A root named "?" put its index in the parent folder's "?"-less name (the SQLite URL
    ended there), outside the root; a root with a space gave RetrieveURLs that are not valid
    UR values. Now the index lives in <root>/.dicomfs and the URLs are percent-encoded."""
    root = tmp_path / name
    with dicomfs.DICOMfileClient(root) as client:
        client.store_instances([factories.make_instance(1, 1, 1)])
        (found,) = client.search_for_instances()
        assert client.base_url == root.as_uri()
        url = found["00081190"]["Value"][0]
        assert url.startswith(root.as_uri() + "/studies/") and " " not in url
        metadata = client.retrieve_instance_metadata(
            factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)
        )
        assert client.retrieve_bulkdata(metadata["7FE00010"]["BulkDataURI"])
    assert (root / ".dicomfs" / "index.sqlite").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    with dicomfs.DICOMfileClient(root.as_uri()) as again:  # the same store by its file URL
        assert len(again.search_for_instances()) == 1


def test_render_params_with_mixed_key_types(tmp_path: Path) -> None:
    """``params={None: "40,400", "charset": None}`` raised TypeError while sorting the unknown
    keys; ``params={"\\n": 0}`` gave a two-line message. Now one line naming them."""
    factories.write_datasets(tmp_path, factories.standard_datasets()[:1])
    with dicomfs.DICOMfileClient(tmp_path, in_memory=True, workers=1) as client:
        with pytest.raises(InvalidQueryError, match="unknown rendering parameters: None, charset"):
            client.retrieve_instance_rendered(
                factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1),
                params={None: "40,400", "charset": None},
            )
        with pytest.raises(InvalidQueryError, match=r"^unknown rendering parameters: '\\n'$"):
            client.retrieve_instance_rendered(
                factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1),
                params={"\n": 0},
            )


def test_stow_of_a_deeply_nested_dataset(tmp_path: Path) -> None:
    """A dataset nested 3000 sequences deep raised RecursionError from store_instances; now a
    ConflictError whose reason is one line (I-07 failure 0x0110 = 272)."""
    ds = factories.make_instance(5, 5, 5)
    current = ds
    for _ in range(3000):
        item = Dataset()
        current.ReferencedImageSequence = Sequence([item])
        current = item
    with dicomfs.DICOMfileClient(tmp_path / "r", in_memory=True) as client:
        with pytest.raises(ConflictError) as info:
            client.store_instances([ds])
    assert str(info.value).startswith("no instance was stored: 272 (cannot encode the dataset")
    assert "\n" not in str(info.value)


def test_stow_encoding_errors_are_one_line(tmp_path: Path) -> None:
    """``Rows = " "`` made pydicom's encoding error text (three lines) the ConflictError."""
    ds = factories.make_instance(5, 5, 6)
    with pytest.warns(UserWarning, match="cannot be assigned to a tag with VR US"):
        ds["Rows"].value = " "
    with dicomfs.DICOMfileClient(tmp_path / "r", in_memory=True) as client:
        with pytest.raises(ConflictError) as info:
            client.store_instances([ds])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "skip", "reason"),
    [
        ("truncated-pixels-minus-1.dcm", False,
         "cannot be read (EOFError): truncated: element 7FE00010 holds 511 of its 512 bytes"),
        ("huge-un-length.dcm", False,
         "cannot be read (EOFError): truncated: element 00091010 holds 336 of its 4294967280 "
         "bytes"),
        ("text.txt", True, "not a DICOM file"),
    ],
)
def test_store_files_refuses_broken_files(tmp_path: Path, name: str, skip: bool,
                                          reason: str) -> None:
    """``dicomfs store`` read files with plain dcmread: a truncated file was stored cut short
    (pydicom reads a short last element quietly), a huge length allocated gigabytes."""
    path = tmp_path / name
    path.write_bytes(brokenfiles.broken_files()[name])
    with pytest.raises(UnusableFile) as info:
        read_instance_file(path)
    assert (info.value.skip, info.value.reason) == (skip, reason)


def test_store_files_skips_a_fifo(tmp_path: Path) -> None:
    """A FIFO in a folder given to ``dicomfs store`` made dcmread block forever."""
    os.mkfifo(tmp_path / "fifo")
    with dicomfs.DICOMfileClient(tmp_path / "r", in_memory=True) as client:
        summary = store_files(client, [tmp_path / "fifo"])
    assert (summary.stored, summary.failed, summary.skipped) == (
        [], [], [(str(tmp_path / "fifo"), "not a regular file")])


def test_watcher_rejects_a_name_not_utf8(tmp_path: Path) -> None:
    """The index keeper (``dicomfs watch ROOT``) crashed with UnicodeEncodeError on a file
    named b"\\xff.dcm"; now it rejects it as the sync does."""
    root = tmp_path / "root"
    root.mkdir()
    with dicomfs.DICOMfileClient(root, in_memory=True) as client:
        name = os.fsdecode(b"\xff.dcm")
        with open(os.path.join(os.fsencode(root), b"\xff.dcm"), "wb") as fh:
            fh.write(brokenfiles.valid(1))
        events: list[WatchEvent] = []
        keeper = IndexKeeper(client, events.append)
        keeper.apply(Plan(ready=[name]), WatchState(), 0.0)
        assert [(e.action, e.path, e.reason) for e in events] == [
            ("rejected", "\\xff.dcm", "name is not valid UTF-8: not indexed")]
        os.remove(os.path.join(os.fsencode(root), b"\xff.dcm"))
        events.clear()
        keeper.apply(Plan(removed=[name]), WatchState(), 1.0)
        assert [(e.action, e.path) for e in events] == [("removed", "\\xff.dcm")]
        assert client.rejected() == []


def test_inbox_rejects_a_deeply_nested_file(tmp_path: Path) -> None:
    """A file nested 5000 sequences deep dropped in an inbox raised RecursionError out of
    the ingest loop (the watcher died); now it goes to .rejected/ with a reason."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "deep.dcm").write_bytes(brokenfiles.broken_files()["deep-sequence-5000.dcm"])
    with dicomfs.DICOMfileClient(tmp_path / "store", in_memory=True) as client:
        events = Inbox(inbox, client).ingest(["deep.dcm"], WatchState(), 0.0)
    assert [(e.action, e.path) for e in events] == [("rejected", "deep.dcm")]
    assert events[0].reason.startswith("cannot be parsed (RecursionError)")
    assert (inbox / ".rejected" / "deep.dcm").exists()


@pytest.fixture
def one_instance(tmp_path: Path) -> dicomfs.DICOMfileClient:
    factories.write_datasets(tmp_path, factories.standard_datasets()[:1])
    return dicomfs.DICOMfileClient(tmp_path, in_memory=True, workers=1)


UIDS = (factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1))


def test_search_refuses_uids_with_leading_zeros(one_instance: dicomfs.DICOMfileClient) -> None:
    """PS3.5 9.1 (B-08): "1.02.3" is no UID; WADO refused it, search answered []."""
    with one_instance as client:
        with pytest.raises(InvalidQueryError, match="leading zero"):
            client.search_for_series("1.02.3")
        with pytest.raises(InvalidQueryError):
            client.search_for_instances(UIDS[0], "1.02.3")
        with pytest.raises(InvalidQueryError):
            client.search_for_studies(search_filters={"StudyInstanceUID": "1.2,1.02.3"})
        assert client.search_for_studies(search_filters={"StudyInstanceUID": "1.0.3"}) == []


def test_frames_rendered_needs_frame_numbers(one_instance: dicomfs.DICOMfileClient) -> None:
    """F-02: ``frame_numbers=None`` rendered the first frame; it is a bad argument."""
    with one_instance as client, pytest.raises(InvalidQueryError, match="sequence of integers"):
        client.retrieve_instance_frames_rendered(*UIDS, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyword", ["PatientName", "StudyDescription", "AccessionNumber"])
def test_an_overlong_query_value_is_a_bad_query(
    one_instance: dicomfs.DICOMfileClient, keyword: str
) -> None:
    """A 60,000-character PatientName raised SQLite's "LIKE or GLOB pattern too complex"."""
    with one_instance as client:
        for fuzzy in (False, True):
            with pytest.raises(InvalidQueryError, match="at most 10240"):
                client.search_for_studies(search_filters={keyword: "a" * 60_000},
                                          fuzzymatching=fuzzy)
        assert client.search_for_studies(search_filters={keyword: "a" * 10_239 + "*"}) == []


@pytest.mark.parametrize("window", ["1e308,1e308,linear", "-1e308,1e308,linear",
                                    "0,1e-310,linear-exact", "1e308,1e-300,sigmoid"])
def test_extreme_windows_render_without_warnings(
    one_instance: dicomfs.DICOMfileClient, window: str
) -> None:
    """H-08: valid but extreme windows overflowed in numpy (a RuntimeWarning, an error here)."""
    with one_instance as client:
        image = client.retrieve_instance_rendered(
            *UIDS, media_types=["image/png"], params={"window": window}
        )
    assert image[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_transfer_syntax_pydicom_does_not_know(tmp_path: Path) -> None:
    """2024's Deflated Image Frame Compression (1.2.840.10008.1.2.8.1): a file of it was
    rejected by the index ("UID is not a transfer syntax") and refused by STOW; it is indexed,
    stored and served as stored (decoding it is 406)."""
    import struct

    from dicomfs.errors import NotAcceptableError

    item = b"\xfe\xff\x00\xe0"
    ds = factories.make_instance(transfer_syntax="1.2.840.10008.1.2.8.1", bits=8)
    ds.PixelData = item + bytes(4) + item + struct.pack("<L", 4) + b"\x78\x9c\x03\x00"
    ds["PixelData"].VR = "OB"
    uids = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    with dicomfs.DICOMfileClient(tmp_path / "a") as client:
        assert len(client.store_instances([ds]).ReferencedSOPSequence) == 1
    with dicomfs.DICOMfileClient(tmp_path / "a", recreate_db=True) as client:  # by the scanner
        assert client.rejected() == []
        stored = client.retrieve_instance(*uids, media_types=[("application/dicom", "*")])
        assert stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.8.1"
        assert stored.PixelData == ds.PixelData
        with pytest.raises(NotAcceptableError):
            client.retrieve_instance(*uids)
