"""Fixtures of the web client tests: a real Orthanc, and a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peers.orthanc import OrthancServer, OrthancUnavailable, start_orthanc
from peers.scripted import ScriptedServer

ORTHANC_USER = ("dicomfs", "s3cret-pass")


def _start_or_skip(folder: Path, auth: tuple[str, str] | None) -> OrthancServer:
    try:
        return start_orthanc(folder, auth=auth)
    except OrthancUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Orthanc is required in CI: {exc}")
        pytest.skip(f"Orthanc unavailable: {exc}")


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A real Orthanc + DICOMweb on 127.0.0.1 for the whole session (no authentication)."""
    server = _start_or_skip(tmp_path_factory.mktemp("orthanc"), None)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def orthanc_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A second Orthanc with HTTP basic authentication (user/password: ``ORTHANC_USER``)."""
    server = _start_or_skip(tmp_path_factory.mktemp("orthanc-auth"), ORTHANC_USER)
    yield server
    server.stop()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A scripted HTTP server in a thread, shut down and joined at the end of the test."""
    server = ScriptedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=10)
