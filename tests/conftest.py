"""Shared fixtures: the standard store, the corpus, and a guard against leaked threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

sys.path.insert(0, str(Path(__file__).parent))

import factories


@pytest.fixture(scope="session")
def standard_datasets() -> list[Dataset]:
    """The datasets of the standard store (see tests/factories.py)."""
    return factories.standard_datasets()


@pytest.fixture(scope="session")
def standard_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the standard store as Part10 files (not indexed). Read-only for tests."""
    root = tmp_path_factory.mktemp("standard-tree")
    factories.write_datasets(root, factories.standard_datasets())
    return root


@pytest.fixture
def corpus() -> Path:
    """The shared corpus (DICOMFS_CORPUS or ../shared/corpus); skips when absent."""
    path = factories.corpus_dir()
    if path is None:
        pytest.skip("corpus folder absent (set DICOMFS_CORPUS)")
    return path


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a new non-daemon thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for t in leaked:
        t.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"test leaked threads: {leaked}"
