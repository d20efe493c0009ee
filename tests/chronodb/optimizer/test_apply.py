from __future__ import annotations

from tests.chronodb.optimizer.conftest import trial

from chronodb import ChronoDB


def _indexes(db: ChronoDB) -> set[str]:
    rows = db.connection.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")
    return {r[0] for r in rows}


def test_a_helpful_index_is_kept_with_its_measured_gain(products: ChronoDB) -> None:
    for i in range(200):
        products.execute("SELECT * FROM products WHERE sku = ?", (f"sku{i * 3}",))
    outcomes = products.ml_optimizer.apply_recommendations()
    assert [(o["index"], o["kept"]) for o in outcomes] == [("chrono_idx_products_sku", True)]
    assert outcomes[0]["reads_after_ms"] * 5 < outcomes[0]["reads_before_ms"]
    assert "chrono_idx_products_sku" in _indexes(products)
    plan = products.connection.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM products WHERE sku = 'sku1'"
    ).fetchall()
    assert "chrono_idx_products_sku" in plan[0][3]
    metrics = products.ml_optimizer.get_performance_metrics()
    assert metrics["recommendations_kept"] == 1
    assert metrics["measured_gains"][0]["speedup"] > 5


def test_an_index_that_does_not_help_is_dropped_and_the_reason_remembered(
    products: ChronoDB,
) -> None:
    # flag is 0 or 1: an index on it finds half the table, no faster than a scan
    for _ in range(30):
        products.execute("SELECT count(price) FROM products WHERE flag = ?", (1,))
    optimizer = products.ml_optimizer
    fingerprint = optimizer.workload.captured()[0].fingerprint
    useless = trial(
        "products",
        "flag",
        fingerprint,
        30,
        'CREATE INDEX "chrono_idx_products_flag" ON "products" ("flag")',
    )
    (outcome,) = optimizer.apply_recommendations([useless])
    assert outcome["kept"] is False
    assert "20% needed" in outcome["reason"] or "did not use" in outcome["reason"]
    assert "chrono_idx_products_flag" not in _indexes(products)
    assert optimizer.rejected[("products", ("flag",))] == outcome["reason"]
    metrics = optimizer.get_performance_metrics()
    assert metrics["recommendations_reverted"] == 1
    assert metrics["reverted"][0]["reason"] == outcome["reason"]
    assert "reverted chrono_idx_products_flag" in optimizer.generate_training_report()
    # never proposed again
    assert all(r.columns != ("flag",) for r in optimizer.recommendations())


def test_never_used_indexes_are_recommended_for_dropping(products: ChronoDB) -> None:
    products.execute("CREATE INDEX products_price ON products (price)")
    for i in range(600):
        products.execute("SELECT * FROM products WHERE id = ?", (i,))
    drops = [r for r in products.ml_optimizer.recommendations() if r.kind == "drop_index"]
    assert [(r.index, r.source) for r in drops] == [("products_price", "rule")]
    assert "600 statements" in drops[0].reason


def test_auto_apply_creates_the_index_after_training() -> None:
    from tests.chronodb.optimizer.conftest import fill_products

    db = ChronoDB(":memory:", ml_optimizer={"training_interval": 100, "auto_apply": True})
    try:
        fill_products(db, 20_000)
        for i in range(300):
            db.execute("SELECT * FROM products WHERE sku = ?", (f"sku{i}",))
        assert "chrono_idx_products_sku" in _indexes(db)
    finally:
        db.close()
