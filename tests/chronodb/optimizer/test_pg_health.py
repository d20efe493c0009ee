"""The health report on PostgreSQL: the server's own figures, in the report's one shape."""

from __future__ import annotations

import json
import re
import threading
import time

import psycopg
from click.testing import CliRunner
from tests.chronodb import pgserver

from chronodb import ChronoDB
from chronodb.cli import main
from chronodb.optimizer.health import DATABASE_KEYS, TABLE_KEYS, render


def _filled(url: str, rows: int = 5000) -> ChronoDB:
    db = ChronoDB(url, user="tester")
    db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    db.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ?) AS g", (rows,))
    return db


def test_dead_tuples_history_and_wal_are_the_servers(pg_url: str) -> None:
    db = _filled(pgserver.as_url(pg_url))
    try:
        lsn_before = db.get_health_report()["database"]["wal_lsn"]
        db.execute("DELETE FROM items WHERE id <= 3000")
        report = db.get_health_report()
    finally:
        db.close()
    (items,) = report["tables"]
    assert (items["table"], items["rows"]) == ("items", 2000)
    assert items["dead_rows"] >= 3000 and items["dead_share"] > 0.5
    assert 0 < items["bloat_bytes_estimate"] < items["table_bytes"]
    # 5000 inserts and 3000 tombstones, all of today
    assert items["history_rows"] == items["history_rows_last_24h"] == 8000
    assert report["history_growth_last_24h"] == 8000 and items["history_bytes"] > 0
    vacuum = [r for r in report["recommendations"] if r["kind"] == "vacuum"]
    assert vacuum[0]["sql"] == 'VACUUM (ANALYZE) "public"."items"'
    assert vacuum[0]["evidence"]["dead_rows"] == items["dead_rows"]
    # the VACUUM (ANALYZE) renews the statistics: no ANALYZE of its own
    assert not [r for r in report["recommendations"] if r["kind"] == "analyze"]
    database = report["database"]
    assert database["backend"] == "postgresql" and database["size_bytes"] > 0
    assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", database["wal_lsn"])
    assert _lsn(database["wal_lsn"]) > _lsn(lsn_before)  # the DELETE wrote WAL
    assert database["wal_generated_bytes"] > 0 and database["wal_bytes"] > 0
    server = report["server"]
    assert server["connections"]["database"] >= 1 and server["connections"]["max"] > 0
    assert server["standby"] is False and server["replication"] == []


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def test_the_report_has_one_shape_on_both_backends(backend: str) -> None:
    db = ChronoDB(backend, user="tester")
    try:
        db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        db.execute("INSERT INTO t VALUES (1, 'a')")
        report = db.get_health_report()
    finally:
        db.close()
    assert set(report) == {
        "status",
        "generated_at",
        "backend",
        "latency",
        "throughput_per_s",
        "slow_statements",
        "statements",
        "tables",
        "history_growth_last_24h",
        "database",
        "server",
        "alerts",
        "recommendations",
        "optimizer",
        "ledger",
    }
    assert tuple(report["tables"][0]) == TABLE_KEYS
    assert tuple(report["database"]) == DATABASE_KEYS
    assert report["tables"][0]["history_rows"] == 1
    assert set(report["optimizer"]) == {
        "enabled",
        "statements_seen",
        "workload",
        "what_if",
        "create",
    }
    json.dumps(report)


def test_a_query_waiting_for_a_lock_is_named_with_its_blocker(pg_url: str) -> None:
    db = _filled(pgserver.as_url(pg_url), rows=10)
    holder = psycopg.connect(pg_url, autocommit=True)
    waiter = psycopg.connect(pg_url, autocommit=True)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE items IN SHARE MODE")  # readers go on, writers wait
        holder_pid = holder.info.backend_pid
        update = "UPDATE items SET name = 'x' WHERE id = 1"
        blocked = threading.Thread(target=lambda: waiter.execute(update))
        blocked.start()
        deadline = time.monotonic() + 10
        waits: list = []
        while not waits and time.monotonic() < deadline:
            waits = db.get_health_report()["server"]["lock_waits"]
        assert waits, "the blocked SELECT never showed"
        (wait,) = waits
        assert wait["pid"] == waiter.info.backend_pid and wait["blocked_by"] == [holder_pid]
        assert wait["lock"] == "relation" and wait["query"] == update
        time.sleep(max(0.0, 5.2 - wait["waiting_s"]))
        report = db.get_health_report()
        assert report["status"] == "warn"
        assert any(f"held by [{holder_pid}]" in a["message"] for a in report["alerts"])
        assert "waits" in render(report)
        holder.execute("ROLLBACK")
        blocked.join(10)
        assert db.get_health_report()["server"]["lock_waits"] == []
    finally:
        holder.close()
        waiter.close()
        db.close()


def test_the_ledger_line_says_when_it_was_verified(pg_url: str) -> None:
    db = _filled(pgserver.as_url(pg_url), rows=3)
    try:
        before = db.get_health_report()["ledger"]
        assert before["last_verification"] is None and before["sealed_transactions"] == 2
        assert db.verify_audit_integrity()
        after = db.get_health_report()["ledger"]
    finally:
        db.close()
    assert after["valid"] is True and abs(after["last_verification"] - time.time()) < 60


def test_pg_stat_statements_is_used_only_where_the_server_loaded_it(pg_url: str) -> None:
    db = _filled(pgserver.as_url(pg_url), rows=3)
    try:
        statements = db.get_health_report()["statements"]
        assert statements == {
            "source": "chronodb",
            "server_statements": None,
            "pg_stat_statements": "not installed in this database",
        }
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        preloaded = (
            "pg_stat_statements"
            in db.execute("SELECT current_setting('shared_preload_libraries')").scalar()
        )
        statements = db.get_health_report()["statements"]
    finally:
        db.close()
    if preloaded:
        assert statements["source"] == "chronodb+pg_stat_statements"
        assert all(s["calls"] > 0 for s in statements["server_statements"])
    else:
        assert statements["server_statements"] is None
        assert "shared_preload_libraries" in statements["pg_stat_statements"]


def test_cli_health_prints_a_servers_report(pg_url: str) -> None:
    url = pgserver.as_url(pg_url)
    _filled(url, rows=4).close()
    runner = CliRunner()
    text = runner.invoke(main, ["health", url])
    assert text.exit_code == 0, text.output
    assert "Status: OK" in text.output and "Server: PostgreSQL 15" in text.output
    assert "items: 4 rows, 0 dead tuples; history 4 versions" in text.output
    assert "Ledger: never verified" in text.output
    as_json = json.loads(runner.invoke(main, ["health", url, "--json"]).output)
    assert as_json["backend"] == "postgresql" and as_json["tables"][0]["rows"] == 4


def test_a_table_locked_against_readers_is_named_not_waited_for(pg_url: str) -> None:
    db = _filled(pgserver.as_url(pg_url), rows=10)
    db.execute("CREATE TABLE other (id int PRIMARY KEY)")
    holder = psycopg.connect(pg_url, autocommit=True)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        start = time.monotonic()
        report = db.get_health_report()
        assert time.monotonic() - start < 10  # not the 30 s lock_timeout of the connection
        items, other = report["tables"]
        assert items["table"] == "items" and items["locked"] is True and items["rows"] is None
        assert other["locked"] is False and other["rows"] == 0
        assert any("items is locked by another session" in a["message"] for a in report["alerts"])
        assert "items: locked by another session" in render(report)
        holder.execute("ROLLBACK")
        assert db.get_health_report()["tables"][0]["rows"] == 10
    finally:
        holder.close()
        db.close()


def _rows(db: ChronoDB, table: str = "t") -> tuple[int, bool, int, bool]:
    (t,) = [t for t in db.get_health_report()["tables"] if t["table"] == table]
    return t["rows"], t["rows_exact"], t["history_rows"], t["history_rows_exact"]


def test_row_counts_follow_every_writer_and_say_they_are_exact(backend: str) -> None:
    with ChronoDB(backend, user="tester") as db, ChronoDB(backend, user="other") as other:
        db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        assert _rows(db) == _rows(db) == (3, True, 3, True)
        other.execute("INSERT INTO t VALUES (4, 'd')")  # another connection's commit
        assert _rows(db) == (4, True, 4, True)
        db.execute("DELETE FROM t WHERE id = 1")  # this connection's own
        assert _rows(db) == (3, True, 5, True)
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (9, 'z')")
        assert _rows(db)[0] == 4  # inside the transaction: what it sees
        db.execute("ROLLBACK")
        assert _rows(db) == (3, True, 5, True)  # the rolled back row is not remembered
        db.execute("DROP TABLE t")
        db.execute("CREATE TABLE t (id int PRIMARY KEY)")
        assert _rows(db)[:2] == (0, True)  # a new table of the same name is counted anew
        text = render(db.get_health_report())
    assert "  t: 0 rows" in text and "~" not in text


def test_polling_an_unchanged_file_counts_no_rows(tmp_path) -> None:
    from chronodb.database import engine_of

    with ChronoDB(tmp_path / "a.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x") for i in range(1000)])
        assert _rows(db) == (1000, True, 1000, True)
        sent: list[str] = []
        engine_of(db).conn.set_trace_callback(sent.append)
        try:
            assert _rows(db) == (1000, True, 1000, True)
        finally:
            engine_of(db).conn.set_trace_callback(None)
    assert sent and not [s for s in sent if "count(*) FROM main." in s and "WHERE" not in s]


def test_a_large_table_on_a_server_is_estimated_not_scanned(pg_url: str, monkeypatch) -> None:
    db = ChronoDB(pgserver.as_url(pg_url), user="tester")
    try:
        db.execute("CREATE TABLE big (id int PRIMARY KEY, pad text)")
        db.execute("INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 30000) g")
        db.execute("CREATE TABLE small (id int PRIMARY KEY)")
        db.execute("INSERT INTO small VALUES (1), (2)")
        sent: list[str] = []
        execute = psycopg.Connection.execute

        def recording(conn, query, *args, **kwargs):
            sent.append(str(query))
            return execute(conn, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Connection, "execute", recording)
        rows, exact, versions, versions_exact = _rows(db, "big")
        small = _rows(db, "small")
        text = render(db.get_health_report())
    finally:
        db.close()
    # the server's live tuples, which this session's own insert moved
    assert (exact, versions_exact) == (False, False)
    assert abs(rows - 30000) <= 300 and abs(versions - 30000) <= 300
    assert small == (2, True, 2, True)  # a small heap is counted
    assert not [s for s in sent if "count(*)" in s and '"big"' in s]
    assert f"  big: ~{rows} rows" in text
