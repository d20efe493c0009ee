"""db.tables(), db.columns(table, as_of=...), db.foreign_keys(table), db.views()."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import chronodb
from chronodb import ChronoDB, Column, SchemaError, TemporalError, View
from chronodb.errors import TimestampError


def names(columns: list[Column]) -> list[str]:
    return [c.name for c in columns]


def test_columns_now_describe_each_column(db: ChronoDB) -> None:
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE NOT NULL, "
        "qty INT DEFAULT 1, note)"
    )
    assert db.columns("items") == [
        Column("id", "INTEGER", 1, False, None, "", "BINARY"),
        Column("name", "TEXT", 0, True, None, "", "NOCASE"),
        Column("qty", "INT", 0, False, "1", "", "BINARY"),
        Column("note", "", 0, False, None, "", "BINARY"),
    ]
    assert db.columns("ITEMS") == db.columns("items")  # names as SQL takes them


def test_the_public_types_are_frozen_and_exported() -> None:
    assert {"Column", "ForeignKey", "View"} <= set(chronodb.__all__)
    column = Column("a", "", 0, False, None, "", "BINARY")
    with pytest.raises(AttributeError):
        column.name = "b"  # type: ignore[misc]


def test_generated_columns_are_listed_and_marked(db: ChronoDB) -> None:
    db.execute(
        "CREATE TABLE boxes (id INTEGER PRIMARY KEY, w REAL, h REAL, "
        "area REAL GENERATED ALWAYS AS (w * h) VIRTUAL, big INT AS (w * h > 10) STORED)"
    )
    kinds = {c.name: c.generated for c in db.columns("boxes")}
    assert kinds == {"id": "", "w": "", "h": "", "area": "VIRTUAL", "big": "STORED"}
    tx = db.execute("INSERT INTO boxes (id, w, h) VALUES (1, 2, 3)").tx_id
    assert [c.generated for c in db.columns("boxes", as_of=tx)][3:] == ["VIRTUAL", "STORED"]


def test_composite_key_positions_and_without_rowid(db: ChronoDB) -> None:
    db.execute(
        "CREATE TABLE stock (shop TEXT, sku TEXT, qty INT, PRIMARY KEY (sku, shop)) WITHOUT ROWID"
    )
    tx = db.execute("INSERT INTO stock VALUES ('a', 'x', 1)").tx_id
    for as_of in (None, tx):
        assert [(c.name, c.primary_key) for c in db.columns("stock", as_of=as_of)] == [
            ("shop", 2),
            ("sku", 1),
            ("qty", 0),
        ]


def test_a_table_without_a_declared_key_has_none(db: ChronoDB) -> None:
    db.execute("CREATE TABLE log (at, message TEXT)")
    tx = db.execute("INSERT INTO log VALUES (1, 'x')").tx_id
    assert [c.primary_key for c in db.columns("log")] == [0, 0]
    assert [c.primary_key for c in db.columns("log", as_of=tx)] == [0, 0]


@pytest.fixture
def altered(db: ChronoDB) -> dict[str, int]:
    """users: created (id, name, email), then email dropped, name renamed, age added."""
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)")
    points = {"created": db.execute("INSERT INTO users VALUES (1, 'Al', 'a@x')").tx_id}
    points["dropped"] = db.execute("ALTER TABLE users DROP COLUMN email").tx_id
    points["renamed"] = db.execute("ALTER TABLE users RENAME COLUMN name TO full_name").tx_id
    points["added"] = db.execute("ALTER TABLE users ADD COLUMN age INT DEFAULT 0").tx_id
    return points


def test_columns_as_of_follow_add_rename_and_drop(db: ChronoDB, altered: dict[str, int]) -> None:
    assert names(db.columns("users", as_of=altered["created"])) == ["id", "name", "email"]
    assert names(db.columns("users", as_of=altered["dropped"])) == ["id", "name"]
    assert names(db.columns("users", as_of=altered["renamed"])) == ["id", "full_name"]
    assert names(db.columns("users", as_of=altered["added"])) == ["id", "full_name", "age"]
    assert db.columns("users", as_of=altered["added"]) == db.columns("users")


def test_columns_as_of_keep_what_history_records(db: ChronoDB, altered: dict[str, int]) -> None:
    then = {c.name: c for c in db.columns("users", as_of=altered["created"])}
    # Still in the table under a new name: its constraints are the file's.
    assert then["name"] == Column("name", "TEXT", 0, True, None, "", "BINARY")
    # Dropped since: history keeps its name, type, collation and key position only.
    assert then["email"] == Column("email", "TEXT", 0, None, None, None, "BINARY")


def test_columns_as_of_a_time(db: ChronoDB, altered: dict[str, int]) -> None:
    db.execute("ALTER TABLE users ADD COLUMN city TEXT")
    just_after = db.transactions(limit=1)[0]["tx_time"]
    times = [t["tx_time"] for t in db.transactions() if t["tx_id"] == altered["renamed"]]
    at = times[0]
    assert names(db.columns("users", as_of=at)) == ["id", "full_name"]
    assert names(db.columns("users", as_of=datetime.fromtimestamp(at, UTC))) == ["id", "full_name"]
    iso = datetime.fromtimestamp(just_after, UTC).isoformat()
    assert names(db.columns("users", as_of=iso)) == ["id", "full_name", "age", "city"]
    # A string of digits is a transaction id, as `chronodb export --as-of` reads it.
    assert names(db.columns("users", as_of=str(altered["dropped"]))) == ["id", "name"]


def test_tables_as_of_a_point(db: ChronoDB) -> None:
    first = db.execute("CREATE TABLE a (x)").tx_id
    second = db.execute("CREATE TABLE b (y)").tx_id
    db.execute("ALTER TABLE a RENAME TO c")
    gone = db.execute("DROP TABLE b").tx_id
    assert db.tables(as_of=first) == ["a"]
    assert db.tables(as_of=second) == ["a", "b"]
    assert db.tables(as_of=gone) == db.tables() == ["c"]


def test_a_dropped_table_has_columns_only_in_the_past(db: ChronoDB) -> None:
    db.execute("CREATE TABLE old (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    tx = db.execute("INSERT INTO old VALUES (1, 'x')").tx_id
    db.execute("DROP TABLE old")
    assert db.columns("old", as_of=tx) == [
        Column("id", "INTEGER", 1, None, None, None, "BINARY"),
        Column("v", "TEXT", 0, None, None, None, "BINARY"),
    ]
    with pytest.raises(SchemaError, match=r"no such table: old \(it was dropped\)") as info:
        db.columns("old")
    assert info.value.table == "old"


def test_a_recreated_table_does_not_lend_its_constraints_to_the_old(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    tx = db.execute("INSERT INTO t VALUES (1, 'x')").tx_id
    db.execute("DROP TABLE t")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    assert [c.notnull for c in db.columns("t", as_of=tx)] == [None, None]
    assert [c.notnull for c in db.columns("t")] == [False, True]


def test_an_unknown_table_is_a_schema_error_naming_it(db: ChronoDB) -> None:
    for call in (
        lambda: db.columns("nowhere"),
        lambda: db.columns("nowhere", as_of=1),
        lambda: db.foreign_keys("nowhere"),
    ):
        with pytest.raises(SchemaError, match="no such table: nowhere") as info:
            call()
        assert info.value.table == "nowhere"


def test_a_point_before_the_table_existed_is_a_temporal_error(db: ChronoDB) -> None:
    before = time.time()
    time.sleep(0.002)
    created = db.execute("CREATE TABLE late (x)").tx_id
    since = rf"it existed from transaction {created} \(.*\) on$"
    with pytest.raises(TemporalError, match=rf"late did not exist AS OF TRANSACTION 1: {since}"):
        db.columns("late", as_of=1)
    with pytest.raises(TemporalError, match="late did not exist AS OF TIMESTAMP"):
        db.columns("late", as_of=before)
    db.execute("ALTER TABLE late RENAME TO later")
    with pytest.raises(TemporalError, match=f"later did not exist AS OF TRANSACTION {created}"):
        db.columns("later", as_of=created)
    assert names(db.columns("late", as_of=created)) == ["x"]


@pytest.mark.parametrize("point", [-1, True, b"1", [1], "yesterday"])
def test_a_point_that_cannot_be_read_names_it(db: ChronoDB, point: object) -> None:
    db.execute("CREATE TABLE t (x)")
    with pytest.raises(TimestampError) as info:
        db.columns("t", as_of=point)
    assert info.value.value == point


def test_views_now(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (x)")
    db.execute("CREATE VIEW v2 AS SELECT x FROM t")
    db.execute("CREATE VIEW v1 AS SELECT x + 1 AS y FROM t")
    assert db.views() == [
        View("v1", "CREATE VIEW v1 AS SELECT x + 1 AS y FROM t"),
        View("v2", "CREATE VIEW v2 AS SELECT x FROM t"),
    ]
    db.execute("DROP VIEW v2")
    assert [v.name for v in db.views()] == ["v1"]


def test_another_connections_schema_change_is_seen(tmp_path: Path) -> None:
    with ChronoDB(tmp_path / "f.db") as mine, ChronoDB(tmp_path / "f.db") as theirs:
        mine.execute("CREATE TABLE t (x)")
        assert mine.tables() == ["t"]
        theirs.execute("CREATE TABLE u (y INT REFERENCES t)")
        theirs.execute("ALTER TABLE t ADD COLUMN z")
        assert mine.tables() == ["t", "u"]
        assert names(mine.columns("t")) == ["x", "z"]
        assert mine.foreign_keys("u")[0].other_table == "t"


def test_only_ascii_digits_make_a_transaction_id(db: ChronoDB) -> None:
    tx = db.execute("CREATE TABLE t (x)").tx_id
    assert names(db.columns("t", as_of=f" {tx} ")) == ["x"]
    for text in ("²", "9" * 5000):
        with pytest.raises(TimestampError):
            db.columns("t", as_of=text)


def test_transactions_name_their_statement_kinds_when_the_ledger_records_them() -> None:
    from chronodb import ChronoDB

    with ChronoDB(":memory:") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        db.execute("INSERT INTO t VALUES (1, 2)")
        with db.transaction():
            db.execute("UPDATE t SET v = 3")
            db.execute("DELETE FROM t")
        assert [t["kinds"] for t in db.transactions()] == [
            ["UPDATE", "DELETE"],
            ["INSERT"],
            ["CREATE"],
        ]
    with ChronoDB(":memory:", ledger=False) as db:
        db.execute("CREATE TABLE t (a)")
        assert "kinds" not in db.transactions()[0]
