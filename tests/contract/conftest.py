"""The contract suite runs against every DICOMClient implementation.

``client`` is a read-only client loaded with the standard store (tests/factories.py), one per
backend; ``writable_client`` is an empty store a test may write to. Tests that need a feature a
backend does not have mark themselves ``@pytest.mark.needs("feature")``; the backend's
``capabilities`` decide whether the test runs or skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers.orthanc import OrthancServer, OrthancUnavailable, load_into_orthanc, start_orthanc
from pydicom.dataset import Dataset
from server.served import ServedStore, start_served

import dicomfs

#: What each backend supports; a test marked ``needs(x)`` skips on a backend without ``x``.
CAPABILITIES: dict[str, set[str]] = {
    "file": {
        "case-sensitive",
        "fuzzy",
        "pn-case-insensitive",
        "strict-validation",
        "combined-datetime",
        "sequence-matching",
        "delete",
        "render",
        "frames",
        "bulkdata",
        "any-attribute",
        "exact-counts",
        "transcode",
        # QIDO matching and results (CONFORMANCE B-, C-, D- items)
        "percent-decoded-queries",  # ^, space, %, non-ASCII in query values (sent encoded)
        "time-by-meaning",  # TM single values and ranges compared by meaning (B-16..B-18)
        "multi-value-matching",  # ImageType=AXIAL matches ORIGINAL\PRIMARY\AXIAL (B-22)
        "charset-not-a-match-key",  # SpecificCharacterSet filters nothing (B-25)
        "relational-attributes",  # study attributes in /series and /instances results (C-09)
        "level-scoped-includefield",  # no lower-level includefield at study level (C-11)
        "result-order",  # dicomfs's stable order: StudyDate/Time, numbers, UIDs (C-14 IMPL)
        "limit-zero-empty",  # limit=0 gives [] (D-08 IMPL)
        # WADO (CONFORMANCE E-, F-, H- items; API.md choices)
        "dicomfs-bulkdata-uri",  # .../bulk/7FE00010 (API.md)
        "frame-past-end-404",  # a frame past NumberOfFrames is 404, not 400 (F-02 IMPL)
        "frames-as-stored",  # native frames are not encoded to image/jpeg: 406 (F-06)
        "viewport-aspect",  # viewport keeps the aspect ratio (H-04)
        "viewport-validation",  # viewport=0,0 is a 400 (H-06)
        "rendered-gif",  # image/gif rendering, series as an animation (API.md)
    },
    # A real Orthanc 1.10 + DICOMweb 1.7 through DICOMwebClient (its deviations are listed in
    # tests/peers/orthanc.py ORTHANC_DEVIATIONS and docs/web-client.md): matching is
    # case-insensitive for every VR, query values are not percent-decoded, bad queries are not
    # rejected, DICOMweb DELETE is not supported; search results are re-sorted (conftest).
    "orthanc": {"pn-case-insensitive", "render", "frames", "bulkdata", "exact-counts"},
}


# dicomfs's own server: DICOMwebClient -> HTTP (dicomfs serve) -> DICOMfileClient over the same
# standard store, so it has the file backend's capabilities (fixtures at the end of this file).
CAPABILITIES["served"] = set(CAPABILITIES["file"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(feature): skip on backends without this capability")


@pytest.fixture(params=sorted(CAPABILITIES))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    # Every needs(...) mark counts (stacked ones, and those of a pytest.param), not the closest.
    wanted = [f for marker in request.node.iter_markers("needs") for f in marker.args]
    missing = [f for f in wanted if f not in CAPABILITIES[name]]
    if missing:
        pytest.skip(f"backend {name!r} lacks {missing}")
    return name


@pytest.fixture(scope="session")
def _file_client(
    standard_tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dicomfs.DICOMfileClient]:
    db_dir = tmp_path_factory.mktemp("standard-index")
    with dicomfs.DICOMfileClient(standard_tree, db_dir=db_dir, readonly=True) as client:
        yield client


def _start(tmp_path_factory: pytest.TempPathFactory, name: str) -> OrthancServer:
    try:
        return start_orthanc(tmp_path_factory.mktemp(name))
    except OrthancUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Orthanc is required in CI: {exc}")
        pytest.skip(f"Orthanc unavailable: {exc}")


@pytest.fixture(scope="session")
def _orthanc_client(
    tmp_path_factory: pytest.TempPathFactory, standard_datasets: list[Dataset]
) -> Iterator[dicomfs.DICOMwebClient]:
    server = _start(tmp_path_factory, "orthanc-contract")
    # Results re-sorted into dicomfs's stable order (QIDO leaves the order to the server);
    # order-pinning tests are marked needs("result-order").
    client = load_into_orthanc(server, standard_datasets, sort_results=True)
    yield client
    server.stop()


@pytest.fixture(scope="session")
def _orthanc_writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = _start(tmp_path_factory, "orthanc-contract-rw")
    yield server
    server.stop()


@pytest.fixture
def client(backend: str, request: pytest.FixtureRequest) -> dicomfs.DICOMClient:
    """A client over the standard store (read-only: do not write through it)."""
    fixture: dicomfs.DICOMClient = request.getfixturevalue(f"_{backend}_client")
    return fixture


@pytest.fixture
def writable_client(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[dicomfs.DICOMClient]:
    """An empty store that the test may write to."""
    if backend == "file":
        with dicomfs.DICOMfileClient(tmp_path / "store") as c:
            yield c
    else:
        server: OrthancServer = request.getfixturevalue(f"_{backend}_writable")
        server.clear()
        yield server.client()


@pytest.fixture(scope="session")
def _served_client(
    standard_tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dicomfs.DICOMwebClient]:
    """DICOMwebClient -> dicomfs's DICOMweb server -> a read-only file store (standard)."""
    store = start_served(
        standard_tree, db_dir=tmp_path_factory.mktemp("served-index"), readonly=True
    )
    with store.client() as client:
        yield client
    store.stop()


@pytest.fixture(scope="session")
def _served_writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    """dicomfs's server over an empty writable file store (cleared before each test)."""
    store = start_served(tmp_path_factory.mktemp("served-store"))
    yield store
    store.stop()
