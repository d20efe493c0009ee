from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.chronodb.optimizer.conftest import fill_products, sees_an_index_made_elsewhere

from chronodb import ChronoDB
from chronodb.database import engine_of
from chronodb.optimizer.advisor import Candidate, candidates_for

COLUMNS = {"products": {"id", "category", "price", "sku", "flag"}, "orders": {"id", "pid", "qty"}}


def test_candidates_come_from_where_join_and_order_by_columns() -> None:
    found = candidates_for(
        "SELECT * FROM products p JOIN orders o ON o.pid = p.id "
        "WHERE p.category = ? AND p.price > ? ORDER BY p.price",
        COLUMNS,
    )
    assert Candidate("products", ("category", "price")) in found
    assert Candidate("orders", ("pid",)) in found
    update = candidates_for("UPDATE products SET price = 1 WHERE sku = ?", COLUMNS)
    assert Candidate("products", ("sku",)) in update


def test_missing_index_workload_gets_the_right_index(products: ChronoDB) -> None:
    for i in range(1000):
        products.execute(f"SELECT * FROM products WHERE category = 'electronics' AND price > {i}")
    recs = products.ml_optimizer.recommendations()
    assert [(r.table, r.columns) for r in recs] == [("products", ("category", "price"))]
    rec = recs[0]
    assert rec.source == "model"
    evidence = rec.statements[0]
    assert evidence["calls"] == 1000
    assert evidence["plan_now"] == ["SCAN products"]
    assert "USING INDEX chrono_idx_products_category_price" in evidence["plan_with_index"][0]
    assert evidence["predicted_p50_ms"] < evidence["measured_p50_ms"]
    # the what-if ran in a copy: the real database has no new index
    names = products.connection.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")
    assert rec.index not in {r[0] for r in names}


def test_an_indexed_workload_gets_no_index(products: ChronoDB) -> None:
    products.execute("CREATE INDEX products_sku ON products (sku)")
    for i in range(300):
        products.execute("SELECT * FROM products WHERE id = ?", (i,))
        products.execute("SELECT * FROM products WHERE sku = ?", (f"sku{i}",))
    assert [r for r in products.ml_optimizer.recommendations() if r.kind == "create_index"] == []


def test_history_tables_get_indexes_for_queries_on_them(products: ChronoDB) -> None:
    products.execute("UPDATE products SET price = price + 1 WHERE id <= 100")
    history = products.connection.execute(
        "SELECT hist FROM _chrono_schema WHERE name = 'products'"
    ).fetchone()[0]
    for i in range(50):
        products.execute(f"SELECT * FROM {history} WHERE sku = ?", (f"sku{i}",))
    recs = products.ml_optimizer.recommendations()
    assert [(r.table, r.columns) for r in recs] == [(history, ("sku",))]


@pytest.fixture
def products_file(tmp_path: Path) -> Iterator[tuple[ChronoDB, Path]]:
    """The products of ``products``, in a file other connections can open."""
    path = tmp_path / "products.db"
    db = ChronoDB(str(path), user="tester", ml_optimizer={"training_interval": 200})
    fill_products(db, 5_000)
    yield db, path
    db.close()


def test_an_index_another_connection_made_is_seen_before_advising(
    products_file: tuple[ChronoDB, Path],
) -> None:
    db, path = products_file

    def make_index() -> None:
        other = sqlite3.connect(path)
        other.execute("CREATE INDEX others_category ON products (category)")
        other.commit()
        other.close()

    sees_an_index_made_elsewhere(db, make_index)


def test_a_timed_statement_asks_sqlite_nothing_once_its_plan_is_read(
    products_file: tuple[ChronoDB, Path],
) -> None:
    db, _ = products_file
    sql = "SELECT * FROM products WHERE id = ?"
    for i in range(100):
        db.execute(sql, (i + 1,))
    stmt = db.ml_optimizer.workload.by_text[sql]
    timed_before = stmt.timed
    ran: list[str] = []
    conn = engine_of(db).conn
    conn.set_trace_callback(ran.append)
    try:
        for i in range(200):
            db.execute(sql, (i + 1,))
    finally:
        conn.set_trace_callback(None)
    assert stmt.timed > timed_before  # some of these calls were timed ...
    # ... and only the statements themselves ran (the trace shows their values bound)
    assert len(ran) == 200
    assert all(s.startswith("SELECT * FROM products WHERE id = ") for s in ran)


def test_schema_changes_through_the_database_move_the_cookie_at_once(
    products_file: tuple[ChronoDB, Path],
) -> None:
    db, _ = products_file
    planner = db.ml_optimizer.planner
    steps = [  # each statement, and whether it may have changed the schema or plans
        ("CREATE INDEX products_sku ON products (sku)", True),
        ("BEGIN", False),
        ("UPDATE products SET flag = 1 - flag WHERE id = 1", False),
        ("ROLLBACK", False),  # it undid a write only: plans are as they were
        ("BEGIN", False),
        ("CREATE INDEX products_flag ON products (flag)", True),
        ("ROLLBACK", True),  # the index is gone again
        ("BEGIN", False),
        ("SAVEPOINT s", False),
        ("CREATE INDEX products_flag ON products (flag)", True),
        ("ROLLBACK TO s", True),
        ("COMMIT", False),
        ("ALTER TABLE products ADD COLUMN note TEXT", True),
    ]
    seen = {planner.schema_cookie()}
    for sql, moves in steps:
        db.execute(sql)
        cookie = planner.schema_cookie()
        assert (cookie not in seen) is moves, sql
        seen.add(cookie)
    planner.drop_index("products_sku")
    assert planner.schema_cookie() not in seen
