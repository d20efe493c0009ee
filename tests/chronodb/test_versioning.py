"""Every write keeps history: versions per transaction, keys, transactions and results.

The tests taking ``db`` run on SQLite and on PostgreSQL, except those marked
``SQLITE_ONLY`` (rowids, plain sqlite3 writers, SQLite's conflict clauses, SQLite's own SQL).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path

import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB, ChronoDBWarning, SchemaError, UniqueViolation
from chronodb.database import engine_of
from chronodb.layout import WRITE_GUARD


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def versions(db: ChronoDB, table: str, columns: str = "*") -> list[tuple]:
    """Every version of the table, oldest first per key, without the period columns."""
    return rows(db, f"SELECT {columns} FROM {table} FOR SYSTEM_TIME ALL ORDER BY sys_from, 1")


def tx_count(db: ChronoDB) -> int:
    return len(db.transactions())


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> ChronoDB:
    """A fresh database in memory, or on the PostgreSQL test server."""
    if request.param == "sqlite":
        database = ChronoDB(":memory:", user="tester")
    else:
        database = ChronoDB(pgserver.as_url(request.getfixturevalue("pg_url")), user="tester")
    request.addfinalizer(database.close)
    return database


SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def no_damage(db: ChronoDB) -> None:
    """check_history finds nothing."""
    assert db.check_history() == []


@pytest.fixture
def users(db: ChronoDB) -> ChronoDB:
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
    db.execute("INSERT INTO users VALUES (1, 'Alice', 10), (2, 'Bob', 20)")
    return db


# ------------------------------------------------------------------ versions
def test_update_that_changes_nothing_makes_no_version(users: ChronoDB) -> None:
    before = (versions(users, "users"), tx_count(users))
    result = users.execute("UPDATE users SET name = 'Alice' WHERE id = 1")
    assert result.rowcount == 1
    assert result.tx_id is None
    assert [h["operation"] for h in users.get_change_history("users", 1)] == ["INSERT"]
    # an UPDATE that matches no row is no transaction either
    assert users.execute("UPDATE users SET score = 0 WHERE id = 99").tx_id is None
    assert (versions(users, "users"), tx_count(users)) == before


def test_transaction_of_no_op_updates_leaves_no_record(users: ChronoDB) -> None:
    before = (versions(users, "users"), tx_count(users))
    with users.transaction():
        users.execute("UPDATE users SET score = score WHERE id = 1")
        users.execute("UPDATE users SET name = name")
    assert (versions(users, "users"), tx_count(users)) == before
    with users.transaction():
        users.execute("UPDATE users SET name = name")
        users.execute("UPDATE users SET score = 0 WHERE id = 2")
    assert tx_count(users) == before[1] + 1
    assert [h["operation"] for h in users.get_change_history("users", 2)] == ["INSERT", "UPDATE"]


def test_temp_table_writes_are_kept_but_not_versioned(db: ChronoDB) -> None:
    db.execute("CREATE TEMP TABLE scratch (x INTEGER)")
    before = tx_count(db)
    result = db.execute("INSERT INTO scratch VALUES (1), (2)")
    assert result.rowcount == 2
    assert result.tx_id is None
    assert rows(db, "SELECT x FROM scratch") == [(1,), (2,)]
    assert tx_count(db) == before


def test_tables_another_connection_creates_or_alters_are_versioned_here(tmp_path: Path) -> None:
    """Each connection versions through triggers of its own: it makes them again for a
    schema another connection changed before it writes."""
    path = tmp_path / "shared.db"
    with ChronoDB(path, ledger=False) as here, ChronoDB(path, ledger=False) as there:
        here.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        here.execute("INSERT INTO t VALUES (1, 'a')")
        there.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, w TEXT)")
        there.execute("ALTER TABLE t ADD COLUMN z INTEGER")
        here.execute("UPDATE t SET v = 'b', z = 5")
        here.execute("INSERT INTO u VALUES (1, 'x')")
        assert [h["values"] for h in there.get_change_history("t", 1)] == [
            {"id": 1, "v": "a"},  # z did not exist yet
            {"id": 1, "v": "b", "z": 5},
        ]
        assert [h["operation"] for h in there.get_change_history("u", 1)] == ["INSERT"]
        assert here.check_history() == [] and there.check_history() == []


def test_several_changes_in_one_transaction_make_one_version(users: ChronoDB) -> None:
    with users.transaction():
        users.execute("UPDATE users SET score = score + 1 WHERE id = 1")
        users.execute("UPDATE users SET score = score + 1 WHERE id = 1")
        users.execute("UPDATE users SET name = 'Alicia' WHERE id = 1")
    history = users.get_change_history("users", 1)
    assert [h["operation"] for h in history] == ["INSERT", "UPDATE"]
    assert history[-1]["values"] == {"id": 1, "name": "Alicia", "score": 12}
    assert history[-1]["before"] == {"id": 1, "name": "Alice", "score": 10}


def test_insert_then_update_in_one_transaction_is_an_insert(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1, 'a')")
        db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    history = db.get_change_history("t", 1)
    assert [(h["operation"], h["values"]) for h in history] == [("INSERT", {"id": 1, "v": "b"})]


def test_insert_then_delete_in_one_transaction_leaves_no_row_in_any_past(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1, 'a')")
        db.execute("DELETE FROM t WHERE id = 1")
    assert rows(db, "SELECT * FROM t FOR SYSTEM_TIME ALL") == []
    assert db.get_change_history("t", 1) == []


def test_delete_and_reinsert_of_a_key(users: ChronoDB) -> None:
    gone = users.execute("DELETE FROM users WHERE id = 2").tx_time
    back = users.execute("INSERT INTO users VALUES (2, 'Bob II', 5)").tx_time
    history = users.get_change_history("users", 2)
    assert [h["operation"] for h in history] == ["INSERT", "DELETE", "INSERT"]
    assert history[1]["values"] == {"id": 2, "name": "Bob", "score": 20}
    assert history[2]["before"] is None
    assert rows(users, "SELECT name FROM users AS OF TIMESTAMP ? WHERE id = 2", [gone]) == []
    assert rows(users, "SELECT name FROM users AS OF TIMESTAMP ? WHERE id = 2", [back]) == [
        ("Bob II",)
    ]
    assert versions(users, "users", "id, name") == [(1, "Alice"), (2, "Bob"), (2, "Bob II")]


def test_primary_key_change_keeps_both_keys_histories(users: ChronoDB) -> None:
    before = users.execute("UPDATE users SET score = 11 WHERE id = 1").tx_time
    moved = users.execute("UPDATE users SET id = 10 WHERE id = 1").tx_time
    old = users.get_change_history("users", 1)
    assert [h["operation"] for h in old] == ["INSERT", "UPDATE", "DELETE"]
    assert old[-1]["tx_time"] == moved
    new = users.get_change_history("users", 10)
    assert [(h["operation"], h["values"]) for h in new] == [
        ("INSERT", {"id": 10, "name": "Alice", "score": 11})
    ]
    sql = "SELECT id FROM users AS OF TIMESTAMP ? ORDER BY id"
    assert rows(users, sql, [before]) == [(1,), (2,)]
    assert rows(users, sql, [moved]) == [(2,), (10,)]


def test_one_statement_moving_every_key(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    at = db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')").tx_id
    moved = db.execute("UPDATE t SET id = id + 10").tx_id
    assert rows(db, "SELECT * FROM t ORDER BY id") == [(11, "a"), (12, "b")]
    sql = "SELECT * FROM t AS OF TRANSACTION ? ORDER BY id"
    assert rows(db, sql, [at]) == [(1, "a"), (2, "b")]
    assert rows(db, sql, [moved]) == [(11, "a"), (12, "b")]
    assert [h["operation"] for h in db.get_change_history("t", 2)] == ["INSERT", "DELETE"]


@pytest.mark.parametrize(
    ("db", "move"),
    [
        ("sqlite", "UPDATE t SET rowid = 20 WHERE id = 2"),
        ("sqlite", "UPDATE t SET _ROWID_ = 20 WHERE id = 2"),
        ("sqlite", 'UPDATE t SET "oid" = 20 WHERE id = 2'),
        *(
            (backend, move)
            for backend in ("sqlite", "postgresql")
            for move in (
                "UPDATE t SET (v, id) = ('moved', 20) WHERE id = 2",
                "INSERT INTO t VALUES (2, 'x') ON CONFLICT (id) DO UPDATE SET id = 20",
            )
        ),
    ],
    indirect=["db"],
)
def test_a_key_changed_by_any_name_of_the_rowid(db: ChronoDB, move: str) -> None:
    """INTEGER PRIMARY KEY is the rowid: changing it by another name is a key change too."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    moved = db.execute(move).tx_id
    assert [h["operation"] for h in db.get_change_history("t", 2)] == ["INSERT", "DELETE"]
    assert [h["operation"] for h in db.get_change_history("t", 20)] == ["INSERT"]
    sql = "SELECT id FROM t AS OF TRANSACTION ? ORDER BY id"
    assert rows(db, sql, [moved]) == rows(db, "SELECT id FROM t ORDER BY id") == [(1,), (20,)]
    no_damage(db)


@SQLITE_ONLY
def test_rowid_keyed_table_moved_by_rowid(db: ChronoDB) -> None:
    db.execute("CREATE TABLE log (msg TEXT)")
    db.execute("INSERT INTO log VALUES ('a'), ('b')")
    db.execute("UPDATE log SET oid = 9 WHERE msg = 'b'")
    db.execute("UPDATE log SET msg = 'c' WHERE msg = 'a'")  # names no key: a plain update
    assert [h["operation"] for h in db.get_change_history("log", 2)] == ["INSERT", "DELETE"]
    assert [h["operation"] for h in db.get_change_history("log", 9)] == ["INSERT"]
    assert [h["operation"] for h in db.get_change_history("log", 1)] == ["INSERT", "UPDATE"]
    assert db.check_history() == []


@SQLITE_ONLY
def test_table_without_primary_key_uses_the_rowid(db: ChronoDB) -> None:
    db.execute("CREATE TABLE log (msg TEXT, level INTEGER)")
    first = db.execute("INSERT INTO log VALUES ('start', 1), ('start', 1)").tx_time
    db.execute("UPDATE log SET level = 2 WHERE rowid = 2")
    deleted = db.execute("DELETE FROM log WHERE rowid = 1").tx_time
    sql = "SELECT msg, level FROM log AS OF TIMESTAMP ? ORDER BY level"
    assert rows(db, sql, [first]) == [("start", 1), ("start", 1)]
    assert rows(db, sql, [deleted]) == [("start", 2)]
    assert [h["operation"] for h in db.get_change_history("log", 2)] == ["INSERT", "UPDATE"]
    assert [h["operation"] for h in db.get_change_history("log", 1)] == ["INSERT", "DELETE"]


def test_composite_primary_key(db: ChronoDB) -> None:
    db.execute("CREATE TABLE stock (shop TEXT, item TEXT, qty INTEGER, PRIMARY KEY (shop, item))")
    first = db.execute("INSERT INTO stock VALUES ('a', 'x', 1), ('a', 'y', 2), ('b', 'x', 3)")
    db.execute("UPDATE stock SET qty = qty * 10 WHERE item = 'x'")
    db.execute("UPDATE stock SET shop = 'c' WHERE shop = 'b'")
    history = db.get_change_history("stock", ("a", "x"))
    assert [(h["operation"], h["values"]["qty"]) for h in history] == [
        ("INSERT", 1),
        ("UPDATE", 10),
    ]
    assert db.get_change_history("stock", {"shop": "c", "item": "x"})[0]["values"]["qty"] == 30
    assert [h["operation"] for h in db.get_change_history("stock", ["b", "x"])] == [
        "INSERT",
        "UPDATE",
        "DELETE",
    ]
    sql = "SELECT * FROM stock AS OF TRANSACTION ? ORDER BY shop, item"
    assert rows(db, sql, [first.tx_id]) == [("a", "x", 1), ("a", "y", 2), ("b", "x", 3)]
    assert rows(db, "SELECT * FROM stock ORDER BY shop, item") == [
        ("a", "x", 10),
        ("a", "y", 2),
        ("c", "x", 30),
    ]


@SQLITE_ONLY
def test_insert_or_replace_records_the_replaced_row(users: ChronoDB) -> None:
    at = users.transactions(1)[0]["tx_time"]
    users.execute("INSERT OR REPLACE INTO users VALUES (1, 'Alice R', 99)")
    assert rows(users, "SELECT name FROM users AS OF TIMESTAMP ? WHERE id = 1", [at]) == [
        ("Alice",)
    ]
    assert rows(users, "SELECT name, score FROM users WHERE id = 1") == [("Alice R", 99)]
    assert users.get_change_history("users", 1)[-1]["values"]["name"] == "Alice R"


def test_upsert_records_an_update(users: ChronoDB) -> None:
    users.execute(
        "INSERT INTO users VALUES (1, 'Alice', 50) "
        "ON CONFLICT (id) DO UPDATE SET score = excluded.score"
    )
    history = users.get_change_history("users", 1)
    assert [(h["operation"], h["values"]["score"]) for h in history] == [
        ("INSERT", 10),
        ("UPDATE", 50),
    ]


@SQLITE_ONLY
# -------------------------------------------------------------- transactions
def test_begin_commit_statements(users: ChronoDB) -> None:
    users.execute("BEGIN")
    assert users.in_transaction
    a = users.execute("UPDATE users SET score = 1 WHERE id = 1")
    b = users.execute("UPDATE users SET score = 2 WHERE id = 2")
    users.execute("COMMIT")
    assert not users.in_transaction
    assert a.tx_id == b.tx_id is not None
    assert a.tx_time == b.tx_time
    assert {h["tx_id"] for h in users.get_change_history("users", 2)[1:]} == {a.tx_id}


def test_rollback_statement_leaves_no_trace(users: ChronoDB) -> None:
    before = (tx_count(users), versions(users, "users"))
    users.execute("BEGIN")
    users.execute("UPDATE users SET score = 0")
    users.execute("INSERT INTO users VALUES (3, 'Carol', 30)")
    users.execute("ROLLBACK")
    assert (tx_count(users), versions(users, "users")) == before
    assert rows(users, "SELECT count(*) FROM users") == [(2,)]


def test_transaction_context_rolls_back_on_exception(users: ChronoDB) -> None:
    before = (tx_count(users), versions(users, "users"))
    with pytest.raises(RuntimeError), users.transaction():
        users.execute("DELETE FROM users")
        users.execute("INSERT INTO users VALUES (3, 'Carol', 30)")
        raise RuntimeError("boom")
    assert (tx_count(users), versions(users, "users")) == before
    assert not users.in_transaction


def test_transaction_context_commits(users: ChronoDB) -> None:
    with users.transaction():
        users.execute("INSERT INTO users VALUES (3, 'Carol', 30)")
        users.execute("DELETE FROM users WHERE id = 1")
    assert rows(users, "SELECT id FROM users ORDER BY id") == [(2,), (3,)]
    history = users.get_change_history("users", 3) + users.get_change_history("users", 1)[1:]
    assert len({h["tx_id"] for h in history}) == 1


def test_failed_statement_inside_transaction_keeps_earlier_work(users: ChronoDB) -> None:
    from chronodb import IntegrityError

    with users.transaction():
        users.execute("UPDATE users SET score = 0 WHERE id = 1")
        with pytest.raises(IntegrityError):
            users.execute("INSERT INTO users VALUES (2, 'dup', 0)")
    assert rows(users, "SELECT score FROM users ORDER BY id") == [(0,), (20,)]
    assert [h["operation"] for h in users.get_change_history("users", 2)] == ["INSERT"]


def test_savepoints_inside_a_transaction(users: ChronoDB) -> None:
    users.execute("BEGIN")
    users.execute("SAVEPOINT first")
    undone = users.execute("UPDATE users SET score = 0 WHERE id = 1")
    users.execute("ROLLBACK TO first")
    kept = users.execute("UPDATE users SET score = 3 WHERE id = 1")
    users.execute("SAVEPOINT second")
    users.execute("CREATE TABLE scratch (k INTEGER PRIMARY KEY)")
    users.execute("ROLLBACK TRANSACTION TO second")
    users.execute("RELEASE first")
    users.execute("COMMIT")
    assert undone.tx_id == kept.tx_id
    history = users.get_change_history("users", 1)
    assert [(h["operation"], h["values"]["score"]) for h in history] == [
        ("INSERT", 10),
        ("UPDATE", 3),
    ]
    assert history[-1]["tx_id"] == users.transactions(1)[0]["tx_id"]
    assert "scratch" not in users.tables()
    no_damage(users)
    assert users.verify_audit_integrity()


def test_savepoint_outside_a_transaction_is_refused(users: ChronoDB) -> None:
    from chronodb import TransactionError

    with pytest.raises(TransactionError, match=r"'SAVEPOINT s'.*BEGIN"):
        users.execute("SAVEPOINT s")
    assert not users.in_transaction
    users.execute("UPDATE users SET score = 1 WHERE id = 1")  # writes still work
    assert rows(users, "SELECT score FROM users WHERE id = 1") == [(1,)]


def test_executemany_is_one_transaction(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    result = db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(50)])
    assert result.rowcount == 50
    assert result.tx_id is not None
    txs = {h["tx_id"] for i in range(50) for h in db.get_change_history("t", i)}
    assert txs == {result.tx_id}
    named = db.executemany("UPDATE t SET v = :v WHERE id = :id", [{"id": 1, "v": "x"}])
    assert named.rowcount == 1
    assert rows(db, "SELECT v FROM t WHERE id = 1") == [("x",)]


@SQLITE_ONLY
# ------------------------------------------------------------------ results
def test_result_contract(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    ins = db.execute("INSERT INTO t (name) VALUES (?)", ["a"])
    assert ins.lastrowid == 1
    assert ins.rowcount == 1
    assert isinstance(ins.tx_id, int)
    assert isinstance(ins.tx_time, float)
    db.execute("INSERT INTO t (name) VALUES ('b')")
    result = db.execute("SELECT id, name AS label FROM t ORDER BY id")
    assert result.columns == ["id", "label"]
    assert result[0][0] == 1
    assert result[0]["label"] == "a"
    assert tuple(result[1]) == (2, "b")
    assert [tuple(r) for r in result] == [(1, "a"), (2, "b")]
    assert result.to_dicts() == [{"id": 1, "label": "a"}, {"id": 2, "label": "b"}]
    assert len(result) == 2
    assert result.tx_id is None
    temporal = db.execute("SELECT name FROM t AS OF TIMESTAMP ?", [ins.tx_time])
    assert temporal.columns == ["name"]
    assert temporal.to_dicts() == [{"name": "a"}]


@pytest.mark.parametrize("ledger", [True, False])
def test_an_autocommit_write_returns_its_rows_and_transaction(ledger: bool) -> None:
    with ChronoDB(":memory:", ledger=ledger) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
        db.execute("INSERT INTO users VALUES (1, 'Alice', 10), (2, 'Bob', 20)")
        result = db.execute("UPDATE users SET score = score + 1 RETURNING id, score")
        # RETURNING rows are read before the commit, so every row's change is in it.
        assert sorted(tuple(r) for r in result) == [(1, 11), (2, 21)]
        assert result.rowcount == 2
        assert [h["tx_id"] for h in db.get_change_history("users", 2)][-1] == result.tx_id
        assert result.tx_hash == (db.tx_hash(result.tx_id) if ledger else None)


def test_a_failed_autocommit_write_leaves_no_trace(users: ChronoDB) -> None:
    from chronodb import IntegrityError

    before = (versions(users, "users"), tx_count(users))
    with pytest.raises(IntegrityError):
        users.execute("INSERT INTO users VALUES (3, 'Carol', 30), (1, 'dup', 0)")
    assert (versions(users, "users"), tx_count(users)) == before
    # The ledger forgot the failed write's seal: the next write seals and verifies.
    after = users.execute("INSERT INTO users VALUES (3, 'Carol', 30)")
    assert after.tx_hash == users.tx_hash(after.tx_id)
    assert users.verify_audit_integrity()


def test_tx_time_strictly_increases(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    results = [db.execute("INSERT INTO t VALUES (?)", [i]) for i in range(100)]
    times = [r.tx_time for r in results]
    ids = [r.tx_id for r in results]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert all(a < b for a, b in itertools.pairwise(ids))


def test_user_is_recorded(tmp_path: Path) -> None:
    with ChronoDB(tmp_path / "u.db", user="alice") as alice:
        alice.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        alice.execute("INSERT INTO t VALUES (1, 'a')")
    with ChronoDB(tmp_path / "u.db", user="bob") as bob:
        bob.execute("UPDATE t SET v = 'b'")
        assert [h["user"] for h in bob.get_change_history("t", 1)] == ["alice", "bob"]
        assert bob.transactions(limit=1)[0]["user"] == "bob"


# ------------------------------------------------------- other connections
@pytest.mark.parametrize(
    "write",
    [
        "UPDATE t SET v = 'forged' WHERE id = 1",
        "INSERT INTO t VALUES (2, 'forged')",
        "DELETE FROM t",
        "INSERT OR REPLACE INTO t VALUES (1, 'forged')",
    ],
)
def test_a_plain_sqlite3_write_is_refused_and_the_past_stays_as_it_was(
    tmp_path: Path, write: str
) -> None:
    """Another tool's write would have no version: its connection has no history triggers."""
    path = tmp_path / "shared.db"
    with ChronoDB(path, ledger=False) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'first')")
        then = db.execute("UPDATE t SET v = 'second'").tx_time
    with sqlite3.connect(path) as plain:
        with pytest.raises(sqlite3.OperationalError, match="write_through_chronodb"):
            plain.execute(write)
        assert plain.execute("SELECT * FROM t").fetchall() == [(1, "second")]  # reads work
    with ChronoDB(path, ledger=False) as db:
        assert rows(db, "SELECT * FROM t AS OF TIMESTAMP ?", [then]) == [(1, "second")]
        assert [h["values"]["v"] for h in db.get_change_history("t", 1)] == ["first", "second"]
        db.execute("UPDATE t SET v = 'third'")
        assert rows(db, "SELECT * FROM t") == [(1, "third")]


def test_a_plain_sqlite3_write_to_a_table_of_keys_alone_is_refused(tmp_path: Path) -> None:
    """No column outside the key: every UPDATE changes the key."""
    path = tmp_path / "tags.db"
    with ChronoDB(path, ledger=False) as db:
        db.execute("CREATE TABLE tags (name TEXT PRIMARY KEY)")
        db.execute("INSERT INTO tags VALUES ('old')")
    refused = pytest.raises(sqlite3.OperationalError, match="write_through_chronodb")
    with sqlite3.connect(path) as plain, refused:
        plain.execute("UPDATE tags SET name = 'new'")
    with ChronoDB(path, ledger=False) as db:
        assert rows(db, "SELECT * FROM tags") == [("old",)]
        db.execute("UPDATE tags SET name = 'new'")
        assert [h["operation"] for h in db.get_change_history("tags", "new")] == ["INSERT"]


def test_the_guard_is_compiled_but_never_called_on_a_write(tmp_path: Path) -> None:
    """ChronoDB's own writes pass the guard without a call into its collation per row."""
    calls: list[tuple[str, str]] = []
    with ChronoDB(tmp_path / "guarded.db", ledger=False) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        engine_of(db).conn.create_collation(WRITE_GUARD, lambda a, b: calls.append((a, b)) or 0)
        db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        db.execute("UPDATE t SET v = v || '!'")
        db.execute("DELETE FROM t WHERE id = 2")
        assert calls == []
        assert [h["values"]["v"] for h in db.get_change_history("t", 1)] == ["a", "a!"]
        assert [h["operation"] for h in db.get_change_history("t", 2)][-1] == "DELETE"


def test_a_write_past_the_guard_is_not_versioned_and_is_reported(tmp_path: Path) -> None:
    """A connection that defines the guard's collation writes without history."""
    path = tmp_path / "raw.db"
    with ChronoDB(path, ledger=False) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'a')")
    with sqlite3.connect(path) as raw:
        raw.create_collation(WRITE_GUARD, lambda _a, _b: 0)
        raw.execute("UPDATE t SET v = 'behind its back' WHERE id = 1")
    with ChronoDB(path, ledger=False) as db:
        assert [h["values"]["v"] for h in db.get_change_history("t", 1)] == ["a"]
        [problem] = db.check_history()
        assert problem.startswith("t: current rows differ from history")


@SQLITE_ONLY
# -------------------------------------------------------------- auto-create
def test_insert_creates_a_missing_table(db: ChronoDB) -> None:
    result = db.execute(
        "INSERT INTO people (id, name, height, photo) "
        "VALUES (1, 'Ann', 1.7, x'00'), (2, 'Ben', 2, NULL)"
    )
    assert result.tx_id is not None
    assert "people" in db.tables()
    types = {r["name"]: r["type"] for r in db.execute("PRAGMA table_info(people)")}
    assert types == {"id": "INTEGER", "name": "TEXT", "height": "REAL", "photo": ""}
    assert rows(db, "SELECT id, name FROM people ORDER BY id") == [(1, "Ann"), (2, "Ben")]
    assert rows(db, "SELECT name FROM people AS OF TRANSACTION ?", [result.tx_id]) == [
        ("Ann",),
        ("Ben",),
    ]


def test_insert_creates_a_table_from_parameters(db: ChronoDB) -> None:
    db.execute("INSERT INTO kv (id, value) VALUES (?, ?)", [7, "seven"])
    assert rows(db, "SELECT * FROM kv") == [(7, "seven")]
    assert db.get_change_history("kv", 7)[0]["values"] == {"id": 7, "value": "seven"}


def test_insert_creates_its_table_with_types_of_its_values(db: ChronoDB) -> None:
    result = db.execute(
        "INSERT INTO people (id, name, height, photo, mixed, unknown) VALUES "
        "(?, ?, ?, ?, ?, NULL), (?, ?, ?, ?, ?, NULL)",
        [1, "Ann", 1.7, b"\x00", 5, 2, "Ben", 2, None, "five"],
    )
    assert result.rowcount == 2 and result.tx_id is not None
    assert [t["kinds"] for t in db.transactions()] == [["INSERT"]]
    assert db.tables() == ["people"]
    types = {c.name: c.type for c in db.columns("people")}
    on_postgres = db.path.startswith("postgresql://")
    # Each backend's own types; a column of no one kind takes anything (SQLite) or text.
    expected = (
        ["bigint", "text", "double precision", "bytea", "text", "text"]
        if on_postgres
        else ["INTEGER", "TEXT", "REAL", "BLOB", "", ""]
    )
    assert list(types.values()) == expected
    assert [c.name for c in db.columns("people") if c.primary_key] == ["id"]
    assert rows(
        db, "SELECT id, name, height FROM people AS OF TRANSACTION ? ORDER BY id", [result.tx_id]
    ) == [(1, "Ann", 1.7), (2, "Ben", 2.0)]
    assert [h["operation"] for h in db.get_change_history("people", 2)] == ["INSERT"]
    assert db.verify_audit_integrity()


def test_an_insert_that_fails_creates_no_table(db: ChronoDB) -> None:
    duplicate = "INSERT INTO t (id, v) VALUES (1, 'a'), (1, 'b')"
    with pytest.raises(UniqueViolation):
        db.execute(duplicate)
    assert db.tables() == [] and db.transactions() == []
    with db.transaction():
        db.execute("INSERT INTO kept (id) VALUES (1)")
        with pytest.raises(UniqueViolation):
            db.execute(duplicate)
        assert rows(db, "SELECT id FROM kept") == [(1,)]
    assert db.tables() == ["kept"]
    with pytest.raises(SchemaError) as info:
        db.execute("SELECT * FROM t AS OF TRANSACTION 1")
    assert info.value.table == "t"


def test_an_insert_reading_a_missing_table_creates_nothing(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaError, match="nowhere"):
        db.execute("INSERT INTO t (id) SELECT id FROM nowhere")
    with pytest.raises(SchemaError, match="nowhere"):
        db.execute("INSERT INTO fresh (id) SELECT id FROM nowhere")
    assert db.tables() == ["t"]


def test_an_insert_without_an_id_creates_a_table_where_rows_need_no_key(db: ChronoDB) -> None:
    sql = "INSERT INTO notes (body) VALUES ('hi')"
    if db.path.startswith("postgresql://"):
        # PostgreSQL versions rows by primary key: the error says to create the table.
        with pytest.raises(SchemaError, match=r"named id .* create the table first"):
            db.execute(sql)
        assert db.tables() == []
    else:
        db.execute(sql)
        assert rows(db, "SELECT body FROM notes") == [("hi",)]


def test_auto_create_can_be_switched_off(backend: str) -> None:
    with ChronoDB(backend, auto_create_tables=False) as strict:
        with pytest.raises(SchemaError) as info:
            strict.execute("INSERT INTO users (id, name) VALUES (1, 'Alice')")
        assert info.value.table == "users"
        assert strict.tables() == []
        assert strict.transactions() == []


def test_seed_quick_start_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = ChronoDB("my_database.db")
    try:
        db.execute("INSERT INTO users (id, name, email) VALUES (1, 'Alice', 'alice@email.com')")
        with pytest.warns(ChronoDBWarning, match="before the table existed"):
            result = db.execute(
                "SELECT * FROM users AS OF TIMESTAMP 1635724800 WHERE name = 'Alice'"
            )
        assert list(result) == []
        assert result.columns == ["id", "name", "email"]
        now = db.execute("SELECT * FROM users AS OF TIMESTAMP 4102444800 WHERE name = 'Alice'")
        assert [tuple(r) for r in now] == [(1, "Alice", "alice@email.com")]
        assert [h["operation"] for h in db.get_change_history("users", 1)] == ["INSERT"]
    finally:
        db.close()
    assert os.path.exists(tmp_path / "my_database.db")
