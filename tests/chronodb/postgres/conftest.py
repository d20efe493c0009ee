"""PostgreSQL databases for the layout's tests: each test gets its own (``pg_url``, from
``tests/chronodb/conftest.py``), with an autocommit connection to it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn
