"""Databases for ChronoDB's tests: in memory, in a temporary file closed afterwards, or on
the PostgreSQL test server (``tests/chronodb/pgserver.py``); ``backend`` runs a test on
each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.chronodb import pgserver, replicas

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


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL test server's URL, checked once: an unreachable server fails the tests."""
    return pgserver.checked_server()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, uniquely named database on the test server (libpq conninfo), dropped after."""
    with pgserver.fresh_database(pg_server) as conninfo:
        yield conninfo


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's database lives: a SQLite file, or a ``postgresql://`` URL of a fresh
    database on the test server. Tests using it run once on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "test.db")
    return pgserver.as_url(request.getfixturevalue("pg_url"))


@pytest.fixture
def backend_db(backend: str) -> Iterator[ChronoDB]:
    """A fresh database on each backend in turn, closed after the test."""
    database = ChronoDB(backend, user="tester")
    yield database
    database.close()


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[replicas.Pair]:
    """A PostgreSQL primary and its streaming standby of their own (``replicas.py``), shared
    by a test module, stopped and removed afterwards."""
    with replicas.replica_pair() as pair:
        yield pair


@pytest.fixture
def pair_urls(pg_pair: replicas.Pair) -> Iterator[replicas.Pair]:
    """A fresh database on ``pg_pair``'s primary, and the same on its standby."""
    with replicas.fresh_pair_database(pg_pair) as pair:
        yield pair
