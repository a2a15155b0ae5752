"""Fixtures of the CLI tests: an indexed copy of the standard store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dicomfs.file.client import DICOMfileClient


@pytest.fixture
def store(standard_tree: Path, tmp_path: Path) -> Path:
    """A writable, indexed copy of the standard store (12 instances, 5 studies)."""
    root = tmp_path / "store"
    shutil.copytree(standard_tree, root)
    DICOMfileClient(root).close()
    return root
