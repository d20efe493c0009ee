"""Databases for ChronoDB's tests: in memory, or in a temporary file closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chronodb import ChronoDB


@pytest.fixture
def db() -> Iterator[ChronoDB]:
    """A fresh in-memory database."""
    database = ChronoDB(":memory:", user="tester")
    yield database
    database.close()


@pytest.fixture
def file_db(tmp_path: Path) -> Iterator[ChronoDB]:
    """A fresh database file in a temporary directory, closed after the test."""
    database = ChronoDB(tmp_path / "test.db", user="tester")
    yield database
    database.close()
