"""DB-API connections for the driver's tests, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chronodb import dbapi


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[dbapi.Connection]:
    """A connection to a fresh file with ``items (id, name, qty)`` and no rows."""
    connection = dbapi.connect(tmp_path / "app.db", user="tester")
    connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
    yield connection
    connection.close()
