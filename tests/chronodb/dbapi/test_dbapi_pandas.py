"""pandas through the driver: read_sql (now and AS OF), to_sql, Result.to_dataframe."""

from __future__ import annotations

import warnings

import pytest

from chronodb import dbapi

pd = pytest.importorskip("pandas")

# pandas warns for every DB-API connection but sqlite3's; the README shows this filter.
pytestmark = pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy:UserWarning")


@pytest.fixture
def stock(conn: dbapi.Connection) -> tuple[dbapi.Connection, int]:
    """Items written, then renamed and one deleted; returns the first write's tx id."""
    cursor = conn.cursor()
    cursor.executemany(
        "INSERT INTO items VALUES (?, ?, ?)", [(1, "pen", 3), (2, "ink", None), (3, "cap", 7)]
    )
    conn.commit()
    first = cursor.tx_id
    conn.execute("UPDATE items SET name = upper(name)")
    conn.execute("DELETE FROM items WHERE id = 3")
    conn.commit()
    return conn, first


def test_read_sql_reads_the_current_rows(stock: tuple[dbapi.Connection, int]) -> None:
    conn, _ = stock
    frame = pd.read_sql("SELECT id, name, qty FROM items ORDER BY id", conn)
    assert list(frame.columns) == ["id", "name", "qty"]
    assert frame["name"].tolist() == ["PEN", "INK"]
    assert frame["qty"].isna().tolist() == [False, True]


def test_read_sql_reads_as_of_a_transaction(stock: tuple[dbapi.Connection, int]) -> None:
    conn, first = stock
    sql = "SELECT id, name FROM items AS OF TRANSACTION ? ORDER BY id"
    frame = pd.read_sql(sql, conn, params=(first,))
    assert frame.to_dict("list") == {"id": [1, 2, 3], "name": ["pen", "ink", "cap"]}


def test_pandas_warns_for_the_connection_and_the_filter_silences_it(
    stock: tuple[dbapi.Connection, int],
) -> None:
    conn, _ = stock
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pd.read_sql("SELECT 1 AS one", conn)
    assert any("pandas only supports SQLAlchemy" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy")
        pd.read_sql("SELECT 1 AS one", conn)
    assert caught == []


def test_to_sql_creates_and_fills_a_versioned_table(conn: dbapi.Connection) -> None:
    frame = pd.DataFrame({"id": [1, 2], "city": ["Oslo", "Lima"]})
    assert frame.to_sql("cities", conn, index=False) == 2
    assert "cities" in conn.db.tables()
    [write] = conn.db.transactions(limit=1)
    conn.execute("UPDATE cities SET city = 'Bergen' WHERE id = 1")
    conn.commit()
    then = pd.read_sql(f"SELECT city FROM cities AS OF TRANSACTION {write['tx_id']}", conn)
    assert then["city"].tolist() == ["Oslo", "Lima"]


def test_result_and_changes_become_dataframes(stock: tuple[dbapi.Connection, int]) -> None:
    conn, _ = stock
    frame = conn.db.execute("SELECT id, name FROM items ORDER BY id").to_dataframe()
    assert frame.to_dict("list") == {"id": [1, 2], "name": ["PEN", "INK"]}
    changes = pd.DataFrame(conn.db.changes("items"))
    assert sorted(changes["operation"].unique()) == ["DELETE", "INSERT", "UPDATE"]
