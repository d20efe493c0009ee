"""PEP 249's exception classes: on the module and the connection, each a ChronoDBError,
and ChronoDB's errors raised as both their own class and the PEP 249 one sqlite3 uses."""

from __future__ import annotations

import sqlite3

import pytest

import chronodb
from chronodb import dbapi

NAMES = [
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
]


@pytest.mark.parametrize("name", NAMES)
def test_each_class_is_on_the_module_and_the_connection(conn: dbapi.Connection, name: str) -> None:
    cls = getattr(dbapi, name)
    assert getattr(conn, name) is cls
    assert issubclass(cls, chronodb.ChronoDBError)
    if name != "Warning":
        assert issubclass(cls, dbapi.Error)


def test_the_hierarchy_is_pep_249s() -> None:
    for name in ("DataError", "OperationalError", "IntegrityError", "InternalError"):
        assert issubclass(getattr(dbapi, name), dbapi.DatabaseError)
    assert issubclass(dbapi.ProgrammingError, dbapi.DatabaseError)
    assert issubclass(dbapi.NotSupportedError, dbapi.DatabaseError)
    assert issubclass(dbapi.InterfaceError, dbapi.Error)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    assert not issubclass(dbapi.Warning, dbapi.Error)


def test_a_unique_violation_is_both_classes_with_its_fields(conn: dbapi.Connection) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    conn.commit()
    with pytest.raises(dbapi.IntegrityError) as info:
        conn.execute("INSERT INTO items VALUES (1, 'ink', 2)")
    assert isinstance(info.value, chronodb.UniqueViolation)
    assert isinstance(info.value.__cause__, chronodb.UniqueViolation)
    assert str(info.value) == str(info.value.__cause__)
    conn.rollback()


@pytest.mark.parametrize(
    ("sql", "pep", "chrono"),
    [
        ("SELEC * FROM items", dbapi.OperationalError, chronodb.SQLError),
        ("SELECT * FROM nowhere", dbapi.OperationalError, chronodb.ChronoDBError),
        ("SELECT nope FROM items", dbapi.OperationalError, chronodb.ChronoDBError),
        ("INSERT INTO items (id, qty) VALUES (1, NULL)", None, None),
        (
            "SELECT * FROM items AS OF TIMESTAMP 'yesterday-ish'",
            dbapi.ProgrammingError,
            chronodb.TemporalError,
        ),
        ("COMMIT", dbapi.OperationalError, chronodb.TransactionError),
    ],
)
def test_errors_map_as_sqlite3_would(
    conn: dbapi.Connection, sql: str, pep: type | None, chrono: type | None
) -> None:
    if pep is None:
        conn.execute(sql)  # a NULL qty is allowed: nothing to raise
        return
    with pytest.raises(pep) as info:
        conn.execute(sql)
    assert isinstance(info.value, chrono)


def test_sqlite3_raises_the_same_pep_249_class_for_bad_sql() -> None:
    plain = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError):
        plain.execute("SELEC 1")
    with pytest.raises(sqlite3.OperationalError):
        plain.execute("SELECT * FROM nowhere")


def test_a_syntax_error_keeps_its_position(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.OperationalError) as info:
        conn.execute("SELECT * FROM items AS OF TIMESTAMP '2024")
    assert info.value.position == len("SELECT * FROM items AS OF TIMESTAMP ")


def test_a_closed_connection_says_so_in_sqlite3s_words(conn: dbapi.Connection) -> None:
    cursor = conn.cursor()
    conn.close()
    for call in (conn.cursor, conn.commit, lambda: cursor.execute("SELECT 1")):
        with pytest.raises(dbapi.ProgrammingError, match="Cannot operate on a closed database"):
            call()
    conn.close()  # twice is fine


def test_a_closed_cursor_refuses(conn: dbapi.Connection) -> None:
    cursor = conn.execute("SELECT 1")
    cursor.close()
    with pytest.raises(dbapi.ProgrammingError, match="closed cursor"):
        cursor.fetchone()
    with pytest.raises(dbapi.ProgrammingError, match="closed cursor"):
        cursor.execute("SELECT 1")


def test_fetch_before_execute_is_a_programming_error(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="No statement"):
        conn.cursor().fetchall()


def test_busy_is_an_operational_error(tmp_path) -> None:
    first = dbapi.connect(tmp_path / "busy.db", timeout=0.1)
    first.execute("CREATE TABLE t (x)")
    second = dbapi.connect(tmp_path / "busy.db", timeout=0.1)
    first.execute("INSERT INTO t VALUES (1)")  # holds the write lock until commit
    with pytest.raises(dbapi.OperationalError) as info:
        second.execute("INSERT INTO t VALUES (2)")
    assert isinstance(info.value, chronodb.BusyError)
    first.commit()
    second.rollback()
    first.close()
    second.close()


def test_a_read_only_database_refuses_writes_as_operational_error(tmp_path) -> None:
    dbapi.connect(tmp_path / "ro.db").close()
    conn = dbapi.connect(tmp_path / "ro.db", read_only=True)
    with pytest.raises(dbapi.OperationalError) as info:
        conn.execute("CREATE TABLE t (x)")
    assert isinstance(info.value, chronodb.ReadOnlyError)
    conn.close()


def test_callproc_is_not_supported(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.NotSupportedError):
        conn.cursor().callproc("anything")


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("execute", ("SELECT ?", (1, 2))),
        ("execute", ("INSERT INTO items VALUES (?, ?, ?)", (1,))),
        ("executemany", ("SELECT ?", [(1,), (2,)])),
    ],
)
def test_misused_parameters_are_programming_errors_as_in_sqlite3(
    conn: dbapi.Connection, call: str, args: tuple
) -> None:
    plain = sqlite3.connect(":memory:")
    plain.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
    with pytest.raises(sqlite3.ProgrammingError):
        getattr(plain, call)(*args)
    with pytest.raises(dbapi.ProgrammingError) as info:
        getattr(conn, call)(*args)
    assert isinstance(info.value, chronodb.SQLError)
    conn.rollback()
