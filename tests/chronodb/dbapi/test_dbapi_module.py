"""The module-level half of PEP 249: globals, constructors, type objects, connect()."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest

import chronodb
from chronodb import ChronoDB, ChronoDBError, dbapi


def test_globals_are_pep_249s() -> None:
    assert dbapi.apilevel == "2.0"
    assert dbapi.threadsafety == 1
    assert dbapi.paramstyle == "qmark"
    assert dbapi.sqlite_version_info >= (3, 0, 0)
    assert dbapi.sqlite_version == ".".join(map(str, dbapi.sqlite_version_info))


def test_all_names_every_pep_249_name() -> None:
    pep_249 = {"apilevel", "threadsafety", "paramstyle", "connect", "Connection", "Cursor"}
    pep_249 |= {"Date", "Time", "Timestamp", "DateFromTicks", "TimeFromTicks", "Binary"}
    pep_249 |= {"TimestampFromTicks", "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID"}
    assert pep_249 <= set(dbapi.__all__)
    assert len(set(dbapi.__all__)) == len(dbapi.__all__)  # ruff keeps it sorted (RUF022)
    for name in dbapi.__all__:
        assert getattr(dbapi, name) is not None


def test_constructors() -> None:
    assert dbapi.Date(2024, 1, 2) == datetime.date(2024, 1, 2)
    assert dbapi.Time(3, 4, 5) == datetime.time(3, 4, 5)
    assert dbapi.Timestamp(2024, 1, 2, 3, 4, 5) == datetime.datetime(2024, 1, 2, 3, 4, 5)
    ticks = time.mktime((2024, 1, 2, 3, 4, 5, 0, 0, -1))
    assert dbapi.DateFromTicks(ticks) == datetime.date(2024, 1, 2)
    assert dbapi.TimeFromTicks(ticks) == datetime.time(3, 4, 5)
    assert dbapi.TimestampFromTicks(ticks) == datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert bytes(dbapi.Binary(b"\x00\x01")) == b"\x00\x01"


def test_type_objects_compare_with_sqlite_type_names() -> None:
    assert dbapi.STRING == "TEXT" and dbapi.STRING == "varchar"
    assert dbapi.NUMBER == "INTEGER" and dbapi.NUMBER == "REAL"
    assert dbapi.BINARY == "BLOB"
    assert dbapi.DATETIME == "TIMESTAMP"
    assert dbapi.ROWID == "INTEGER"
    assert dbapi.STRING != "BLOB" and dbapi.NUMBER != dbapi.STRING


def test_values_of_every_constructor_round_trip(conn: dbapi.Connection) -> None:
    conn.execute("CREATE TABLE kinds (id INTEGER PRIMARY KEY, b BLOB, d TEXT, n REAL)")
    conn.execute(
        "INSERT INTO kinds VALUES (1, ?, ?, ?)", (dbapi.Binary(b"\xff"), "2024-01-02", 1.5)
    )
    conn.commit()
    assert conn.execute("SELECT b, d, n FROM kinds").fetchone() == (b"\xff", "2024-01-02", 1.5)


def test_connect_opens_a_file_with_chronodbs_options(tmp_path: Path) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="Unknown ChronoDB option"):
        dbapi.connect(tmp_path / "a.db", colour="blue")
    conn = dbapi.connect(tmp_path / "a.db", user="ann", timeout=5)
    conn.execute("CREATE TABLE t (x)")
    assert conn.db.transactions()[0]["user"] == "ann"
    conn.close()
    assert conn.closed and conn.db.closed


def test_connect_refuses_what_it_cannot_honour(tmp_path: Path) -> None:
    with pytest.raises(dbapi.NotSupportedError, match="detect_types"):
        dbapi.connect(tmp_path / "a.db", detect_types=1)
    with pytest.raises(dbapi.NotSupportedError, match="uri=True"):
        dbapi.connect("file:a.db?mode=ro", uri=True)
    # sqlite3 arguments SQLAlchemy passes are accepted.
    dbapi.connect(tmp_path / "a.db", check_same_thread=False, cached_statements=10).close()


def test_an_unreachable_postgresql_server_is_named_without_its_password() -> None:
    with pytest.raises(dbapi.OperationalError) as info:
        dbapi.connect("postgresql://app:s3cret@127.0.0.1:1/shop")
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)
    assert isinstance(info.value, ChronoDBError)


def test_connect_over_an_open_chronodb_shares_it(tmp_path: Path) -> None:
    db = ChronoDB(tmp_path / "a.db")
    db.execute("CREATE TABLE t (x)")
    conn = dbapi.connect(db)
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert db.execute("SELECT x FROM t").scalar() == 1
    with pytest.raises(dbapi.ProgrammingError, match="already open"):
        dbapi.connect(db, user="bob")
    conn.close()
    assert not db.closed  # its owner closes it
    db.close()


def test_the_module_is_importable_from_the_package() -> None:
    assert chronodb.dbapi is dbapi
