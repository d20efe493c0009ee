"""Fixtures for the PostgreSQL engine's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB


@pytest.fixture
def db(pg_url: str) -> Iterator[ChronoDB]:
    """``people`` (id, name, age) holding Ann, 30, and Ben, 40, on a fresh database."""
    database = ChronoDB(pgserver.as_url(pg_url), user="tester")
    database.execute("CREATE TABLE people (id integer PRIMARY KEY, name text, age integer)")
    database.execute("INSERT INTO people VALUES (1, 'Ann', 30), (2, 'Ben', 40)")
    yield database
    database.close()
