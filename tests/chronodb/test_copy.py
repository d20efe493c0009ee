"""``copy_database``: a database and its whole past, moved between SQLite and PostgreSQL.

Every copy must answer every question about the past as its source does (each table AS OF
every transaction and every transaction's time, the tables and columns of then, each row's
change history, the changes, the transactions with their ids, times and users), and its
ledger must be the source's: the same root, verification passing on both.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB, CopyError, copy_database


def _build(db: ChronoDB, real: str = "REAL", blob: str = "BLOB") -> None:
    """A workload that leaves a past worth copying: several tables, updates, deletes,
    ALTER TABLE (columns added, renamed and dropped, a table renamed), a dropped table,
    views made and changed, pruned history, an erased row, a saved digest. ``real`` and
    ``blob``: those types' names in the database's SQL."""
    db.execute(f"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score {real}, pic {blob})")
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?)",
        [(1, "ann", 1.5, b"\x00\xff"), (2, "bob", 2.0, None), (3, "cy", -0.1, None)],
    )
    db.execute("UPDATE users SET name = 'anne' WHERE id = 1")
    db.execute("UPDATE users SET name = 'ann' WHERE id = 1")
    db.prune_history(db.transactions(limit=1)[0]["tx_time"])
    db.execute("CREATE TABLE orders (oid INTEGER PRIMARY KEY, uid INTEGER, what TEXT)")
    db.execute("INSERT INTO orders VALUES (10, 1, 'tea'), (11, 2, 'cake'), (12, 3, 'jam')")
    db.execute("CREATE VIEW big AS SELECT name FROM users WHERE score > 1")
    db.execute("DELETE FROM users WHERE id = 2")
    db.execute("ALTER TABLE users ADD COLUMN note TEXT")
    db.execute("UPDATE users SET note = 'hi' WHERE id = 1")
    db.execute("ALTER TABLE orders RENAME COLUMN what TO item")
    db.execute(
        "CREATE VIEW spend AS SELECT u.name, o.item FROM users u JOIN orders o ON o.uid = u.id"
    )
    db.execute("DROP VIEW big")
    db.execute("CREATE VIEW big AS SELECT name, note FROM users WHERE score > 0")
    db.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO scratch VALUES ('a', 1), ('b', 2)")
    db.execute("UPDATE scratch SET v = v + 10")
    db.execute("DROP TABLE scratch")
    with db.transaction():
        db.execute("INSERT INTO users (id, name, score) VALUES (4, 'dee', 1e300)")
        db.execute("UPDATE orders SET item = 'tea!' WHERE oid = 10")
    db.erase("orders", 12, reason="asked")
    db.audit_trail.digest()
    db.user = "bea"
    db.execute("UPDATE users SET score = score * 2 WHERE id IN (1, 3)")
    db.execute("ALTER TABLE orders RENAME TO purchases")
    db.execute("ALTER TABLE users DROP COLUMN pic")
    db.execute("UPDATE purchases SET item = 'jam' WHERE oid = 11")


@pytest.fixture
def source(tmp_path: Path) -> str:
    path = str(tmp_path / "source.db")
    with ChronoDB(path, user="alice") as db:
        _build(db)
    return path


@pytest.fixture
def second_pg(pg_server: str) -> Iterator[str]:
    """Another fresh database on the test server, as a URL."""
    with pgserver.fresh_database(pg_server) as conninfo:
        yield pgserver.as_url(conninfo)


def _quietly(call: Any) -> Any:
    """``call()``, or the name of the error it raised (a table that did not exist then)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call()
        except Exception as err:  # compared, not hidden: both sides must fail alike
            return type(err).__name__


def _rows(db: ChronoDB, sql: str) -> Any:
    return _quietly(lambda: sorted(tuple(r) for r in db.execute(sql)))


def _names(db: ChronoDB) -> set[str]:
    """Every table and view the database has had."""
    found = {"big", "spend"}  # views: tables() lists tables only
    for tx in db.transactions():
        found.update(_quietly(lambda tx=tx: db.tables(as_of=tx["tx_id"])))
    return found


def _in_order(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes by transaction, then key: PostgreSQL lists one statement's changes in no
    particular order."""
    return sorted(changes, key=lambda c: (c["tx_id"], repr(c.get("id", c.get("oid")))))


def assert_same_past(location_a: str, location_b: str) -> None:
    """Both databases answer every question about their past alike."""
    with ChronoDB(location_a) as a, ChronoDB(location_b) as b:
        transactions = a.transactions()
        assert b.transactions() == transactions
        assert len(transactions) > 10
        names = _names(a)
        assert _names(b) == names == {"users", "orders", "purchases", "scratch", "big", "spend"}
        seen = 0
        for tx in transactions:
            n, at = tx["tx_id"], tx["tx_time"]
            assert b.tables(as_of=n) == a.tables(as_of=n)
            for name in names:
                for clause in (f"AS OF TRANSACTION {n}", f"AS OF TIMESTAMP {at!r}"):
                    sql = f"SELECT * FROM {name} {clause}"
                    found = _rows(a, sql)
                    assert _rows(b, sql) == found, sql
                    seen += isinstance(found, list) and len(found)
            for name in a.tables(as_of=n):
                assert [c.name for c in b.columns(name, as_of=n)] == [
                    c.name for c in a.columns(name, as_of=n)
                ]
        assert seen > 100  # rows compared, not only errors
        for name in a.tables():
            assert _in_order(b.changes(name)) == _in_order(a.changes(name))
            for key in range(1, 13):
                assert b.get_change_history(name, key) == a.get_change_history(name, key)
        assert [v.name for v in b.views()] == [v.name for v in a.views()]
        digest_a = a.audit_trail.digest(save=False)
        digest_b = b.audit_trail.digest(save=False)
        assert (digest_b.tree_size, digest_b.root) == (digest_a.tree_size, digest_a.root)
        assert a.verify_audit_integrity() and b.verify_audit_integrity()
        assert b.check_history() == []


def test_sqlite_to_postgresql_and_back_keeps_the_whole_past(
    source: str, pg_url: str, tmp_path: Path
) -> None:
    url = pgserver.as_url(pg_url)
    there = copy_database(source, url)
    with ChronoDB(source) as db:
        root = db.audit_trail.digest(save=False).root
        assert there.transactions == len(db.transactions())
    assert there.root == root
    assert there.versions > 0
    assert_same_past(source, url)

    back = tmp_path / "back.db"
    again = copy_database(url, back)
    assert again.root == root
    assert_same_past(source, str(back))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.db", "source.db"]


def test_a_postgresql_database_goes_to_sqlite_and_back(
    pg_url: str, second_pg: str, tmp_path: Path
) -> None:
    url = pgserver.as_url(pg_url)
    with ChronoDB(url, user="alice") as db:
        _build(db, real="double precision", blob="bytea")
    copy = tmp_path / "copy.db"
    copy_database(url, copy)
    assert_same_past(url, str(copy))
    copy_database(copy, second_pg)
    assert_same_past(url, second_pg)


def test_an_empty_database_copies_both_ways(tmp_path: Path, pg_url: str) -> None:
    empty = tmp_path / "empty.db"
    ChronoDB(empty).close()
    url = pgserver.as_url(pg_url)
    report = copy_database(empty, url)
    assert (report.transactions, report.versions, report.tree_size) == (0, 0, 0)
    copy_database(url, tmp_path / "again.db")
    with ChronoDB(tmp_path / "again.db") as db:
        assert db.transactions() == [] and db.tables() == []
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
        assert db.verify_audit_integrity()


def test_postgresql_to_postgresql_and_file_to_file(
    source: str, pg_url: str, second_pg: str, tmp_path: Path
) -> None:
    url = pgserver.as_url(pg_url)
    copy_database(source, url)
    copy_database(url, second_pg)
    assert_same_past(source, second_pg)
    twin = tmp_path / "twin.db"
    copy_database(source, twin)
    assert_same_past(source, str(twin))


def test_a_copy_goes_on_after_the_source(source: str, pg_url: str, tmp_path: Path) -> None:
    url = pgserver.as_url(pg_url)
    copy_database(source, url)
    back = tmp_path / "back.db"
    copy_database(url, back)
    with ChronoDB(source) as db:
        last = db.transactions(limit=1)[0]
    for location in (url, str(back)):
        with ChronoDB(location, user="carl") as db:
            written = db.execute("INSERT INTO users (name) VALUES ('eve')")
            assert written.tx_id is not None and written.tx_id > last["tx_id"]
            newest = db.transactions(limit=1)[0]
            assert newest["tx_time"] > last["tx_time"]
            assert newest["user"] == "carl"
            assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 4
            assert db.verify_audit_integrity()
            assert db.check_history() == []


def test_progress_is_reported_up_to_the_total(source: str, pg_url: str) -> None:
    seen: list[tuple[int, int]] = []
    copy_database(source, pgserver.as_url(pg_url), progress=lambda d, t: seen.append((d, t)))
    assert seen
    assert seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_postgresql_destination_with_tables_is_refused_untouched(
    source: str, pg_url: str
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (id int PRIMARY KEY)")
    url = pgserver.as_url(pg_url)
    with pytest.raises(CopyError, match=r"is not empty: it holds mine") as caught:
        copy_database(source, url)
    assert caught.value.destination == url
    with psycopg.connect(pg_url, autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relkind = 'r'")}
    assert "mine" in names
    assert not any(n.startswith("_chrono_") for n in names)  # not even adopted


def test_a_postgresql_destination_with_history_is_refused(source: str, pg_url: str) -> None:
    url = pgserver.as_url(pg_url)
    copy_database(source, url)
    with pytest.raises(CopyError, match=r"is not empty"):
        copy_database(source, url)


def test_an_existing_file_is_never_overwritten(source: str, tmp_path: Path) -> None:
    target = tmp_path / "taken.db"
    target.write_bytes(b"precious")
    with pytest.raises(CopyError, match=r"taken.db exists and is not empty"):
        copy_database(source, target)
    assert target.read_bytes() == b"precious"
    with pytest.raises(CopyError, match=r"same database"):
        copy_database(source, source)


def test_a_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(CopyError, match=r"no such database file: .*nowhere.db"):
        copy_database(tmp_path / "nowhere.db", tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()


def test_a_column_postgresql_cannot_hold_exactly_is_refused_and_nothing_kept(
    tmp_path: Path, pg_url: str
) -> None:
    path = str(tmp_path / "loose.db")
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE fine (id INTEGER PRIMARY KEY, v TEXT)")
        db.execute("INSERT INTO fine VALUES (1, 'x')")
        db.execute("CREATE TABLE loose (id INTEGER PRIMARY KEY, v)")
        db.execute("INSERT INTO loose VALUES (1, 'text'), (2, 42)")
    url = pgserver.as_url(pg_url)
    with pytest.raises(CopyError, match=r"column loose\.v holds values of several types"):
        copy_database(path, url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname IN ('fine', 'loose')"
        ).fetchall()
        (recorded,) = conn.execute("SELECT count(*) FROM _chrono_tx").fetchone()
    assert tables == [] and recorded == 0


def test_a_rowid_table_cannot_go_to_postgresql(tmp_path: Path, pg_url: str) -> None:
    path = str(tmp_path / "rowid.db")
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('x')")
    with pytest.raises(CopyError, match=r"table notes has no primary key"):
        copy_database(path, pgserver.as_url(pg_url))


def test_postgresql_types_reach_sqlite_as_their_ledger_digested_them(
    pg_url: str, tmp_path: Path
) -> None:
    url = pgserver.as_url(pg_url)
    with ChronoDB(url, user="pat") as db:
        db.execute(
            "CREATE TABLE things (id bigint PRIMARY KEY, flag boolean, price numeric(6,2), "
            "at timestamptz, day date, tiny double precision)"
        )
        db.execute(
            "INSERT INTO things VALUES (1, true, 1.50, '2025-01-02 03:04:05.5+02', "
            "'2025-01-02', 5e-324)"
        )
        db.execute("UPDATE things SET flag = false, price = 2")
    copy = tmp_path / "things.db"
    copy_database(url, copy)
    with ChronoDB(copy) as db:
        rows = [tuple(r) for r in db.execute("SELECT * FROM things")]
        assert db.verify_audit_integrity()
    assert rows == [(1, 0, "2.00", "2025-01-02 01:04:05.500000+00:00", "2025-01-02", 5e-324)]
    plain = sqlite3.connect(copy)
    declared = [r[2] for r in plain.execute("PRAGMA table_info(things)")]
    plain.close()
    assert declared == ["INTEGER", "INTEGER", "TEXT", "TEXT", "TEXT", "REAL"]


def test_a_failure_inside_the_postgresql_transaction_keeps_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    path = str(tmp_path / "odd.db")
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'x')")
        # A view PostgreSQL cannot make: the failure comes after the tables are written.
        db.execute("CREATE VIEW odd AS SELECT printf('%05d', id) AS padded FROM t")
    url = pgserver.as_url(pg_url)
    with pytest.raises(CopyError, match=r"writing .* failed, nothing was kept: .*printf"):
        copy_database(path, url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        made = conn.execute(
            "SELECT relname FROM pg_class WHERE relname IN ('t', 'odd') "
            "OR starts_with(relname, '_chrono_h')"
        ).fetchall()
        (recorded,) = conn.execute("SELECT count(*) FROM _chrono_tx").fetchone()
    assert made == [] and recorded == 0


def test_a_failure_writing_a_file_leaves_no_file(tmp_path: Path, pg_url: str) -> None:
    url = pgserver.as_url(pg_url)
    with ChronoDB(url) as db:
        db.execute("CREATE TABLE t (id bigint PRIMARY KEY, v text)")
        db.execute("INSERT INTO t VALUES (1, 'a')")
        with db.transaction():  # one row, two versions in one transaction
            db.execute("UPDATE t SET v = 'b' WHERE id = 1")
            db.execute("UPDATE t SET v = 'c' WHERE id = 1")
    target = tmp_path / "out" / "copy.db"
    target.parent.mkdir()
    with pytest.raises(CopyError, match=r"table t has a transaction that wrote one row in"):
        copy_database(url, target)
    assert list(target.parent.iterdir()) == []
