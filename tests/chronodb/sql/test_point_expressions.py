"""Points in time given by an expression give the same answers on SQLite and PostgreSQL.

Every test runs once per backend (``backend_db``, ``conftest.py``): an expression in the
backend's own SQL, computed by its database, reads as its value would, with the same notes
(``sql/test_pointnotes.py``) and the same errors for a bad value.
"""

from __future__ import annotations

import re

import pytest

from chronodb import ChronoDB, ChronoDBWarning, TemporalError, TimestampError

FUTURE = 4102444800  # 2100-01-01, after every write of these tests


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def on_postgres(db: ChronoDB) -> bool:
    return db.path.startswith("postgresql://")


def test_an_arithmetic_point_reads_as_its_value(shop: ChronoDB) -> None:
    assert rows(shop, f"SELECT name FROM items AS OF TIMESTAMP {FUTURE} - 86400") == [("pen",)]
    first = shop.transactions()[-1]["tx_id"]
    written = shop.transactions(limit=1)[0]["tx_id"]
    sql = f"SELECT name FROM items AS OF TRANSACTION {written} - 1 + 1"
    assert rows(shop, sql) == [("pen",)]
    with pytest.warns(ChronoDBWarning, match=f"its first transaction is {first}"):
        assert rows(shop, f"SELECT name FROM items AS OF TRANSACTION {first} - {first}") == []


def test_a_point_in_the_backends_own_sql_is_computed_by_the_database(shop: ChronoDB) -> None:
    if on_postgres(shop):
        day_ago, day_on = "now() - interval '1 day'", "now() + interval '1 day'"
    else:
        day_ago, day_on = "datetime('now', '-1 day')", "datetime('now', '+1 day')"
    with pytest.warns(ChronoDBWarning, match="before the table existed"):
        then = shop.execute(f"SELECT * FROM items AS OF TIMESTAMP {day_ago}")
    assert then.rows == [] and then.columns == ["id", "name"]
    assert rows(shop, f"SELECT * FROM items FOR SYSTEM_TIME AS OF {day_on}") == [(1, "pen")]
    ranged = f"SELECT id, name FROM items FOR SYSTEM_TIME BETWEEN {day_ago} AND {day_on}"
    assert rows(shop, ranged) == [(1, "pen")]


def test_an_expression_point_is_computed_on_each_call(shop: ChronoDB) -> None:
    sql = "SELECT name FROM items AS OF TIMESTAMP 0 + 0"
    with pytest.warns(ChronoDBWarning):
        assert rows(shop, sql) == []
    with pytest.warns(ChronoDBWarning):
        assert rows(shop, sql) == []
    now = f"SELECT count(*) FROM items AS OF TIMESTAMP {FUTURE} - 1"
    assert rows(shop, now) == [(1,)]
    shop.execute("INSERT INTO items VALUES (2, 'ink')")
    assert rows(shop, now) == [(2,)]


@pytest.mark.parametrize(
    ("point", "error", "message"),
    [
        ("TIMESTAMP 0 - 5", TimestampError, "Invalid timestamp -5: negative"),
        ("TIMESTAMP 'no' || 'w'", TimestampError, "Invalid timestamp 'now'"),
        ("TIMESTAMP 1 / 0", TimestampError, "Invalid timestamp"),
        ("TRANSACTION 1 - 2", TemporalError, "transaction number"),
        ("TIMESTAMP 1 + id", TemporalError, "without columns or parameters"),
    ],
)
def test_a_bad_expression_point_raises_the_same_error(
    shop: ChronoDB, point: str, error: type[Exception], message: str
) -> None:
    sql = f"SELECT * FROM items AS OF {point}"
    with pytest.raises(error, match=re.escape(message)) as info:
        shop.execute(sql)
    assert info.value.sql == sql
    assert info.value.position == sql.index(point.split(" ", 1)[1])
    # Inside a transaction, the failed read leaves it open, with what it wrote.
    with shop.transaction():
        shop.execute("INSERT INTO items VALUES (3, 'cap')")
        with pytest.raises(error):
            shop.execute(sql)
        assert rows(shop, "SELECT count(*) FROM items") == [(2,)]
    assert rows(shop, "SELECT count(*) FROM items") == [(2,)]
