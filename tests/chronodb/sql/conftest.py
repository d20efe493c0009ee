"""Fixtures for the temporal SQL tests."""

from __future__ import annotations

import pytest

from chronodb import ChronoDB


@pytest.fixture
def shop(backend_db: ChronoDB) -> ChronoDB:
    """``items`` holding one row, written by the second transaction, on each backend."""
    backend_db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    backend_db.execute("INSERT INTO items VALUES (1, 'pen')")
    return backend_db
