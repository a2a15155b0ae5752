"""Hypothesis over the whole public API of DICOMfileClient: bad input gets a clear error and
loses nothing.

For each of the 22 protocol methods, arguments are drawn from strategies that mix valid values
(UIDs of the store, real keywords, media types, BulkDataURIs) with garbage (path traversal, NUL,
very long text, unicode, None, numbers, containers, bytes). Every call must either succeed or
raise one of the documented errors (API.md "Errors": InvalidQueryError, BadRequestError,
NotFoundError, NotAcceptableError, ReadOnlyError, ConflictError, UnsupportedError), never
KeyError, TypeError, OSError, a SQLAlchemy or pydicom error, and never hang (pytest-timeout).
CONFORMANCE A-05 (a bad value is a 400), D-09 (a malformed search is a 400), E-14 (unknown
resources are 404), L-03 (errors carry their HTTP status), L-04 (bad media types raise
ValueError).

A Python audit hook records every file the client opens, renames or removes during a call: none
may lie outside the store's root (a sentinel folder next to the root, reachable through symlinks
planted in the tree and through ``../`` in UIDs and URLs), nothing may be written outside the
root and the index folder, and the tree is byte-identical after every read-only call and every
failed call.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import factories
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

import dicomfs
from dicomfs.errors import (
    BadRequestError,
    ConflictError,
    DicomfsError,
    InvalidQueryError,
    NotAcceptableError,
    NotFoundError,
    ReadOnlyError,
    UnsupportedError,
)
from dicomfs.protocol import METHODS

pytestmark = pytest.mark.timeout(300)

#: The documented errors (API.md "Errors"); CorruptFileError cannot happen on a healthy store.
DOCUMENTED = (
    InvalidQueryError, BadRequestError, NotFoundError, NotAcceptableError, ReadOnlyError,
    ConflictError, UnsupportedError,
)

FUZZ = settings(
    max_examples=100,
    derandomize=bool(os.environ.get("CI")),  # CI replays the same examples; locally they vary
    deadline=timedelta(seconds=10),  # generous: a hang is caught by pytest-timeout
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SECRET = b"SECRET-OUTSIDE-THE-ROOT"
SENTINEL_STUDY = factories.UID_ROOT + ".66.1"
SENTINEL_SERIES = factories.UID_ROOT + ".66.2"
SENTINEL_SOP = factories.UID_ROOT + ".66.3"

# ---- the standard store and its UIDs -------------------------------------------------------
STUDIES = [factories.study_uid(n) for n in range(1, 6)]
SERIES = [(factories.study_uid(1), factories.series_uid(1, 1)),
          (factories.study_uid(2), factories.series_uid(2, 1))]
INSTANCES = [(factories.study_uid(1), factories.series_uid(1, 1), factories.sop_uid(1, 1, 1)),
             (factories.study_uid(2), factories.series_uid(2, 1), factories.sop_uid(2, 1, 2)),
             (factories.study_uid(1), factories.series_uid(1, 3), factories.sop_uid(1, 3, 1))]


# ---- watching file access ------------------------------------------------------------------
class _Watch:
    """The audit hook's state: on while a call runs, the events seen then."""

    active = False
    owner: int | None = None
    events: list[tuple[str, str, bool]] = []  # noqa: RUF012


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _Watch.active or threading.get_ident() != _Watch.owner:
        return
    if event == "open":
        path, mode, flags = [*args, None, None][:3]
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # an fd
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        )
        _Watch.events.append((event, os.fsdecode(path), writes))
    elif event in ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.symlink",
                   "os.truncate", "os.link", "shutil.rmtree", "shutil.move", "os.chmod"):
        for path in args[:2]:
            if isinstance(path, (str, bytes, os.PathLike)):
                _Watch.events.append((event, os.fsdecode(path), True))


sys.addaudithook(_audit)


def _inside(path: str, folder: Path) -> bool:
    real = os.path.realpath(path)
    base = os.path.realpath(folder)
    return real == base or real.startswith(base + os.sep)


@contextmanager
def _watched() -> Iterator[list[tuple[str, str, bool]]]:
    _Watch.events = []
    _Watch.owner = threading.get_ident()
    _Watch.active = True
    try:
        yield _Watch.events
    finally:
        _Watch.active = False


def _tree_digest(root: Path) -> dict[str, str]:
    """Path -> content hash (or link target) of everything under root but the index folder."""
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if rel.parts[:1] == (".dicomfs",):
            dirs[:] = []
            continue
        out[rel.as_posix() + "/"] = "dir"
        for name in files + dirs:
            path = Path(folder) / name
            if path.is_symlink():
                out[(rel / name).as_posix()] = "-> " + os.readlink(path)
            elif path.is_file():
                out[(rel / name).as_posix()] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


# ---- fixtures ------------------------------------------------------------------------------
class Store:
    """A store under test, with what the checks need to know about it."""

    def __init__(self, client: dicomfs.DICOMfileClient, root: Path, index: Path,
                 outside: Path) -> None:
        self.client = client
        self.root = root
        self.index = index
        self.outside = outside
        self.outside_digest = _tree_digest(outside)


def _plant(base: Path) -> tuple[Path, Path]:
    """A root holding the standard store, and a sentinel folder next to it linked from the
    tree by symlinks (to the file, to the folder, relative)."""
    root, outside = base / "root", base / "outside"
    factories.write_datasets(root, factories.standard_datasets())
    outside.mkdir()
    sentinel = factories.make_instance(1, 1, 1, rows=4, columns=8, bits=8,
                                       StudyInstanceUID=SENTINEL_STUDY,
                                       SeriesInstanceUID=SENTINEL_SERIES,
                                       SOPInstanceUID=SENTINEL_SOP)
    sentinel.file_meta.MediaStorageSOPInstanceUID = SENTINEL_SOP
    sentinel.PixelData = (SECRET + b"!" * 32)[:32]
    sentinel.save_as(outside / "sentinel.dcm", enforce_file_format=True)
    (outside / "sentinel.txt").write_bytes(SECRET)
    os.symlink(outside / "sentinel.dcm", root / "link-to-sentinel.dcm")
    os.symlink(outside, root / "link-to-outside")
    first = next(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    os.symlink("../../outside/sentinel.dcm", first / "relative-link.dcm")
    os.symlink("loop", root / "loop")
    return root, outside


@pytest.fixture(scope="module")
def ro_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    base = tmp_path_factory.mktemp("fuzz-ro")
    root, outside = _plant(base)
    index = base / "index"
    with dicomfs.DICOMfileClient(root, db_dir=index, readonly=True, workers=1) as client:
        assert client.search_for_studies(search_filters={"StudyInstanceUID": SENTINEL_STUDY}) == []
        yield Store(client, root, index, outside)


@pytest.fixture(scope="module")
def rw_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    base = tmp_path_factory.mktemp("fuzz-rw")
    root, outside = _plant(base)
    with dicomfs.DICOMfileClient(root, workers=1) as client:
        yield Store(client, root, root / ".dicomfs", outside)


# ---- the check every call goes through -----------------------------------------------------
def _leaks(value: Any) -> bool:
    """Whether a result holds anything of the sentinel outside the root."""
    if isinstance(value, (bytes, bytearray)):
        return SECRET in value
    if isinstance(value, Dataset):
        return value.get("SOPInstanceUID") == SENTINEL_SOP or SECRET in bytes(
            value.get("PixelData") or b""
        )
    if isinstance(value, (list, tuple)):
        return any(_leaks(v) for v in value)
    if isinstance(value, dict):
        return SENTINEL_STUDY in repr(value)
    return False


def check_call(store: Store, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``store.client.<name>``; assert the robustness contract; return the result or the
    documented error raised."""
    read_only_method = not name.startswith(("store_", "delete_"))
    before = _tree_digest(store.root)
    failed = False
    with _watched() as events:
        try:
            result = getattr(store.client, name)(*args, **kwargs)
            if name.startswith("iter_"):
                result = list(result)
        except DOCUMENTED as exc:
            failed = True
            result = exc
            assert isinstance(exc, DicomfsError)
            text = str(exc)
            assert text and "\n" not in text, (name, text)
            assert exc.response.status_code == type(exc).status_code
    for event, path, writes in events:
        assert not _inside(path, store.outside), f"{name} touched {path} ({event})"
        if writes:
            assert _inside(path, store.root) or _inside(path, store.index), (
                f"{name} wrote {path} ({event})"
            )
    assert not _leaks(result), f"{name} returned data from outside the root"
    if read_only_method or failed:
        assert _tree_digest(store.root) == before, f"{name} changed the tree ({result!r})"
    assert _tree_digest(store.outside) == store.outside_digest
    return result


# ---- strategies ----------------------------------------------------------------------------
HOSTILE_TEXT = [
    "", " ", "../", "..", "/", "//", "\\", "a/b", "../../outside/sentinel.dcm",
    "/etc/passwd", "file:///etc/passwd", "1.2.3\x00", "\x00", "1.2.3/../..",
    "1." * 40 + "1", "é中文", "\ud800", "*", "?", "%", "_", "[", "'", '"', "1.2.3,1.2.4",
    "1.2.3\\1.2.4", "-", "0", "-1", "NaN", "inf", "1e309", "\n", "\r\n", "${jndi:x}",
    "'; DROP TABLE instances; --", "SELECT", "%00", "%2e%2e%2f",
]
HOSTILE = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.integers(min_value=65, max_value=20_000).map(lambda n: "1" + ".2" * (n // 2)),
    st.integers(min_value=1000, max_value=20_000).map(lambda n: "x" * n),
)

garbage: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), HOSTILE,
    st.binary(max_size=16), st.lists(st.one_of(st.text(max_size=6), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.tuples(st.text(max_size=4)), st.just(object()), st.just(Path("/etc")),
)


def uids(valid: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), HOSTILE, garbage,
                     st.just(SENTINEL_STUDY), st.just(SENTINEL_SOP))


KEYWORDS = [
    "PatientName", "PatientID", "StudyDate", "StudyTime", "AccessionNumber", "Modality",
    "ModalitiesInStudy", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
    "00100010", "00100020", "0020000d", "SeriesNumber", "InstanceNumber", "StudyDescription",
    "NumberOfStudyRelatedInstances", "RequestAttributesSequence.ScheduledProcedureStepID",
    "00400275.00400009", "PixelData", "Rows", "PatientBirthDate", "PatientSex", "includefield",
    "limit", "offset", "fuzzymatching", "patientname", "Foo", "0010", "0010001", "001000100",
    "ggggggggg", "00100010.", ".00100010", "PatientName.PatientName", "StudyDate.",
    "SOPClassUID", "ReferringPhysicianName", "TimezoneOffsetFromUTC", "00080005",
]
VALUES = [
    "DOE*", "*", "?", "DOE^JOHN", "doe", "Müller*", "=王^小東", "20200101-20201231", "20200101",
    "-20200101", "20200101-", "-", "2020", "20201301", "20200101-20190101", "093000-100000",
    "24", "1.2.3", "1.2.3,1.2.4", "CT", "CT\\MR", "ACC0001", "ACC*", "100%", "A_B", "",
    "19991231235959.5-", "20200101093000-20200102",
]
filter_keys = st.one_of(st.sampled_from(KEYWORDS), HOSTILE, st.text(max_size=12),
                        st.integers(), st.none(), st.booleans(), st.binary(max_size=4))
filter_values = st.one_of(st.sampled_from(VALUES), garbage,
                          st.lists(st.one_of(st.sampled_from(VALUES), garbage), max_size=3))
search_filters = st.one_of(st.dictionaries(filter_keys, filter_values, max_size=3), garbage)
fields = st.one_of(
    st.lists(st.one_of(st.sampled_from([*KEYWORDS, "all", "ALL", "00081048,00081049"]),
                       garbage), max_size=4),
    garbage, st.sampled_from(["all", "PatientName", "PatientName,StudyDate"]),
)
paging = st.one_of(st.none(), st.integers(min_value=-3, max_value=20), garbage)

MEDIA_TYPES = [
    "application/dicom", "application/dicom+json", "application/json", "application/octet-stream",
    "image/jpeg", "image/png", "image/gif", "image/jp2", "image/jls", "image/dicom-rle",
    "image/*", "*/*", "*", "text/html", "multipart/related", "video/mpeg", "image/jpeg; q=0.5",
    "application/dicom; transfer-syntax=*", "application/pdf", "image/bmp",
]
SYNTAXES = [
    "*", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.1.99", "1.2.3",
]
media_type = st.one_of(
    st.sampled_from(MEDIA_TYPES),
    st.tuples(st.sampled_from(MEDIA_TYPES), st.one_of(st.sampled_from(SYNTAXES), garbage)),
    garbage,
    st.tuples(st.sampled_from(MEDIA_TYPES), st.sampled_from(SYNTAXES), st.text(max_size=3)),
)
media_types = st.one_of(st.none(), st.lists(media_type, max_size=3).map(tuple), garbage,
                        st.lists(media_type, max_size=2))
PARAM_VALUES = [
    "40,400", "40,400,linear", "40,400,sigmoid", "40,400,linear_exact", "40,0", "40,-1",
    "a,b", "1,2,3,4", "", "8,8", "0,0", "-1,5", "100000,100000", "64,", "1", "50", "0", "101",
    "-5", "yes", "1,1,1,1", "1e308,1e308", "nan,nan", "inf,1",
]
render_params = st.one_of(
    st.dictionaries(
        st.one_of(st.sampled_from(["window", "viewport", "quality", "annotation", "charset",
                                   "region", "iccprofile", "bogus"]), garbage.filter(
            lambda k: isinstance(k, (str, int, bytes, type(None), float, bool)))),
        st.one_of(st.sampled_from(PARAM_VALUES), garbage),
        max_size=3,
    ),
    garbage,
)
frame_numbers = st.one_of(
    st.lists(st.one_of(st.integers(min_value=-2, max_value=5), garbage), max_size=4), garbage,
    st.just([1]), st.just([3, 1, 2]), st.just(range(1, 3)), st.just([2**63]),
)
byte_range = st.one_of(
    st.none(), garbage, st.tuples(st.integers(-5, 300), st.integers(-5, 300)),
    st.tuples(garbage, garbage), st.tuples(st.integers(0, 10), st.integers(2**63, 2**70)),
    st.lists(st.integers(0, 50), min_size=2, max_size=2),
)


def bulk_urls(base: str) -> st.SearchStrategy[Any]:
    study, series, sop = INSTANCES[1]
    inst = f"{base}/studies/{study}/series/{series}/instances/{sop}"
    valid = [f"{inst}/bulk/7FE00010", f"{inst}/bulk/7fe00010", inst, f"{inst}/bulkdata",
             f"{base}/studies/{study}", f"{base}/studies/{study}/series/{series}/bulkdata",
             f"{base}/studies/{factories.study_uid(1)}/series/{factories.series_uid(1, 1)}/"
             f"instances/{factories.sop_uid(1, 1, 1)}/bulk/00400275/0/00400009"]
    return st.one_of(
        st.sampled_from(valid),
        st.builds(lambda v, h: v + "/" + h, st.sampled_from(valid), HOSTILE),
        st.builds(lambda h: f"{inst}/bulk/{h}", st.one_of(HOSTILE, st.text(max_size=20))),
        st.builds(lambda h: f"{base}/{h}", st.one_of(HOSTILE, st.text(max_size=40))),
        st.just(f"{base}/../outside/sentinel.dcm"), st.just(f"{base}/studies/../../outside"),
        st.just(f"{base}/studies/{SENTINEL_STUDY}/series/{SENTINEL_SERIES}/instances/"
                f"{SENTINEL_SOP}/bulk/7FE00010"),
        st.just(base.replace("file://", "file://localhost")), garbage, HOSTILE,
    )


fuzzy = st.one_of(st.none(), st.booleans(), garbage)
study_uids = uids(STUDIES)
series_pairs = st.one_of(st.sampled_from(SERIES), st.tuples(study_uids, uids([s for _, s in SERIES])))
instance_triples = st.one_of(
    st.sampled_from(INSTANCES),
    st.tuples(study_uids, uids([s for _, s, _ in INSTANCES]), uids([i for _, _, i in INSTANCES])),
)
additional = st.one_of(st.none(), st.dictionaries(st.text(max_size=3), garbage, max_size=2))
search_kwargs = {
    "fuzzymatching": fuzzy, "limit": paging, "offset": paging, "fields": fields,
    "search_filters": search_filters, "get_remaining": fuzzy, "additional_params": additional,
}


# ---- one property per protocol method ------------------------------------------------------
@FUZZ
@given(kwargs=st.fixed_dictionaries({}, optional=search_kwargs))
def test_search_for_studies(ro_store: Store, kwargs: dict[str, Any]) -> None:
    """A-05, D-09: any argument gives results or InvalidQueryError / BadRequestError."""
    result = check_call(ro_store, "search_for_studies", **kwargs)
    if not isinstance(result, Exception):
        assert isinstance(result, list) and all(isinstance(r, dict) for r in result)


@FUZZ
@given(study=st.one_of(st.none(), study_uids),
       kwargs=st.fixed_dictionaries({}, optional=search_kwargs))
def test_search_for_series(ro_store: Store, study: Any, kwargs: dict[str, Any]) -> None:
    """A-05, D-09, D-10."""
    result = check_call(ro_store, "search_for_series", study, **kwargs)
    if not isinstance(result, Exception):
        assert isinstance(result, list)


@FUZZ
@given(scope=st.one_of(st.tuples(st.none(), st.none()), series_pairs,
                       st.tuples(st.none(), uids([s for _, s in SERIES]))),
       kwargs=st.fixed_dictionaries({}, optional=search_kwargs))
def test_search_for_instances(ro_store: Store, scope: tuple[Any, Any],
                              kwargs: dict[str, Any]) -> None:
    """A-05, D-09, D-10."""
    result = check_call(ro_store, "search_for_instances", *scope, **kwargs)
    if not isinstance(result, Exception):
        assert isinstance(result, list)


@FUZZ
@given(study=study_uids, mt=media_types, extra=additional)
def test_retrieve_study(ro_store: Store, study: Any, mt: Any, extra: Any) -> None:
    """E-14, L-04."""
    result = check_call(ro_store, "retrieve_study", study, mt, additional_params=extra)
    if not isinstance(result, Exception):
        assert all(isinstance(ds, Dataset) for ds in result)


@FUZZ
@given(study=study_uids, mt=media_types)
def test_iter_study(ro_store: Store, study: Any, mt: Any) -> None:
    """E-14, L-04."""
    check_call(ro_store, "iter_study", study, media_types=mt)


@FUZZ
@given(study=study_uids)
def test_retrieve_study_metadata(ro_store: Store, study: Any) -> None:
    """E-14."""
    result = check_call(ro_store, "retrieve_study_metadata", study)
    if not isinstance(result, Exception):
        assert isinstance(result, list) and result


@FUZZ
@given(pair=series_pairs, mt=media_types)
def test_retrieve_series(ro_store: Store, pair: tuple[Any, Any], mt: Any) -> None:
    """E-14, L-04."""
    check_call(ro_store, "retrieve_series", *pair, media_types=mt)


@FUZZ
@given(pair=series_pairs, mt=media_types)
def test_iter_series(ro_store: Store, pair: tuple[Any, Any], mt: Any) -> None:
    """E-14, L-04."""
    check_call(ro_store, "iter_series", *pair, media_types=mt)


@FUZZ
@given(pair=series_pairs)
def test_retrieve_series_metadata(ro_store: Store, pair: tuple[Any, Any]) -> None:
    """E-14."""
    check_call(ro_store, "retrieve_series_metadata", *pair)


@FUZZ
@given(pair=series_pairs, mt=media_types, params=st.one_of(st.none(), render_params))
def test_retrieve_series_rendered(ro_store: Store, pair: tuple[Any, Any], mt: Any,
                                  params: Any) -> None:
    """H: rendered resources; bad params are a 400."""
    result = check_call(ro_store, "retrieve_series_rendered", *pair, media_types=mt,
                        params=params)
    if not isinstance(result, Exception):
        assert isinstance(result, bytes) and result


@FUZZ
@given(triple=instance_triples, mt=media_types)
def test_retrieve_instance(ro_store: Store, triple: tuple[Any, Any, Any], mt: Any) -> None:
    """E-14, L-04."""
    result = check_call(ro_store, "retrieve_instance", *triple, media_types=mt)
    if not isinstance(result, Exception):
        assert isinstance(result, Dataset)


@FUZZ
@given(triple=instance_triples)
def test_retrieve_instance_metadata(ro_store: Store, triple: tuple[Any, Any, Any]) -> None:
    """E-14."""
    result = check_call(ro_store, "retrieve_instance_metadata", *triple)
    if not isinstance(result, Exception):
        assert isinstance(result, dict)


@FUZZ
@given(triple=instance_triples, mt=media_types, params=st.one_of(st.none(), render_params))
def test_retrieve_instance_rendered(ro_store: Store, triple: tuple[Any, Any, Any], mt: Any,
                                    params: Any) -> None:
    """H: rendered resources; bad params are a 400."""
    check_call(ro_store, "retrieve_instance_rendered", *triple, media_types=mt, params=params)


@FUZZ
@given(triple=instance_triples, frames=frame_numbers, mt=media_types)
def test_retrieve_instance_frames(ro_store: Store, triple: tuple[Any, Any, Any], frames: Any,
                                  mt: Any) -> None:
    """F: a frame number that is not a positive integer is a 400, past the end a 404."""
    result = check_call(ro_store, "retrieve_instance_frames", *triple, frames, media_types=mt)
    if not isinstance(result, Exception):
        assert all(isinstance(f, bytes) for f in result)


@FUZZ
@given(triple=instance_triples, frames=frame_numbers, mt=media_types)
def test_iter_instance_frames(ro_store: Store, triple: tuple[Any, Any, Any], frames: Any,
                              mt: Any) -> None:
    """F."""
    check_call(ro_store, "iter_instance_frames", *triple, frames, media_types=mt)


@FUZZ
@given(triple=instance_triples, frames=frame_numbers, mt=media_types,
       params=st.one_of(st.none(), render_params))
def test_retrieve_instance_frames_rendered(ro_store: Store, triple: tuple[Any, Any, Any],
                                           frames: Any, mt: Any, params: Any) -> None:
    """F, H."""
    check_call(ro_store, "retrieve_instance_frames_rendered", *triple, frames, media_types=mt,
               params=params)


@FUZZ
@given(data=st.data(), mt=media_types, rng=byte_range)
def test_retrieve_bulkdata(ro_store: Store, data: st.DataObject, mt: Any, rng: Any) -> None:
    """F-10..F-13: a URL of another store or a malformed one is a 400, unknown bulk data 404."""
    url = data.draw(bulk_urls(ro_store.client.base_url))
    result = check_call(ro_store, "retrieve_bulkdata", url, media_types=mt, byte_range=rng)
    if not isinstance(result, Exception):
        assert all(isinstance(b, bytes) for b in result)


@FUZZ
@given(data=st.data(), mt=media_types, rng=byte_range)
def test_iter_bulkdata(ro_store: Store, data: st.DataObject, mt: Any, rng: Any) -> None:
    """F-10..F-13."""
    url = data.draw(bulk_urls(ro_store.client.base_url))
    check_call(ro_store, "iter_bulkdata", url, media_types=mt, byte_range=rng)


# ---- writes: the read-only store refuses, the writable one never escapes its root ----------
def _hostile_dataset(uid: Any, field: str, n: int) -> Dataset:
    """Instance ``n`` of study 7 with ``field`` set to ``uid`` (``None``: deleted), as far as
    pydicom lets a value be set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values it is given here
        ds = factories.make_instance(7, 1, n)
        if uid is None:
            if field in ds:
                del ds[field]
            return ds
        try:
            setattr(ds, field, uid)
        except (TypeError, ValueError, OverflowError, AttributeError):
            pass  # pydicom refused the value itself
        if field == "SOPInstanceUID" and isinstance(uid, str):
            ds.file_meta.MediaStorageSOPInstanceUID = uid
    return ds


def _dataset_variants() -> st.SearchStrategy[Any]:
    counter = iter(range(1, 10**9))
    hostile_uid = st.one_of(HOSTILE, garbage, st.just("1.2.3"), st.just(SENTINEL_STUDY))
    fields = st.sampled_from(["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                              "SOPClassUID", "PatientName", "Rows", "NumberOfFrames",
                              "PixelData", "BitsAllocated"])
    one = st.one_of(
        st.builds(lambda u, f: _hostile_dataset(u, f, next(counter)), hostile_uid, fields),
        st.builds(lambda f: _hostile_dataset(None, f, next(counter)), fields),
        st.builds(lambda: _hostile_dataset("1.2.3", "PatientID", next(counter))),
        st.builds(Dataset),
        garbage,
    )
    return st.one_of(st.lists(one, max_size=3), garbage, st.lists(one, max_size=2).map(tuple))


@FUZZ
@given(datasets=_dataset_variants(), study=st.one_of(st.none(), study_uids))
def test_store_instances_read_only(ro_store: Store, datasets: Any, study: Any) -> None:
    """A read-only store never writes: ReadOnlyError (or a 400 for a bad argument)."""
    result = check_call(ro_store, "store_instances", datasets, study)
    assert isinstance(result, (ReadOnlyError, BadRequestError)), result


@FUZZ
@given(datasets=_dataset_variants(), study=st.one_of(st.none(), study_uids))
def test_store_instances(rw_store: Store, datasets: Any, study: Any) -> None:
    """I: hostile UIDs (``../``, ``/``, NUL) never put a file outside the root; a request
    where nothing is stored is a ConflictError holding the response, and changes nothing."""
    result = check_call(rw_store, "store_instances", datasets, study)
    if isinstance(result, ConflictError):
        assert isinstance(result.dataset, Dataset)
    elif not isinstance(result, Exception):
        assert isinstance(result, Dataset)
    for path in rw_store.root.rglob("*"):
        assert not path.name.startswith("..") or path.is_symlink()


@FUZZ
@given(study=study_uids)
def test_delete_study(ro_store: Store, study: Any) -> None:
    """A read-only store refuses (ReadOnlyError) or rejects the argument (400)."""
    result = check_call(ro_store, "delete_study", study)
    assert isinstance(result, (ReadOnlyError, BadRequestError)), result


@FUZZ
@given(pair=series_pairs)
def test_delete_series(ro_store: Store, pair: tuple[Any, Any]) -> None:
    """As :func:`test_delete_study`."""
    result = check_call(ro_store, "delete_series", *pair)
    assert isinstance(result, (ReadOnlyError, BadRequestError)), result


@FUZZ
@given(triple=instance_triples)
def test_delete_instance(ro_store: Store, triple: tuple[Any, Any, Any]) -> None:
    """As :func:`test_delete_study`."""
    result = check_call(ro_store, "delete_instance", *triple)
    assert isinstance(result, (ReadOnlyError, BadRequestError)), result


_GARBAGE_UIDS = st.one_of(HOSTILE, garbage, st.just(SENTINEL_STUDY),
                          st.just(factories.study_uid(99)))


@FUZZ
@given(level=st.sampled_from(["delete_study", "delete_series", "delete_instance"]),
       uid_list=st.lists(_GARBAGE_UIDS, min_size=3, max_size=3))
def test_delete_garbage_on_a_writable_store(rw_store: Store, level: str,
                                            uid_list: list[Any]) -> None:
    """E-14: deleting what does not exist (or with a malformed UID) is a 404 / 400 and removes
    nothing; a real study's UID with garbage below it deletes nothing either."""
    count = {"delete_study": 1, "delete_series": 2, "delete_instance": 3}[level]
    args = uid_list[:count]
    if count > 1:
        args[0] = STUDIES[0]
    result = check_call(rw_store, level, *args)
    assert isinstance(result, (NotFoundError, BadRequestError)), result


def test_every_protocol_method_is_fuzzed() -> None:
    """L-01: the 22 methods of the protocol each have a property here."""
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    assert len(METHODS) == 22
    assert set(METHODS) <= tested, set(METHODS) - tested


# ---- the constructor ----------------------------------------------------------------------
def _local(value: Any) -> bool:
    """Keep only values that cannot name a place outside the scratch folder (the current
    directory during the test): no absolute path, ``..``, ``~`` or existing file URL."""
    if not isinstance(value, (str, os.PathLike)):
        return True
    text = os.fspath(value)
    if isinstance(text, bytes):
        return True
    if text.startswith("file:"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            return True  # another host: refused before anything is touched
        text = parsed.path
    return not (text.startswith("/") or os.path.isabs(text) or ".." in text
                or text.startswith("~") or text.strip() == ".")


places = st.one_of(garbage, HOSTILE, st.text(max_size=20),
                   st.sampled_from(["file://", "http://x/y", "file://otherhost/x", "file:",
                                    "file:store", "store", "a/b/c", "a\x00b"]),
                   ).filter(_local)


@FUZZ
@given(url=places, db_dir=st.one_of(st.none(), places), workers=st.one_of(st.none(), garbage),
       readonly=st.booleans(), in_memory=st.booleans(),
       db_url=st.one_of(st.none(), st.sampled_from(["sqlite://", "notaurl", "sqlite:///", "",
                                                    "sqlite:///sub/x.db", "sqlite:///?x",
                                                    "mysql://127.0.0.1:9/x"]), garbage))
def test_constructor_rejects_garbage(
    tmp_path_factory: pytest.TempPathFactory, url: Any, db_dir: Any, workers: Any,
    readonly: bool, in_memory: bool, db_url: Any,
) -> None:
    """A client on a garbage location or with garbage options: a client, or a BadRequestError
    (one line); nothing is written outside the (scratch) current folder."""
    cwd = os.getcwd()
    scratch = tmp_path_factory.mktemp("ctor")
    os.chdir(scratch)
    try:
        with _watched() as events:
            try:
                client = dicomfs.DICOMfileClient(url, readonly=readonly, db_dir=db_dir,
                                                 workers=workers, db_url=db_url,
                                                 in_memory=in_memory)
            except DOCUMENTED as exc:
                assert "\n" not in str(exc)
            else:
                client.close()
    finally:
        os.chdir(cwd)
    for event, path, writes in events:
        if writes:
            assert _inside(os.path.join(scratch, path), scratch), (event, path)
    shutil.rmtree(scratch)
