"""Fixtures of the watch tests."""

from __future__ import annotations

import pytest
from watchkit import FakeFilesystem


@pytest.fixture
def fake_fs() -> FakeFilesystem:
    return FakeFilesystem()
