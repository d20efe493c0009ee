"""The same calls give the same answers on SQLite and on PostgreSQL.

Every test here runs once per backend (the ``backend`` fixture, ``conftest.py``): plain SQL,
transactions, every temporal form, the history and introspection calls. Transaction ids
differ between backends (SQLite's follow the clock, PostgreSQL's count commits), so tests
compare each backend's answers with its own ids.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import (
    CheckViolation,
    ChronoDB,
    IntegrityError,
    NotNullViolation,
    Result,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    TemporalError,
    TimestampError,
    TransactionError,
    UniqueViolation,
)

SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)"


def rows(result: Result) -> list[tuple]:
    return [tuple(r) for r in result.rows]


def items(db: ChronoDB, clause: str = "", params: list | None = None) -> list[tuple]:
    sql = f"SELECT id, name, qty FROM items {clause} ORDER BY id"
    return rows(db.execute(sql, params))


@pytest.fixture
def history(backend_db: ChronoDB) -> tuple[ChronoDB, list[Result]]:
    """``items`` after three transactions: two inserts, an update and a delete."""
    db = backend_db
    db.execute(SCHEMA)
    steps = [
        db.execute("INSERT INTO items VALUES (?, ?, ?), (?, ?, ?)", [1, "apple", 3, 2, "pear", 5]),
        db.execute("UPDATE items SET qty = ? WHERE id = ?", [4, 1]),
        db.execute("DELETE FROM items WHERE id = ?", [2]),
    ]
    return db, steps


def test_plain_sql_answers_alike(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute(SCHEMA)
    written = db.execute("INSERT INTO items (id, name, qty) VALUES (?, ?, ?)", [7, "fig", 2])
    assert written.rowcount == 1
    found = db.execute("SELECT id, name, qty FROM items WHERE id = ?", [7])
    assert found.columns == ["id", "name", "qty"]
    assert rows(found) == [(7, "fig", 2)]
    assert found.rows[0]["name"] == "fig"
    assert found.to_dicts() == [{"id": 7, "name": "fig", "qty": 2}]
    assert db.execute("SELECT name FROM items WHERE id = :id", {"id": 7}).scalar() == "fig"


def test_each_write_gets_a_larger_id_and_a_later_time(history: tuple) -> None:
    db, steps = history
    ids = [s.tx_id for s in steps]
    times = [s.tx_time for s in steps]
    assert all(isinstance(i, int) for i in ids)
    assert ids == sorted(set(ids))
    assert times == sorted(set(times))
    listed = db.transactions()
    assert [t["tx_id"] for t in listed][:3] == ids[::-1]
    assert {t["user"] for t in listed[:3]} == {"tester"}
    assert [t["tx_id"] for t in db.transactions(limit=1)] == [ids[-1]]


def test_each_write_is_sealed_in_the_ledger(history: tuple) -> None:
    db, steps = history
    hashes = [s.tx_hash for s in steps]
    assert all(isinstance(h, str) and len(h) == 64 for h in hashes)
    assert len(set(hashes)) == 3
    assert [db.tx_hash(s.tx_id) for s in steps] == hashes
    assert db.tx_hash(steps[-1].tx_id + 10**6) is None
    assert db.verify_audit_integrity()


def test_as_of_transaction_and_timestamp(history: tuple) -> None:
    db, (insert, update, delete) = history
    first = [(1, "apple", 3), (2, "pear", 5)]
    assert items(db, f"AS OF TRANSACTION {insert.tx_id}") == first
    assert items(db, "AS OF TRANSACTION ?", [update.tx_id]) == [(1, "apple", 4), (2, "pear", 5)]
    assert items(db, "AS OF TRANSACTION ?", [delete.tx_id]) == [(1, "apple", 4)]
    assert items(db, "AS OF TIMESTAMP ?", [insert.tx_time]) == first
    assert items(db, "FOR SYSTEM_TIME AS OF ?", [insert.tx_time]) == first
    assert items(db, "AS OF TRANSACTION ?", [insert.tx_id - 1]) == []
    assert items(db) == [(1, "apple", 4)]


def test_as_of_one_key(history: tuple) -> None:
    db, (insert, update, delete) = history
    sql = "SELECT Items.qty FROM Items AS OF TRANSACTION ? WHERE Items.id = ?"
    assert [db.execute(sql, [insert.tx_id, k]).scalar() for k in (1, 2, 3)] == [3, 5, None]
    assert [db.execute(sql, [delete.tx_id, k]).scalar() for k in (1, 2)] == [4, None]
    by_time = "SELECT qty FROM items AS OF TIMESTAMP ? WHERE 1 = id"
    assert db.execute(by_time, [update.tx_time]).scalar() == 4


def test_a_write_can_read_the_past(history: tuple) -> None:
    db, (insert, _update, _delete) = history
    restored = db.execute(
        "INSERT INTO items SELECT id, name, qty FROM items AS OF TRANSACTION ? WHERE id = 2",
        [insert.tx_id],
    )
    assert restored.rowcount == 1 and restored.tx_id > insert.tx_id
    assert items(db) == [(1, "apple", 4), (2, "pear", 5)]


def test_as_of_after_a_join_applies_to_every_table(history: tuple) -> None:
    db, (insert, _update, _delete) = history
    db.execute("CREATE TABLE notes (item_id INTEGER PRIMARY KEY, body TEXT)")
    note = db.execute("INSERT INTO notes VALUES (1, 'crisp'), (2, 'ripe')")
    soft = db.execute("UPDATE notes SET body = 'soft' WHERE item_id = 1")
    db.execute("UPDATE items SET qty = 0 WHERE id = 1")
    sql = (
        "SELECT i.name, i.qty, n.body FROM items i JOIN notes n ON n.item_id = i.id "
        "AS OF TRANSACTION ? ORDER BY i.id"
    )
    assert rows(db.execute(sql, [note.tx_id])) == [("apple", 4, "crisp")]
    assert rows(db.execute(sql, [soft.tx_id])) == [("apple", 4, "soft")]
    assert insert.tx_id < note.tx_id


def test_system_time_ranges(history: tuple) -> None:
    db, (insert, update, delete) = history
    sql = "SELECT id, qty, sys_from, sys_to FROM items FOR SYSTEM_TIME {} ORDER BY id, sys_from"
    every = rows(db.execute(sql.format("ALL")))
    assert every == [
        (1, 3, insert.tx_time, update.tx_time),
        (1, 4, update.tx_time, None),
        (2, 5, insert.tx_time, delete.tx_time),
    ]
    between = rows(db.execute(sql.format("BETWEEN ? AND ?"), [update.tx_time, delete.tx_time]))
    assert [r[:2] for r in between] == [(1, 4), (2, 5)]
    from_to = rows(db.execute(sql.format("FROM ? TO ?"), [insert.tx_time, update.tx_time]))
    assert [r[:2] for r in from_to] == [(1, 3), (2, 5)]


def test_begin_commit_and_rollback_statements(history: tuple) -> None:
    db, steps = history
    db.execute("BEGIN")
    assert db.in_transaction
    db.execute("INSERT INTO items VALUES (3, 'plum', 1)")
    db.execute("ROLLBACK")
    assert items(db) == [(1, "apple", 4)]
    assert db.transactions()[0]["tx_id"] == steps[-1].tx_id
    db.execute("BEGIN")
    db.execute("INSERT INTO items VALUES (3, 'plum', 1)")
    db.execute("UPDATE items SET qty = 9 WHERE id = 1")
    db.execute("COMMIT")
    newest = db.transactions()[0]["tx_id"]
    assert newest > steps[-1].tx_id
    assert items(db, "AS OF TRANSACTION ?", [newest]) == [(1, "apple", 9), (3, "plum", 1)]


def test_a_transaction_is_all_or_nothing(history: tuple) -> None:
    db, steps = history
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO items VALUES (5, 'kiwi', 1)")
        raise RuntimeError("stop")
    assert not db.in_transaction
    assert items(db) == [(1, "apple", 4)]
    assert db.transactions()[0]["tx_id"] == steps[-1].tx_id
    assert db.get_change_history("items", 5) == []


def test_a_failed_statement_leaves_the_transaction_open(history: tuple) -> None:
    db, _ = history
    with db.transaction():
        db.execute("INSERT INTO items VALUES (5, 'kiwi', 1)")
        with pytest.raises(IntegrityError):
            db.execute("INSERT INTO items VALUES (5, 'again', 1)")
        db.execute("INSERT INTO items VALUES (6, 'lime', 2)")
    assert items(db)[1:] == [(5, "kiwi", 1), (6, "lime", 2)]


def test_transaction_statements_out_of_order(backend_db: ChronoDB) -> None:
    with pytest.raises(TransactionError):
        backend_db.execute("COMMIT")
    backend_db.execute("BEGIN")
    with pytest.raises(TransactionError):
        backend_db.execute("BEGIN")
    backend_db.execute("ROLLBACK")


def test_executemany_and_executescript_are_all_or_nothing(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute(SCHEMA)
    done = db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(1, "a", 1), (2, "b", 2)])
    assert done.tx_id is not None
    with pytest.raises(IntegrityError):
        db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(3, "c", 3), (1, "dup", 0)])
    with pytest.raises(IntegrityError):
        db.executescript(
            "INSERT INTO items VALUES (4, 'd', 4); INSERT INTO items VALUES (2, 'x', 0);"
        )
    assert items(db) == [(1, "a", 1), (2, "b", 2)]
    db.executescript("UPDATE items SET qty = 10 WHERE id = 1; DELETE FROM items WHERE id = 2;")
    assert items(db) == [(1, "a", 10)]
    assert items(db, "AS OF TRANSACTION ?", [done.tx_id]) == [(1, "a", 1), (2, "b", 2)]


def test_change_history_and_changes(history: tuple) -> None:
    db, (insert, update, delete) = history
    apple = db.get_change_history("items", 1)
    assert [(e["operation"], e["tx_id"], e["values"]["qty"]) for e in apple] == [
        ("INSERT", insert.tx_id, 3),
        ("UPDATE", update.tx_id, 4),
    ]
    assert apple[1]["before"] == {"id": 1, "name": "apple", "qty": 3}
    assert apple[0]["user"] == "tester"
    assert [e["tx_hash"] for e in apple] == [insert.tx_hash, update.tx_hash]
    pear = db.get_change_history("items", [2])
    assert [e["operation"] for e in pear] == ["INSERT", "DELETE"]
    assert pear[1]["after"] is None
    found = db.changes("items")
    assert [(c["operation"], c["id"], c["tx_id"]) for c in found] == [
        ("INSERT", 1, insert.tx_id),
        ("INSERT", 2, insert.tx_id),
        ("UPDATE", 1, update.tx_id),
        ("DELETE", 2, delete.tx_id),
    ]
    assert found[2]["before"]["qty"] == 3 and found[2]["after"]["qty"] == 4
    assert found[2]["tx_time"] == pytest.approx(update.tx_time)
    since = db.changes("items", insert.tx_time, update.tx_time)
    assert [(c["operation"], c["id"]) for c in since] == [("UPDATE", 1)]


def test_tables_and_columns(history: tuple) -> None:
    db, _ = history
    assert db.tables() == ["items"]
    columns = db.columns("items")
    assert [c.name for c in columns] == ["id", "name", "qty"]
    assert [c.primary_key for c in columns] == [1, 0, 0]
    assert [c.type.upper() for c in columns] == ["INTEGER", "TEXT", "INTEGER"]


def test_a_created_table_is_versioned_at_once(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute('CREATE TABLE "Mixed Case" (k TEXT PRIMARY KEY, v INTEGER)')
    first = db.execute("""INSERT INTO "Mixed Case" VALUES ('a', 1)""")
    db.execute("""UPDATE "Mixed Case" SET v = 2""")
    old = db.execute('SELECT k, v FROM "Mixed Case" AS OF TRANSACTION ?', [first.tx_id])
    assert rows(old) == [("a", 1)]
    assert "Mixed Case" in db.tables()


_op = st.tuples(
    st.sampled_from(["insert", "update", "delete"]),
    st.integers(0, 4),
    st.integers(0, 99),
)
_counter = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(transactions=st.lists(st.lists(_op, min_size=1, max_size=4), min_size=1, max_size=6))
def test_as_of_each_transaction_equals_a_replay(
    backend_db: ChronoDB, transactions: list[list[tuple[str, int, int]]]
) -> None:
    db = backend_db
    table = f"prop{next(_counter)}"  # one database per test: a table per example
    db.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, v INTEGER)")
    state: dict[int, int] = {}
    seen: list[tuple[int, dict[int, int]]] = []
    for ops in transactions:
        before = dict(state)
        with db.transaction():
            for op, k, v in ops:
                if op == "insert" and k not in state:
                    db.execute(f"INSERT INTO {table} VALUES (?, ?)", [k, v])
                    state[k] = v
                elif op == "update":
                    db.execute(f"UPDATE {table} SET v = ? WHERE k = ?", [v, k])
                    if k in state:
                        state[k] = v
                elif op == "delete":
                    db.execute(f"DELETE FROM {table} WHERE k = ?", [k])
                    state.pop(k, None)
        if state != before:
            seen.append((db.transactions(limit=1)[0]["tx_id"], dict(state)))
    ids = [tx for tx, _ in seen]
    assert ids == sorted(set(ids))
    for tx, expected in seen:
        found = db.execute(f"SELECT k, v FROM {table} AS OF TRANSACTION ? ORDER BY k", [tx])
        assert rows(found) == sorted(expected.items()), f"AS OF TRANSACTION {tx}"


def test_percent_signs_in_temporal_statements(history: tuple) -> None:
    """``%`` as modulo and inside literals, with and without parameters (psycopg reads
    ``%`` in a statement with parameters, and a temporal one always has some there)."""
    db, (insert, _update, _delete) = history
    modulo = "SELECT id, qty % {} FROM items AS OF TRANSACTION {} {}ORDER BY id"
    found = [
        rows(db.execute(modulo.format(2, insert.tx_id, ""))),
        rows(db.execute(modulo.format("?", "?", ""), [2, insert.tx_id])),
        rows(db.execute(modulo.format(2, insert.tx_id, "WHERE name NOT LIKE 'x%' "))),
    ]
    assert found == [[(1, 1), (2, 1)]] * 3
    like = "SELECT name || '%' FROM items AS OF TRANSACTION ? WHERE name LIKE ? ORDER BY id"
    assert rows(db.execute(like, [insert.tx_id, "p%"])) == [("pear%",)]


def test_grouping_by_the_key_of_a_table_read_as_of(history: tuple) -> None:
    """Its other columns may be selected, as from the current table."""
    db, (insert, update, _delete) = history
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER, body TEXT)")
    db.execute("INSERT INTO notes VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c')")
    sql = (
        "SELECT items.id, items.name, items.qty, count(notes.id) FROM items "
        "JOIN notes ON notes.item_id = items.id {} GROUP BY items.id ORDER BY items.id"
    )
    now = rows(db.execute(sql.format("")))
    assert now == [(1, "apple", 4, 2)]
    assert (
        rows(db.execute(sql.format("AS OF TRANSACTION ?"), [db.transactions(1)[0]["tx_id"]])) == now
    )
    by_alias = "SELECT i.id, i.name FROM items AS OF TRANSACTION ? AS i GROUP BY i.id ORDER BY 1"
    assert rows(db.execute(by_alias, [update.tx_id])) == [(1, "apple"), (2, "pear")]
    assert insert.tx_id < update.tx_id


BAD_INPUT = [
    ("SELEC 1", None, SQLSyntaxError),
    ("SELECT * FROM items AS OF SOMETHING 1", None, SQLSyntaxError),
    ("SELECT * FROM nope", None, SchemaError),
    ("SELECT nope FROM items", None, SchemaError),
    ("SELECT * FROM nope AS OF TRANSACTION 1", None, SchemaError),
    ("INSERT INTO items VALUES (1, 'again', 1)", None, UniqueViolation),
    ("INSERT INTO items (id, name, qty) VALUES (9, NULL, 1)", None, NotNullViolation),
    ("INSERT INTO items VALUES (9, 'fig', -1)", None, CheckViolation),
    ("SELECT * FROM items AS OF TRANSACTION ?", ["x"], TemporalError),
    ("SELECT * FROM items AS OF TRANSACTION -1", None, TemporalError),
    ("SELECT * FROM items AS OF TIMESTAMP ?", ["not a time"], TimestampError),
    ("SELECT * FROM items AS OF TIMESTAMP ?", [None], TimestampError),
    ("SELECT * FROM items WHERE id = ?", [1, 2], SQLError),
    ("SELECT * FROM items WHERE id = ?", [], SQLError),
    ("SELECT * FROM items WHERE id = :id", {}, SQLError),
    ("SELECT * FROM items WHERE id = :id", {"other": 1}, SQLError),
    ("SELECT * FROM items AS OF TRANSACTION ? WHERE id = ?", [1], SQLError),
    ("SELECT 1; SELECT 2", None, SQLError),
]


@pytest.mark.parametrize(("sql", "params", "error"), BAD_INPUT)
def test_bad_input_raises_the_same_error_class(
    backend_db: ChronoDB, sql: str, params: list | None, error: type[Exception]
) -> None:
    db = backend_db
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "qty INTEGER CHECK (qty >= 0))"
    )
    db.execute("INSERT INTO items VALUES (1, 'apple', 1)")
    with pytest.raises(error):
        db.execute(sql, params)
    assert rows(db.execute("SELECT * FROM items")) == [(1, "apple", 1)]


def test_transactions_name_their_statements_kinds(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute(SCHEMA)
    db.execute("INSERT INTO items VALUES (1, 'apple', 3)")
    with db.transaction():
        db.execute("UPDATE items SET qty = 4 WHERE id = 1")
        db.execute("DELETE FROM items WHERE id = 1")
    kinds = [t["kinds"] for t in db.transactions(3)]
    assert kinds == [["UPDATE", "DELETE"], ["INSERT"], ["CREATE"]]
