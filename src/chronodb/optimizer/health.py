"""``db.get_health_report()``: status, latency, sizes, alerts and recommendations with numbers.

The report has one shape on every backend; what it reads from the database comes from the
dialect's health facts (``optimizer/sqlite_health.py``, ``pgengine/health.py``). Every
recommendation carries the measurement behind it. Index recommendations come from the
learned optimizer (``"source": "model"``); the others are rules (``"source": "rule"``):
prune history past ``retention_days``, ANALYZE when statistics are missing or stale, and
the backend's own (checkpoint a large WAL and VACUUM free pages on SQLite; VACUUM dead
tuples, blocked queries and replica lag on PostgreSQL). :class:`HealthMonitor` checks in a
background thread and hands new alerts to callbacks and the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from chronodb.formatting import iso_time
from chronodb.optimizer.plan import quote
from chronodb.optimizer.sqlite_health import rule

if TYPE_CHECKING:
    from chronodb.database import ChronoDB
    from chronodb.optimizer.ml_optimizer import MLOptimizer

log = logging.getLogger("chronodb.health")

SLOW_MS = 100.0  # a statement slower than this at p95 is listed and alerted on
_DISK_CRITICAL = 0.02
_DISK_WARN = 0.10


# Every report has these keys, on every backend; a figure a backend does not have is None.
TABLE_KEYS = (
    "table",
    "rows",
    "table_bytes",
    "dead_rows",
    "dead_share",
    "bloat_bytes_estimate",
    "last_vacuum",
    "last_analyze",
    "history_table",
    "history_rows",
    "history_bytes",
    "history_dead_rows",
    "history_dead_share",
    "history_rows_last_24h",
    "locked",
    "rows_exact",  # False: "rows" is the server's estimate, not a count
    "history_rows_exact",
)
DATABASE_KEYS = (
    "backend",
    "path",
    "size_bytes",
    "wal_bytes",
    "free_disk_bytes",
    "disk_bytes",
    "page_size",
    "page_count",
    "free_pages",
    "wal_lsn",
    "wal_generated_bytes",
    "wal_records",
    "wal_stats_since",
)


def _shaped(facts: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: facts.get(k) for k in keys}


class HealthFacts(Protocol):
    """What a backend tells the health report; each method runs under the engine's lock."""

    backend: str

    def tables(self, now_us: int) -> list[dict[str, Any]]:
        """Per versioned table: rows, table_bytes, dead_rows, history_table, history_rows,
        history_bytes, history_rows_last_24h; locked: True (and no figures) for a table
        another session keeps readers out of."""

    def database(self) -> dict[str, Any]:
        """backend, path, size_bytes, wal_bytes, free_disk_bytes, disk_bytes, and the
        backend's own figures."""

    def server(self) -> dict[str, Any] | None:
        """Connections, replication and lock waits of a server; None for a file."""

    def stale_statistics(self, tables: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def prunable(self, cutoff_us: int) -> int:
        """History versions that ended before ``cutoff_us``."""

    def findings(
        self, database: dict[str, Any], server: Any, tables: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The backend's own alerts and recommendations."""

    def statements(self) -> dict[str, Any]:
        """Where the workload figures come from, and the server's own statement statistics."""

    def ledger(self) -> dict[str, Any]: ...


def health_report(db: ChronoDB) -> dict[str, Any]:
    """The health report of ``db``: the same as ``db.get_health_report()``."""
    return db.get_health_report()


def build_report(
    engine: Any, optimizer: MLOptimizer, facts: HealthFacts, retention_days: float | None
) -> dict[str, Any]:
    """The health report; see the module docstring. Status: "ok", "warn" or "critical"."""
    now = time.time()
    with engine.lock:
        tables = facts.tables(int(now * 1_000_000))
        database = facts.database()
        server = facts.server()
        stale = facts.stale_statistics(tables)
        prunable = 0
        if retention_days is not None:
            prunable = facts.prunable(int((now - float(retention_days) * 86400) * 1_000_000))
        alerts, backend_recommendations = facts.findings(database, server, tables)
        statements = facts.statements()
        ledger = facts.ledger()
    workload = optimizer.workload
    latency = workload.latency_percentiles()
    slow = [s for s in optimizer.slowest(limit=20) if (s["p95_ms"] or 0) >= SLOW_MS]
    recommendations: list[dict[str, Any]] = []

    free, total = database["free_disk_bytes"], database["disk_bytes"]
    if free is not None and total:
        share = free / total
        if share < _DISK_CRITICAL:
            alerts.append({"level": "critical", "message": f"Only {share:.1%} of the disk is free"})
        elif share < _DISK_WARN:
            alerts.append({"level": "warn", "message": f"Only {share:.1%} of the disk is free"})
    for s in slow[:5]:
        alerts.append(
            {
                "level": "warn",
                "message": f"Slow statement: p95 {s['p95_ms']:.1f} ms over {s['calls']} calls: "
                f"{s['fingerprint'][:120]}",
            }
        )
    recommendations += backend_recommendations
    # A backend's VACUUM (ANALYZE) of a table already renews its statistics.
    analyzed = {
        r["evidence"].get("table") for r in backend_recommendations if "ANALYZE" in r["sql"]
    }
    for s in (s for s in stale if s["table"] not in analyzed):
        recommendations.append(
            rule(
                "analyze",
                f"ANALYZE {quote(s['table'])}",
                f"{s['table']} has {s['rows']} rows; the planner's statistics say "
                + ("nothing" if s["rows_in_statistics"] is None else str(s["rows_in_statistics"])),
                **s,
            )
        )
    if prunable:
        days = retention_days
        recommendations.append(
            rule(
                "prune_history",
                f"db.prune_history(time.time() - {days} * 86400)",
                f"{prunable} history versions are older than retention_days ({days})",
                versions=prunable,
                retention_days=days,
            )
        )
    for rec in optimizer.report_recommendations():
        recommendations.append(rec.as_dict())

    levels = {a["level"] for a in alerts}
    status = "critical" if "critical" in levels else "warn" if levels else "ok"
    return {
        "status": status,
        "generated_at": now,
        "backend": facts.backend,
        "latency": {**latency, "samples": optimizer.model.samples},
        "throughput_per_s": round(workload.throughput(), 2),
        "slow_statements": slow,
        "statements": statements,
        "tables": [_shaped(t, TABLE_KEYS) for t in tables],
        "history_growth_last_24h": sum(t.get("history_rows_last_24h") or 0 for t in tables),
        "database": _shaped(database, DATABASE_KEYS),
        "server": server,
        "alerts": alerts,
        "recommendations": recommendations,
        "optimizer": {
            "enabled": optimizer.enabled,
            "statements_seen": workload.calls(),
            **optimizer.planner.how,
        },
        "ledger": ledger,
    }


def _ledger_line(ledger: dict[str, Any]) -> str:
    """The ledger's line of the readable report."""
    when = ledger["last_verification"]
    if when is None:
        return "Ledger: never verified (chronodb verify DB checks it)"
    outcome = "valid" if ledger["valid"] else f"INVALID ({ledger['problems']} problem(s))"
    return f"Ledger: verified at {iso_time(when)}: {outcome}"


def _database_line(db: dict[str, Any]) -> str:
    wal = "-" if db["wal_bytes"] is None else f"{db['wal_bytes']} bytes"
    line = f"Database: {db['path']}: {db['size_bytes']} bytes, WAL {wal}"
    if db["free_pages"] is not None:
        line += f", {db['free_pages']} free pages"
    if db["wal_lsn"] is not None:
        line += f", WAL at {db['wal_lsn']} ({db['wal_generated_bytes']} bytes generated)"
    if db["free_disk_bytes"]:
        line += f", {db['free_disk_bytes']} bytes free on disk"
    return line


def _server_lines(server: dict[str, Any]) -> list[str]:
    conns = server["connections"]
    lines = [
        f"Server: PostgreSQL {server['version']}"
        + (" (standby)" if server["standby"] else "")
        + f"; connections {conns['database']} to this database ({conns['active']} active), "
        f"{conns['total']} of {conns['max']} in all"
    ]
    if server["replay_delay_s"] is not None:
        lines.append(f"  replaying {server['replay_delay_s']:.1f} s behind the primary")
    for r in server["replication"]:
        lag = "-" if r["replay_lag_s"] is None else f"{r['replay_lag_s']:.3f} s"
        lines.append(f"  replica {r['client']}: {r['state']}, lag {lag}, {r['lag_bytes']} bytes")
    waits, held = server["lock_waits"], server["long_locks"]
    lines.append(f"  lock waits: {len(waits)}; long lock holders: {len(held)}")
    for w in waits:
        lines.append(f"    {w['pid']} waits {w['waiting_s']:.1f} s for {w['blocked_by']}")
    return lines


def _count(value: Any, exact: Any) -> str:
    """A row count as the readable report shows it: an estimate with a ``~``."""
    return f"~{value}" if exact is False else str(value)


def render(report: dict[str, Any]) -> str:
    """The report as readable text (``chronodb health DB``)."""
    lat = report["latency"]
    db = report["database"]

    def ms(v: Any) -> str:
        return "-" if v is None else f"{v:.3f} ms"

    lines = [
        f"Status: {report['status'].upper()}",
        f"Latency: p50 {ms(lat['p50_ms'])}, p95 {ms(lat['p95_ms'])}, p99 {ms(lat['p99_ms'])} "
        f"({lat['samples']} samples); {report['throughput_per_s']} statements/s",
        _database_line(db),
    ]
    if report["server"] is not None:
        lines += _server_lines(report["server"])
    lines.append("Tables:")
    for t in report["tables"]:
        if t["locked"]:
            lines.append(f"  {t['table']}: locked by another session")
            continue
        size = "-" if t["history_bytes"] is None else f"{t['history_bytes']} bytes"
        dead = "" if t["dead_rows"] is None else f", {t['dead_rows']} dead tuples"
        rows = _count(t["rows"], t["rows_exact"])
        versions = _count(t["history_rows"], t["history_rows_exact"])
        lines.append(
            f"  {t['table']}: {rows} rows{dead}; history {versions} versions, "
            f"{size}, +{t['history_rows_last_24h']} in 24 h"
        )
    statements = report["statements"]
    if statements["server_statements"] is not None:
        lines.append("Server statements (pg_stat_statements, by total time):")
        for st in statements["server_statements"][:5]:
            lines.append(f"  {st['calls']:>7} calls  {st['total_ms']:.1f} ms  {st['query'][:100]}")
    elif "pg_stat_statements" in statements:
        lines.append(f"pg_stat_statements: {statements['pg_stat_statements']}")
    if "ledger" in report:
        lines.append(_ledger_line(report["ledger"]))
    lines.append("Alerts:" if report["alerts"] else "Alerts: none")
    lines += [f"  [{a['level']}] {a['message']}" for a in report["alerts"]]
    lines.append("Recommendations:" if report["recommendations"] else "Recommendations: none")
    for r in report["recommendations"]:
        lines.append(f"  ({r['source']}) {r['sql']}")
        lines.append(f"      {r['reason']}")
    return "\n".join(lines)


class HealthMonitor:
    """Checks health every ``interval`` seconds; new alerts go to callbacks and the log."""

    def __init__(
        self,
        db: ChronoDB,
        interval: float = 60.0,
        callbacks: list[Callable[[dict[str, Any]], object]] | None = None,
    ) -> None:
        self.db = db
        self.interval = interval
        self.callbacks = list(callbacks or [])
        self.last_report: dict[str, Any] | None = None
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[dict[str, Any]]:
        """Run one check now; returns the alerts not raised before."""
        report = self.db.get_health_report()
        self.last_report = report
        fresh = [a for a in report["alerts"] if a["message"] not in self._seen]
        for alert in fresh:
            self._seen.add(alert["message"])
            level = logging.CRITICAL if alert["level"] == "critical" else logging.WARNING
            log.log(level, "ChronoDB health: %s", alert["message"])
            for callback in self.callbacks:
                callback(alert)
        return fresh

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.db.closed:
                return
            try:
                self.check()
            except Exception:  # a failed check is logged; the monitor keeps going
                log.exception("ChronoDB health check failed")

    def start(self) -> HealthMonitor:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="chronodb-health", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
