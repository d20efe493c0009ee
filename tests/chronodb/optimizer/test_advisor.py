from __future__ import annotations

from chronodb import ChronoDB
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
