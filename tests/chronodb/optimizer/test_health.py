from __future__ import annotations

import json
import re
import time
from pathlib import Path

from click.testing import CliRunner

from chronodb import ChronoDB
from chronodb.cli import main
from chronodb.optimizer import HealthMonitor, health


def test_health_report_fields(file_db: ChronoDB) -> None:
    file_db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    file_db.execute("INSERT INTO users (id, name) VALUES (1, 'Alice')")
    file_db.execute("UPDATE users SET name = 'Alicia' WHERE id = 1")
    for _ in range(10):
        file_db.execute("SELECT * FROM users WHERE id = 1")
    report = file_db.get_health_report()
    assert report["status"] == "ok"
    assert report["latency"]["p50_ms"] > 0 and report["latency"]["samples"] >= 4
    assert report["throughput_per_s"] > 0
    (users,) = report["tables"]
    assert (users["table"], users["rows"], users["history_rows"]) == ("users", 1, 2)
    assert users["history_bytes"] > 0 and users["history_rows_last_24h"] == 2
    assert report["history_growth_last_24h"] == 2
    db_info = report["database"]
    assert db_info["size_bytes"] > 0 and db_info["wal_bytes"] >= 0
    assert db_info["free_disk_bytes"] > 0
    assert report["alerts"] == [] and report["slow_statements"] == []
    assert "ledger" in report if hasattr(file_db, "audit_trail") else "ledger" not in report
    json.dumps(report)  # plain data


def test_slow_statements_warn_and_recommendations_carry_numbers(
    products: ChronoDB, monkeypatch
) -> None:
    monkeypatch.setattr(health, "SLOW_MS", 0.0)  # every statement counts as slow
    for i in range(20):
        products.execute("SELECT * FROM products WHERE sku = ?", (f"sku{i}",))
    report = products.get_health_report()
    assert report["status"] == "warn"
    assert report["slow_statements"][0]["fingerprint"].startswith("SELECT * FROM products")
    assert any("Slow statement" in a["message"] for a in report["alerts"])
    kinds = {r["kind"]: r for r in report["recommendations"]}
    assert kinds["analyze"]["evidence"]["rows"] == 20_000
    assert kinds["analyze"]["source"] == "rule"
    index = kinds["create_index"]
    assert index["source"] == "model" and index["columns"] == ["sku"]
    assert index["statements"][0]["calls"] == 20
    assert index["predicted_gain_ms"] > 0
    products.execute("ANALYZE")
    kinds = {r["kind"] for r in products.get_health_report()["recommendations"]}
    assert "analyze" not in kinds


def test_history_past_retention_is_recommended_for_pruning(tmp_path: Path) -> None:
    db = ChronoDB(tmp_path / "r.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    db.execute("UPDATE t SET v = 'c' WHERE id = 1")
    time.sleep(0.05)
    db.retention_days = 0.01 / 86400  # 10 ms
    (rule,) = [r for r in db.get_health_report()["recommendations"] if r["kind"] == "prune_history"]
    assert rule["evidence"]["versions"] == 2  # 'a' and 'b' ended; 'c' is current
    assert db.apply_retention() == 2
    assert not [
        r for r in db.get_health_report()["recommendations"] if r["kind"] == "prune_history"
    ]
    db.close()


def test_monitor_hands_new_alerts_to_callbacks_once(products: ChronoDB, monkeypatch) -> None:
    monkeypatch.setattr(health, "SLOW_MS", 0.0)
    products.execute("SELECT * FROM products WHERE sku = 'sku1'")
    seen: list[dict] = []
    monitor = HealthMonitor(products, interval=0.05, callbacks=[seen.append]).start()
    try:
        deadline = time.monotonic() + 15  # only bounds a hang
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        monitor.stop()
    assert seen and "Slow statement" in seen[0]["message"]
    assert monitor.check() == []  # already raised: not raised again


def test_cli_health_prints_text_and_json(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    db = ChronoDB(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.close()
    runner = CliRunner()
    text = runner.invoke(main, ["health", str(path)])
    assert text.exit_code == 0, text.output
    assert "Status: OK" in text.output and "t: 1 rows; history 1 versions" in text.output
    assert "Ledger: never verified" in text.output and "None" not in text.output
    as_json = runner.invoke(main, ["health", str(path), "--json"])
    assert json.loads(as_json.output)["tables"][0]["table"] == "t"
    missing = runner.invoke(main, ["health", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1 and "No such database file: " in missing.output


def test_the_readable_report_says_when_the_ledger_was_verified(tmp_path: Path) -> None:
    from chronodb.optimizer.health import render

    with ChronoDB(tmp_path / "v.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        assert "Ledger: never verified" in render(db.get_health_report())
        assert db.verify_audit_integrity()
        line = next(x for x in render(db.get_health_report()).splitlines() if "Ledger" in x)
        assert re.fullmatch(r"Ledger: verified at \d{4}-\d\d-\d\dT[\d:.]+Z: valid", line)
