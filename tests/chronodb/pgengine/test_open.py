"""ChronoDB on a PostgreSQL URL: opening adopts keyed tables, options become session
settings, passwords stay out of messages, and what is not done there yet says so."""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator

import psycopg
import pytest
from tests.chronodb import pgserver

from chronodb import (
    ChronoDB,
    ChronoDBWarning,
    ConnectionLostError,
    ForeignKeyViolation,
    ReadOnlyError,
    SchemaError,
    ServerError,
    UnversionedTablesError,
)


@pytest.fixture
def url(pg_url: str) -> str:
    return pgserver.as_url(pg_url)


@pytest.fixture
def db(url: str) -> Iterator[ChronoDB]:
    database = ChronoDB(url, user="tester")
    yield database
    database.close()


def test_opening_adopts_keyed_tables_and_reports_the_others(pg_url: str, url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO kept VALUES (1, 'before ChronoDB')")
        conn.execute("CREATE TABLE loose (v text)")
    with pytest.warns(ChronoDBWarning, match="no primary key: loose"):
        db = ChronoDB(url)
    with db:
        assert db.tables() == ["kept"]
        adoption = db.transactions()[0]
        assert (adoption["kind"], adoption["tables"]) == ("adopt", 1)  # as on SQLite
        adopted = adoption["tx_id"]
        db.execute("UPDATE kept SET v = 'after'")
        old = db.execute("SELECT v FROM kept AS OF TRANSACTION ?", [adopted])
        assert old.scalar() == "before ChronoDB"
        assert db.execute("SELECT v FROM kept").scalar() == "after"


def test_adopt_false_refuses_unversioned_tables(pg_url: str, url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
    with pytest.raises(UnversionedTablesError, match="kept") as caught:
        ChronoDB(url, adopt=False)
    assert caught.value.tables == ["kept"]


def test_the_password_never_appears(pg_server: str) -> None:
    host = psycopg.conninfo.conninfo_to_dict(pg_server).get("host", "127.0.0.1")
    url = f"postgresql://nobody:s3cr3t-pw@{host}:5432/no_such_database_here"
    with pytest.raises(ServerError) as caught:
        ChronoDB(url)
    assert "s3cr3t-pw" not in str(caught.value)
    assert "s3cr3t-pw" not in repr(caught.value)


def test_an_unreachable_server_names_its_host() -> None:
    with pytest.raises(ServerError, match=r"127\.0\.0\.1:1"):
        ChronoDB("postgres://u:pw@127.0.0.1:1/db", timeout=2)


def test_repr_hides_the_password(pg_server: str, pg_url: str) -> None:
    parts = psycopg.conninfo.conninfo_to_dict(pg_url)
    url = f"postgresql://{parts.get('user', 'postgres')}:pw-xyz@127.0.0.1:5432/{parts['dbname']}"
    with ChronoDB(url) as db:
        assert "pw-xyz" not in repr(db) and "pw-xyz" not in db.path


def test_user_is_recorded_and_read_only_refuses_writes(url: str, db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.user = "bob"
    written = db.execute("INSERT INTO t VALUES (1)")
    assert written.lastrowid is None  # PostgreSQL has no rowid: RETURNING gives keys
    assert db.transactions()[0] == {
        "tx_id": written.tx_id,
        "tx_time": written.tx_time,
        "user": "bob",
        "kinds": ["INSERT"],
    }
    with ChronoDB(url, read_only=True) as reader:
        assert reader.execute("SELECT id FROM t AS OF TRANSACTION ?", [written.tx_id]).rows
        with pytest.raises(ReadOnlyError):
            reader.execute("INSERT INTO t VALUES (2)")


def test_psycopg_placeholders_work_too(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    first = db.execute("INSERT INTO t VALUES (%s, %s)", [1, "a"])
    db.execute("UPDATE t SET v = %(v)s WHERE id = %(id)s", {"v": "b", "id": 1})
    old = db.execute("SELECT v FROM t AS OF TRANSACTION %s WHERE id = %s", [first.tx_id, 1])
    assert old.scalar() == "a"


def test_the_learned_optimizer_runs_on_postgresql(url: str) -> None:
    db = ChronoDB(url, ml_optimizer={"enabled": True})
    try:
        db.execute("CREATE TABLE t (id int PRIMARY KEY)")
        db.execute("SELECT * FROM t WHERE id = 1")
        assert db.ml_optimizer.get_performance_metrics()["statements_seen"] == 2
    finally:
        db.close()


def test_a_table_without_a_key_is_refused_whole(db: ChronoDB) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SchemaError, match="no primary key"):
            db.execute("CREATE TABLE loose (v text)")
    assert db.execute("SELECT to_regclass('loose')").scalar() is None


def test_a_repeatable_read_transaction_keeps_its_points(url: str, db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    first = db.execute("INSERT INTO t VALUES (1, 1)")
    with ChronoDB(url, user="writer") as other:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert db.execute("SELECT v FROM t").scalar() == 1
        later = other.execute("UPDATE t SET v = 2")
        assert later.tx_id > first.tx_id
        seen = db.execute("SELECT v FROM t AS OF TRANSACTION ?", [later.tx_id]).scalar()
        db.execute("COMMIT")
    assert seen == 1  # the transaction's snapshot predates the update: the point is bounded
    assert db.execute("SELECT v FROM t AS OF TRANSACTION ?", [later.tx_id]).scalar() == 2


def test_a_dropped_connection_is_reported_then_made_again(pg_url: str, db: ChronoDB) -> None:
    created = db.execute("CREATE TABLE t (id int PRIMARY KEY)").tx_id
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (1)")
    pid = db.execute("SELECT pg_backend_pid()").scalar()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    host = psycopg.conninfo.conninfo_to_dict(pg_url).get("host", "")
    with pytest.raises(ConnectionLostError, match=re.escape(host)):
        db.execute("INSERT INTO t VALUES (2)")
    assert not db.in_transaction
    # It connects again; the lost transaction left nothing.
    assert [t["tx_id"] for t in db.transactions()] == [created]
    written = db.execute("INSERT INTO t VALUES (3)")
    assert written.tx_id is not None
    assert db.execute("SELECT id FROM t").rows == [(3,)]  # nothing of the lost transaction


def test_a_failure_at_commit_is_translated_and_ends_the_transaction(db: ChronoDB) -> None:
    db.execute("CREATE TABLE parent (id int PRIMARY KEY)")
    db.execute(
        "CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent "
        "DEFERRABLE INITIALLY DEFERRED)"
    )
    with pytest.raises(ForeignKeyViolation), db.transaction():
        db.execute("INSERT INTO child VALUES (1, 42)")
    assert not db.in_transaction
    assert db.execute("SELECT count(*) FROM child").scalar() == 0


def test_autocommit_ids_are_read_back_only_for_what_committed(db: ChronoDB) -> None:
    db.execute("CREATE TABLE parent (id int PRIMARY KEY)")
    created = db.execute(
        "CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent "
        "DEFERRABLE INITIALLY DEFERRED)"
    ).tx_id
    first = db.execute("INSERT INTO parent VALUES (1)")
    assert db.execute("UPDATE parent SET id = 2 WHERE id = 99").tx_id is None  # wrote nothing
    with pytest.raises(ForeignKeyViolation):
        db.execute("INSERT INTO child VALUES (1, 42)")  # fails at COMMIT
    second = db.execute("INSERT INTO child VALUES (1, 1)")
    assert second.tx_id > first.tx_id  # (a gap if the failed COMMIT had taken an id)
    ids = [second.tx_id, first.tx_id, created, created - 1]  # DDL gets ids too
    assert [t["tx_id"] for t in db.transactions()] == ids


def test_concurrent_writers_get_the_ids_their_commits_got(url: str, db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
    log: list[tuple[int, int, int]] = []  # (tx_id, key, value) per committed write
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            with ChronoDB(url, user=f"w{number}") as mine:
                for step in range(15):
                    key, value = step % 4 * 10 + number, step
                    sql = "INSERT INTO t VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = ?"
                    done = mine.execute(sql, [key, value, value])
                    log.append((done.tx_id, key, value))
        except BaseException as err:  # reported below, in the test's thread
            failures.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    ids = sorted(tx for tx, _, _ in log)
    assert len(set(ids)) == len(ids) == 60
    state: dict[int, int] = {}
    for tx, key, value in sorted(log):
        state[key] = value
        found = db.execute("SELECT k, v FROM t AS OF TRANSACTION ? ORDER BY k", [tx])
        assert [tuple(r) for r in found.rows] == sorted(state.items()), f"at {tx}"


def test_a_script_keeps_dollar_quoted_bodies_whole(db: ChronoDB) -> None:
    db.executescript(
        """
        CREATE TABLE t (id int PRIMARY KEY, v text);
        CREATE FUNCTION shout(x text) RETURNS text AS $$
          BEGIN RETURN upper(x) || ';'; END
        $$ LANGUAGE plpgsql;  -- a comment; with a semicolon
        INSERT INTO t VALUES (1, shout('a;b'));
        """
    )
    assert db.execute("SELECT v FROM t").scalar() == "A;B;"
    assert db.tables() == ["t"]


def test_the_ledger_catches_an_edit_behind_its_back(pg_url: str, db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    written = db.execute("INSERT INTO t VALUES (1, 'honest')")
    assert db.tx_hash(written.tx_id) == written.tx_hash
    assert db.verify_audit_integrity()
    with psycopg.connect(pg_url, autocommit=True) as admin:  # a superuser, triggers off
        admin.execute("SET session_replication_role = replica")
        hist = admin.execute("SELECT hist FROM _chrono_versioned WHERE table_name = 't'")
        admin.execute(f"UPDATE \"{hist.fetchone()[0]}\" SET v = 'forged'")
    assert not db.verify_audit_integrity()
