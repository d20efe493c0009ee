from __future__ import annotations

from pathlib import Path

import pytest

import chronodb.optimizer
from chronodb import ChronoDB
from chronodb.errors import ConfigError


def test_public_api() -> None:
    assert chronodb.optimizer.__all__ == sorted(chronodb.optimizer.__all__)
    assert set(chronodb.optimizer.__all__) == {
        "CostModel",
        "Fingerprinter",
        "HealthMonitor",
        "MLOptimizer",
        "Recommendation",
        "health_report",
    }


def test_seed_optimizer_snippets_run_as_written() -> None:
    db = ChronoDB(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT)")
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, category TEXT, price REAL)")
    db.executemany(
        "INSERT INTO products (category, price) VALUES (?, ?)",
        [("electronics" if i % 3 else "books", i % 1500) for i in range(3000)],
    )
    db.execute("SELECT * FROM orders WHERE customer_id = 123 AND status = 'shipped'")
    optimization_stats = db.ml_optimizer.get_performance_metrics()
    assert optimization_stats["enabled"] is True
    assert optimization_stats["statements_seen"] >= 1

    for i in range(1000):
        db.execute(f"SELECT * FROM products WHERE category = 'electronics' AND price > {i}")

    optimization_report = db.ml_optimizer.generate_training_report()
    assert "model error (MAPE)" in optimization_report
    assert "1000 calls" in optimization_report
    assert "SELECT * FROM products WHERE category = ? AND price > ?" in optimization_report
    metrics = db.ml_optimizer.get_performance_metrics()
    assert metrics["model"]["trainings"] >= 1 and metrics["model"]["mape"] is not None

    health_report = db.get_health_report()
    print(health_report)
    assert health_report["status"] in ("ok", "warn", "critical")
    db.close()


def test_config_keys_enabled_and_training_interval(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("features:\n  ml_optimizer:\n    enabled: true\n    training_interval: 50\n")
    db = ChronoDB.from_config(config, path=":memory:")
    assert db.ml_optimizer.enabled and db.ml_optimizer.training_interval == 50
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    for i in range(400):
        db.execute("SELECT * FROM t WHERE v = ?", (i,))
    assert db.ml_optimizer.model.trainings >= 2
    db.close()
    config.write_text("features:\n  ml_optimizer:\n    enabled: false\n")
    off = ChronoDB.from_config(config, path=":memory:")
    off.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    off.execute("SELECT * FROM t")
    assert off.ml_optimizer.observer is None
    assert off.ml_optimizer.get_performance_metrics()["statements_seen"] == 0
    assert "disabled" in off.ml_optimizer.generate_training_report()
    assert off.ml_optimizer.recommendations() == []
    off.close()


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="training_interval"):
        ChronoDB(":memory:", ml_optimizer={"training_interval": 0})
    with pytest.raises(ConfigError, match="bogus"):
        ChronoDB(":memory:", ml_optimizer={"bogus": 1})


def test_capture_counts_every_call_but_times_a_sample() -> None:
    db = ChronoDB(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    for _ in range(5000):
        db.execute("SELECT * FROM t WHERE id = ?", (1,))
    (stmt,) = [s for s in db.ml_optimizer.workload.captured() if s.kind == "read"]
    assert stmt.calls == 5000
    assert 4 <= stmt.timed < 5000 / 8
    assert stmt.plan[0].detail.startswith("SEARCH t USING INTEGER PRIMARY KEY")
    db.close()


def test_capture_samples_a_hot_statement_instead_of_timing_every_call() -> None:
    # The cost of capture (<= 5% on a pk SELECT) is measured by benchmarks/optimizer_bench.py;
    # here: every call is counted, but a hot statement is timed only now and then.
    db = ChronoDB(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    for _ in range(3000):
        db.execute("SELECT * FROM t WHERE id = ?", (1,))
    stmt = db.ml_optimizer.workload.by_text["SELECT * FROM t WHERE id = ?"]
    assert stmt.calls == 3000
    assert 4 <= stmt.timed < 3000 // 8
    db.close()
