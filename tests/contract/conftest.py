"""The contract suite runs against every DICOMClient implementation.

``client`` is a read-only client loaded with the standard store (tests/factories.py), one per
backend; ``writable_client`` is an empty store a test may write to. Tests that need a feature a
backend does not have mark themselves ``@pytest.mark.needs("feature")``; the backend's
``capabilities`` decide whether the test runs or skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import dicomfs

#: What each backend supports; a test marked ``needs(x)`` skips on a backend without ``x``.
CAPABILITIES: dict[str, set[str]] = {
    "file": {"case-sensitive", "fuzzy", "pn-case-insensitive", "strict-validation", "combined-datetime",
             "sequence-matching", "delete", "render", "frames", "bulkdata", "any-attribute",
             "exact-counts", "transcode"},
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(feature): skip on backends without this capability")


@pytest.fixture(params=sorted(CAPABILITIES))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    marker = request.node.get_closest_marker("needs")
    if marker is not None:
        missing = [f for f in marker.args if f not in CAPABILITIES[name]]
        if missing:
            pytest.skip(f"backend {name!r} lacks {missing}")
    return name


@pytest.fixture(scope="session")
def _file_client(standard_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dicomfs.DICOMfileClient]:
    db_dir = tmp_path_factory.mktemp("standard-index")
    with dicomfs.DICOMfileClient(standard_tree, db_dir=db_dir, readonly=True) as client:
        yield client


@pytest.fixture
def client(backend: str, request: pytest.FixtureRequest) -> dicomfs.DICOMClient:
    """A client over the standard store (read-only: do not write through it)."""
    fixture: dicomfs.DICOMClient = request.getfixturevalue(f"_{backend}_client")
    return fixture


@pytest.fixture
def writable_client(backend: str, tmp_path: Path) -> Iterator[dicomfs.DICOMClient]:
    """An empty store that the test may write to."""
    if backend == "file":
        with dicomfs.DICOMfileClient(tmp_path / "store") as c:
            yield c
    else:  # pragma: no cover - other backends are added by their owners
        raise NotImplementedError(backend)
