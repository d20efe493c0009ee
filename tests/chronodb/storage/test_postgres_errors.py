"""psycopg's errors become ChronoDB's, naming the server and never the password.

Each case is made for real on the test server (127.0.0.1:5432 or
CHRONODB_TEST_POSTGRES_URL); these tests fail, not skip, when it is not there.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from chronodb.errors import (
    AuthenticationError,
    CheckViolation,
    ConnectionLostError,
    ForeignKeyViolation,
    IntegrityError,
    NotNullViolation,
    ReadOnlyError,
    SchemaError,
    SerializationError,
    ServerUnavailableError,
    SQLSyntaxError,
    StatementTimeoutError,
    UniqueViolation,
)
from chronodb.storage.postgres_errors import translate
from chronodb.storage.urls import parse

BASE = os.environ.get("CHRONODB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


@pytest.fixture
def scratch() -> Iterator[str]:
    """The URL of a database of its own, dropped afterwards."""
    name = f"chronodb_errors_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(BASE, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(BASE, name)
    finally:
        with psycopg.connect(BASE, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _caught(url: str, sql: str, *, setup: str | None = None) -> tuple[Exception, str]:
    with psycopg.connect(url) as conn:
        if setup:
            conn.execute(setup)
        try:
            conn.execute(sql)
        except psycopg.Error as err:
            return translate(err, parse(url), sql), sql
    raise AssertionError(f"{sql!r} ran")


def test_a_refused_connection_names_the_host() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/postgres"
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(url, connect_timeout=3)
    error = translate(info.value, parse(url))
    assert isinstance(error, ServerUnavailableError)
    assert error.host == "127.0.0.1:1"
    assert "127.0.0.1:1" in str(error)
    assert "s3cret" not in str(error) and "s3cret" not in str(error.path)


@pytest.mark.parametrize("who", ["nobody_{}:pw@", "postgres@"])
def test_a_refused_login_is_an_authentication_error(who: str) -> None:
    head = BASE.split("://", 1)[1].split("@")[-1].rsplit("/", 1)[0]
    user = who.format(uuid.uuid4().hex[:6])
    database = "postgres" if user.startswith("nobody") else f"nodb_{uuid.uuid4().hex[:6]}"
    url = f"postgresql://{user}{head}/{database}"
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(url, connect_timeout=3)
    error = translate(info.value, parse(url))
    assert isinstance(error, AuthenticationError)
    assert database in str(error)
    assert ":pw" not in str(error)


def test_syntax_errors_and_unknown_names_point_at_their_position(scratch: str) -> None:
    error, sql = _caught(scratch, "SELECT 1 FROM pg_class WHER x")
    assert isinstance(error, SQLSyntaxError)
    assert sql[error.position :].startswith("x")
    error, sql = _caught(scratch, "SELECT a FROM\n  nosuch")
    assert isinstance(error, SchemaError)
    assert (error.table, sql[error.position :]) == ("nosuch", "nosuch")
    assert "line 2" in str(error)
    error, sql = _caught(scratch, "SELECT relname, nosuch FROM pg_class")
    assert isinstance(error, SchemaError)
    assert error.column == "nosuch" and sql[error.position :].startswith("nosuch")


def test_constraint_failures_are_integrity_errors(scratch: str) -> None:
    setup = (
        "CREATE TABLE t (id int PRIMARY KEY, n int CHECK (n > 0)); INSERT INTO t VALUES (1, 1);"
        "CREATE TABLE r (t_id int REFERENCES t (id))"
    )
    for sql, kind in (
        ("INSERT INTO t VALUES (1, 1)", UniqueViolation),
        ("INSERT INTO t VALUES (2, -1)", CheckViolation),
        ("INSERT INTO t VALUES (NULL, 1)", NotNullViolation),
        ("INSERT INTO r VALUES (9)", ForeignKeyViolation),
    ):
        error, _ = _caught(scratch, sql, setup=setup)
        assert isinstance(error, IntegrityError) and type(error) is kind, sql


def test_a_read_only_transaction_refuses_writes(scratch: str) -> None:
    error, _ = _caught(scratch, "CREATE TABLE t (a int)", setup="SET TRANSACTION READ ONLY")
    assert isinstance(error, ReadOnlyError)


def test_a_statement_timeout_says_it_was_cancelled(scratch: str) -> None:
    error, _ = _caught(scratch, "SELECT pg_sleep(5)", setup="SET statement_timeout = 50")
    assert isinstance(error, StatementTimeoutError)
    assert "statement_timeout" in str(error)


def test_a_serialization_failure_says_to_retry(scratch: str) -> None:
    with psycopg.connect(scratch, autocommit=True) as setup:
        setup.execute("CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t VALUES (1, 0)")
    first = psycopg.connect(scratch)
    second = psycopg.connect(scratch)
    try:
        for conn in (first, second):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT n FROM t").fetchall()
        first.execute("UPDATE t SET n = 1")
        done = threading.Timer(0.2, first.commit)
        done.start()
        with pytest.raises(psycopg.Error) as info:
            second.execute("UPDATE t SET n = 2")
        done.join()
        error = translate(info.value, parse(scratch))
        assert isinstance(error, SerializationError)
        assert "run it again" in str(error)
    finally:
        first.close()
        second.close()


def test_a_dropped_connection_is_connection_lost(scratch: str) -> None:
    conn = psycopg.connect(scratch)
    try:
        pid = conn.info.backend_pid
        conn.execute("CREATE TABLE t (a int)")
        with psycopg.connect(scratch, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg.Error) as info:
            conn.execute("INSERT INTO t VALUES (1)")
        error = translate(info.value, parse(scratch))
        assert isinstance(error, ConnectionLostError)
        assert "not applied" in str(error)
    finally:
        conn.close()
    with psycopg.connect(scratch) as check:  # nothing of the dropped transaction is there
        assert check.execute("SELECT to_regclass('t')").fetchone() == (None,)
