"""Fixtures of the server tests: dicomfs's DICOMweb server in a thread on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.served import ServedStore, start_served


@pytest.fixture(scope="session")
def served(standard_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    """The standard store (tests/factories.py), read-only, served with a QIDO cap of 5."""
    store = start_served(
        standard_tree, db_dir=tmp_path_factory.mktemp("server-index"), readonly=True,
        max_results=5,
    )
    yield store
    store.stop()


@pytest.fixture
def writable(tmp_path: Path) -> Iterator[ServedStore]:
    """An empty writable store, served for one test."""
    store = start_served(tmp_path / "store")
    yield store
    store.stop()
