"""PostgreSQL databases for the tests: each test gets its own, created and dropped here.

The server is CHRONODB_TEST_POSTGRES_URL's, or the machine's own on 127.0.0.1:5432 (user
postgres). If it cannot be reached the tests fail, saying so: CI must run them, never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("CHRONODB_TEST_POSTGRES_URL") or DEFAULT_URL


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The server's URL, checked once: an unreachable server fails the tests."""
    url = server_url()
    try:
        psycopg.connect(url, autocommit=True, connect_timeout=5).close()
    except psycopg.Error as err:
        host = psycopg.conninfo.conninfo_to_dict(url).get("host", "?")
        pytest.fail(
            f"the PostgreSQL server for ChronoDB's tests is unreachable at {host} "
            f"(set CHRONODB_TEST_POSTGRES_URL to another one): {err}",
            pytrace=False,
        )
    return url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, uniquely named database on the test server, dropped afterwards."""
    name = f"chronodb_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(pg_server, dbname=name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn
