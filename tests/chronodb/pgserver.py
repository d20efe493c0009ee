"""The PostgreSQL server ChronoDB's tests use, and the databases they create on it.

The server is CHRONODB_TEST_POSTGRES_URL's, or the machine's own on 127.0.0.1:5432 (user
postgres). If it cannot be reached the tests fail, naming the host: CI must run them, never
skip. Each test's database has a unique name and is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("CHRONODB_TEST_POSTGRES_URL") or DEFAULT_URL


def checked_server() -> str:
    """The server's URL; fails the calling test, naming the host, if it is unreachable."""
    import psycopg

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


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A uniquely named database on ``server`` (its URL), dropped afterwards."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"chronodb_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def as_url(conninfo: str) -> str:
    """A libpq conninfo string (``host=... dbname=...``) as a ``postgresql://`` URL."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(conninfo)
    user = parts.get("user", "")
    host = parts.get("host", "127.0.0.1")
    port = parts.get("port", "5432")
    return f"postgresql://{user}{'@' if user else ''}{host}:{port}/{parts['dbname']}"


def ledger_verifies(conninfo: str) -> bool:
    """The database's ledger verifies, on a connection of its own, with no problem found."""
    import psycopg

    from chronodb.postgres.verify import verify

    with psycopg.connect(conninfo, autocommit=True) as conn:
        report = verify(conn)
    assert report.problems == []
    return report.ok
