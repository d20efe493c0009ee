"""The learned optimizer on PostgreSQL: EXPLAIN (FORMAT JSON), hypopg what-ifs (or a
rolled-back build without it), CREATE INDEX CONCURRENTLY kept only when it helps."""

from __future__ import annotations

import psycopg
from tests.chronodb.optimizer.conftest import sees_an_index_made_elsewhere, trial

from chronodb import ChronoDB
from chronodb.database import engine_of


def _plan(db: ChronoDB, sql: str) -> str:
    return "\n".join(r[0] for r in db.execute("EXPLAIN " + sql))


def _valid_indexes(db: ChronoDB) -> dict[str, bool]:
    rows = db.execute(
        "SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = 'products'"
    )
    return {r[0]: r[1] for r in rows}


def _run_category_workload(db: ChronoDB) -> None:
    for i in range(60):
        db.execute("SELECT * FROM products WHERE category = ?", (f"c{i}",))


def test_hypopg_proposes_an_index_that_is_built_concurrently_and_used(
    pg_products: ChronoDB,
) -> None:
    pg_products.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    _run_category_workload(pg_products)
    optimizer = pg_products.ml_optimizer
    (rec,) = [r for r in optimizer.recommendations() if r.kind == "create_index"]
    assert (rec.table, rec.columns) == ("products", ("category",))
    assert rec.sql.startswith('CREATE INDEX CONCURRENTLY "chrono_idx_products_category" ON')
    evidence = rec.statements[0]
    assert any("Seq Scan on products" in step for step in evidence["plan_now"])
    # hypopg names its hypothetical index <oid>btree_<table>_<column>
    assert any("btree_products_category" in step for step in evidence["plan_with_index"])
    assert "hypopg hypothetical" in pg_products.get_health_report()["optimizer"]["what_if"]
    # nothing was built to find that out
    assert "chrono_idx_products_category" not in _valid_indexes(pg_products)

    (outcome,) = optimizer.apply_recommendations()
    # kept because it measured faster (by how much is the benchmark's to say: times vary
    # with the machine's load)
    assert outcome["kept"] is True and outcome["reads_after_ms"] < outcome["reads_before_ms"]
    assert _valid_indexes(pg_products)["chrono_idx_products_category"] is True
    assert "chrono_idx_products_category" in _plan(
        pg_products, "SELECT * FROM products WHERE category = 'books'"
    )
    assert optimizer.get_performance_metrics()["measured_gains"][0]["speedup"] > 1


def test_without_hypopg_the_candidate_is_tried_in_a_rolled_back_build(
    pg_products: ChronoDB,
) -> None:
    _run_category_workload(pg_products)
    # a health report alone builds no candidate: without hypopg it has no index advice yet
    report = pg_products.get_health_report()
    assert not [r for r in report["recommendations"] if r["kind"] == "create_index"]
    (rec,) = [r for r in pg_products.ml_optimizer.recommendations() if r.kind == "create_index"]
    assert rec.columns == ("category",)
    assert any("chrono_idx_products_category" in s for s in rec.statements[0]["plan_with_index"])
    assert "chrono_idx_products_category" not in _valid_indexes(pg_products)  # rolled back
    report = pg_products.get_health_report()
    assert "hypopg is not installed" in report["optimizer"]["what_if"]
    # the report builds nothing: it lists what the last recommendations() call found
    advice = [r for r in report["recommendations"] if r["kind"] == "create_index"]
    assert [a["index"] for a in advice] == [rec.index] and advice[0]["predicted_gain_ms"] > 0


def test_an_index_that_does_not_help_is_dropped_again(pg_products: ChronoDB) -> None:
    # every price is >= 0: the planner reads the whole table whatever the index
    for _ in range(20):
        pg_products.execute("SELECT count(sku) FROM products WHERE price >= ?", (0,))
    optimizer = pg_products.ml_optimizer
    (fingerprint,) = [
        s.fingerprint
        for s in optimizer.workload.captured()
        if "count(sku)" in s.fingerprint.lower()
    ]
    useless = trial(
        "products",
        "price",
        fingerprint,
        20,
        'CREATE INDEX CONCURRENTLY "chrono_idx_products_price" ON products (price)',
    )
    (outcome,) = optimizer.apply_recommendations([useless])
    assert outcome["kept"] is False
    assert "did not use" in outcome["reason"]
    assert "chrono_idx_products_price" not in _valid_indexes(pg_products)
    assert optimizer.rejected[("products", ("price",))] == outcome["reason"]
    assert all(r.columns != ("price",) for r in optimizer.recommendations())


def test_as_of_reads_get_advice_for_their_access_path(pg_products: ChronoDB) -> None:
    # AS OF reads the current table for the keys unchanged since the point, and history
    # by key for the others: an index on the current table's sku serves the whole read.
    pg_products.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    tx = pg_products.execute("UPDATE products SET price = price + 1 WHERE id <= 10").tx_id
    pg_products.execute("UPDATE products SET price = price + 1 WHERE id <= 5")
    query = "SELECT * FROM products AS OF TRANSACTION ? WHERE sku = ?"
    for i in range(40):
        pg_products.execute(query, (tx, f"sku{i}"))
    optimizer = pg_products.ml_optimizer
    (rec,) = [r for r in optimizer.recommendations() if r.kind == "create_index"]
    assert (rec.table, rec.columns) == ("products", ("sku",))
    (outcome,) = optimizer.apply_recommendations()
    assert outcome["kept"] is True, outcome
    sql, params = optimizer.workload.executed_sql(query, (tx, "sku3"))
    plan = [s.detail for s in optimizer.planner.explain(sql, params)]
    assert any("chrono_idx_products_sku" in step for step in plan), plan
    # sku3 is id 4: its price as the fixture made it, plus the first update only
    assert pg_products.execute(query, (tx, "sku3")).rows[0]["price"] == 4 * 7919 % 1000 + 1


def test_an_index_build_that_fails_leaves_no_invalid_index(pg_products: ChronoDB) -> None:
    planner = pg_products.ml_optimizer.planner
    pg_products.execute("INSERT INTO products (id, sku) VALUES (20001, 'sku1')")  # a duplicate
    ddl = 'CREATE UNIQUE INDEX CONCURRENTLY "chrono_idx_products_sku" ON products (sku)'
    try:
        planner.create_index(ddl, "products", "chrono_idx_products_sku")
    except Exception as err:  # the duplicate fails the build
        assert "sku" in str(err) or isinstance(err.__cause__, psycopg.Error)
    else:
        raise AssertionError("a unique index over duplicates was built")
    assert "chrono_idx_products_sku" not in _valid_indexes(pg_products)
    assert not engine_of(pg_products).explicit


def test_a_never_used_index_is_recommended_for_dropping_concurrently(
    pg_products: ChronoDB,
) -> None:
    pg_products.execute("CREATE INDEX products_price ON products (price)")
    for i in range(520):
        pg_products.execute("SELECT * FROM products WHERE id = ?", (i + 1,))
    optimizer = pg_products.ml_optimizer
    (drop,) = [r for r in optimizer.recommendations() if r.kind == "drop_index"]
    assert drop.sql == 'DROP INDEX CONCURRENTLY "public"."products_price"'
    assert "no plan of the 520 statements seen used it" in drop.reason
    (result,) = optimizer.apply_recommendations([drop])
    assert result["dropped"] is True
    assert "products_price" not in _valid_indexes(pg_products)


def test_an_index_another_client_made_is_seen_before_advising(
    pg_products: ChronoDB, pg_url: str
) -> None:
    def make_index() -> None:
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute("CREATE INDEX others_category ON products (category)")

    sees_an_index_made_elsewhere(pg_products, make_index)


def test_an_index_made_through_the_database_moves_the_cookie_at_once(
    pg_products: ChronoDB,
) -> None:
    planner = pg_products.ml_optimizer.planner
    cookie = planner.schema_cookie()
    pg_products.execute("CREATE INDEX products_sku ON products (sku)")
    after_create = planner.schema_cookie()
    assert after_create != cookie
    planner.drop_index("products_sku")
    assert planner.schema_cookie() not in (cookie, after_create)
