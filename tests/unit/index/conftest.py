"""Fixtures of the index tests: a writable copy of the standard tree and helpers."""

from __future__ import annotations

from pathlib import Path

import factories
import pytest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A fresh, writable standard tree (12 files) under ``tmp_path/tree``."""
    root = tmp_path / "tree"
    root.mkdir()
    factories.write_datasets(root, factories.standard_datasets())
    return root


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    """A folder for the index, outside the tree."""
    return tmp_path / "db"
