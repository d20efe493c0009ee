"""``db.get_health_report()``: status, latency, sizes, alerts and recommendations with numbers.

Every recommendation carries the measurement behind it. Index recommendations come from
the learned optimizer (``"source": "model"``); the others are rules (``"source": "rule"``):
prune history past ``retention_days``, ANALYZE when statistics are missing or stale,
checkpoint when the WAL grew, VACUUM when free pages pile up. :class:`HealthMonitor`
checks in a background thread and hands new alerts to callbacks and the log.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronodb.formatting import iso_time
from chronodb.layout import TX
from chronodb.optimizer.plan import quote
from chronodb.versioning.tables import qualified
from chronodb.versioning.timeline import tx_at

if TYPE_CHECKING:
    from chronodb.database import ChronoDB
    from chronodb.engine import Engine
    from chronodb.optimizer.ml_optimizer import MLOptimizer

log = logging.getLogger("chronodb.health")

SLOW_MS = 100.0  # a statement slower than this at p95 is listed and alerted on
_STALE = 0.25  # statistics older than a 25% change in a table's rows are stale
_ANALYZE_MIN_ROWS = 1000
_WAL_WARN_BYTES = 64 * 1024 * 1024
_FREE_PAGES_SHARE = 0.25
_FREE_PAGES_MIN_BYTES = 4 * 1024 * 1024
_DISK_CRITICAL = 0.02
_DISK_WARN = 0.10
_DAY_US = 86_400 * 1_000_000


def _scalar(engine: Engine, sql: str, params: Any = ()) -> Any:
    row = engine.conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _bytes_of(engine: Engine, names: list[str], page_size: int) -> int | None:
    """Bytes used by tables and their indexes (dbstat), or None if dbstat is missing."""
    try:
        marks = ", ".join("?" for _ in names)
        return int(
            _scalar(
                engine,
                f"SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({marks})",
                names,
            )
        )
    except Exception:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
        return None


def _tables(engine: Engine, page_size: int, now_us: int) -> list[dict[str, Any]]:
    out = []
    # Transactions of the last day: those after the last one before it.
    before_day = tx_at(engine.conn, now_us - _DAY_US - 1)
    for version in sorted(engine.catalog.live_tables(), key=lambda v: v.name):
        name, hist = version.name, version.hist
        rows = _scalar(engine, f"SELECT count(*) FROM {qualified(name)}")
        history_rows = _scalar(engine, f"SELECT count(*) FROM {qualified(hist)}")
        last_day = _scalar(
            engine, f"SELECT count(*) FROM {qualified(hist)} WHERE {TX} > ?", (before_day,)
        )
        indexes = [
            r[0]
            for r in engine.conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?", (hist,)
            )
        ]
        out.append(
            {
                "table": name,
                "rows": rows,
                "history_table": hist,
                "history_rows": history_rows,
                "history_bytes": _bytes_of(engine, [hist, *indexes], page_size),
                "history_rows_last_24h": last_day,
            }
        )
    return out


def _files(engine: Engine, page_size: int, page_count: int) -> dict[str, Any]:
    info: dict[str, Any] = {
        "path": engine.path,
        "page_size": page_size,
        "page_count": page_count,
        "free_pages": _scalar(engine, "PRAGMA freelist_count"),
        "size_bytes": page_size * page_count,
        "wal_bytes": 0,
        "free_disk_bytes": None,
        "disk_bytes": None,
    }
    if engine.path != ":memory:" and not engine.path.startswith("file:"):
        path = Path(engine.path)
        if path.exists():
            info["size_bytes"] = path.stat().st_size
        wal = Path(engine.path + "-wal")
        info["wal_bytes"] = wal.stat().st_size if wal.exists() else 0
        usage = shutil.disk_usage(path.parent if path.parent.exists() else os.getcwd())
        info["free_disk_bytes"], info["disk_bytes"] = usage.free, usage.total
    return info


def _stale_statistics(engine: Engine, tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tables with enough rows whose sqlite_stat1 row count is missing or off by > 25%."""
    analyzed: dict[str, int] = {}
    if _scalar(engine, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"):
        for table, stat in engine.conn.execute("SELECT tbl, stat FROM sqlite_stat1"):
            first = str(stat).split()[0] if stat else ""
            if first.isdigit():
                analyzed[table] = int(first)
    stale = []
    for t in tables:
        rows = t["rows"]
        if rows < _ANALYZE_MIN_ROWS:
            continue
        known = analyzed.get(t["table"])
        if known is None or abs(rows - known) > _STALE * max(known, 1):
            stale.append({"table": t["table"], "rows": rows, "rows_in_statistics": known})
    return stale


def _prunable(engine: Engine, hist: str, keys: tuple[str, ...], older_tx: int) -> int:
    """Versions that ended (a later version of the key exists) by transaction ``older_tx``."""
    same_key = " AND ".join(f"b.{quote(k)} IS a.{quote(k)}" for k in keys) or "1"
    return int(
        _scalar(
            engine,
            f"SELECT count(*) FROM {qualified(hist)} AS a WHERE EXISTS (SELECT 1 FROM "
            f"{qualified(hist)} AS b WHERE {same_key} AND b.{TX} > a.{TX} "
            f"AND b.{TX} <= ?)",
            (older_tx,),
        )
    )


def _rule(kind: str, sql: str, reason: str, **evidence: Any) -> dict[str, Any]:
    return {"kind": kind, "sql": sql, "source": "rule", "reason": reason, "evidence": evidence}


def health_report(db: ChronoDB) -> dict[str, Any]:
    """The health report of ``db``: the same as ``db.get_health_report()``."""
    return db.get_health_report()


def build_report(
    engine: Engine, optimizer: MLOptimizer, retention_days: float | None
) -> dict[str, Any]:
    """The health report; see the module docstring. Status: "ok", "warn" or "critical"."""
    now = time.time()
    with engine.lock:
        page_size = _scalar(engine, "PRAGMA page_size")
        page_count = _scalar(engine, "PRAGMA page_count")
        tables = _tables(engine, page_size, int(now * 1_000_000))
        files = _files(engine, page_size, page_count)
        stale = _stale_statistics(engine, tables)
        prunable = 0
        if retention_days is not None:
            cutoff = int((now - float(retention_days) * 86400) * 1_000_000)
            older = tx_at(engine.conn, cutoff - 1)
            if older:
                for version in engine.catalog.live_tables():
                    prunable += _prunable(engine, version.hist, version.keys, older)
    workload = optimizer.workload
    latency = workload.latency_percentiles()
    slow = [s for s in optimizer.slowest(limit=20) if (s["p95_ms"] or 0) >= SLOW_MS]
    alerts: list[dict[str, Any]] = []
    recommendations: list[dict[str, Any]] = []

    free, total = files["free_disk_bytes"], files["disk_bytes"]
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
    if files["wal_bytes"] > _WAL_WARN_BYTES:
        alerts.append(
            {"level": "warn", "message": f"The WAL is {files['wal_bytes'] / 2**20:.1f} MiB"}
        )
        recommendations.append(
            _rule(
                "checkpoint",
                "PRAGMA wal_checkpoint(TRUNCATE)",
                f"the WAL holds {files['wal_bytes']} bytes; a checkpoint folds it into the file",
                wal_bytes=files["wal_bytes"],
            )
        )
    free_bytes = (files["free_pages"] or 0) * page_size
    if free_bytes >= _FREE_PAGES_MIN_BYTES and files["free_pages"] > _FREE_PAGES_SHARE * page_count:
        recommendations.append(
            _rule(
                "vacuum",
                "VACUUM",
                f"{files['free_pages']} of {page_count} pages ({free_bytes} bytes) are free",
                free_pages=files["free_pages"],
                page_count=page_count,
            )
        )
    for s in stale:
        recommendations.append(
            _rule(
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
            _rule(
                "prune_history",
                f"db.prune_history(time.time() - {days} * 86400)",
                f"{prunable} history versions are older than retention_days ({days})",
                versions=prunable,
                retention_days=days,
            )
        )
    for rec in optimizer.recommendations():
        recommendations.append(rec.as_dict())

    levels = {a["level"] for a in alerts}
    status = "critical" if "critical" in levels else "warn" if levels else "ok"
    report: dict[str, Any] = {
        "status": status,
        "generated_at": now,
        "latency": {**latency, "samples": optimizer.model.samples},
        "throughput_per_s": round(workload.throughput(), 2),
        "slow_statements": slow,
        "tables": tables,
        "history_growth_last_24h": sum(t["history_rows_last_24h"] for t in tables),
        "database": files,
        "alerts": alerts,
        "recommendations": recommendations,
        "optimizer": {
            "enabled": optimizer.enabled,
            "statements_seen": workload.calls(),
        },
    }
    report["ledger"] = _ledger(engine)
    return report


def _ledger(engine: Engine) -> dict[str, Any]:
    """The ledger's last verification, as far as the database remembers one."""
    last = engine.last_verification
    if not last:
        return {"present": True, "last_verification": None, "valid": None}
    when, ok = last
    return {"present": True, "last_verification": when, "valid": ok}


def _ledger_line(ledger: dict[str, Any]) -> str:
    """The ledger's line of the readable report."""
    when = ledger["last_verification"]
    if when is None:
        return "Ledger: never verified by this connection (chronodb verify DB checks it)"
    outcome = "valid" if ledger["valid"] else "INVALID"
    return f"Ledger: verified at {iso_time(when)}: {outcome}"


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
        f"Database: {db['path']}: {db['size_bytes']} bytes, WAL {db['wal_bytes']} bytes, "
        f"{db['free_pages']} free pages"
        + (f", {db['free_disk_bytes']} bytes free on disk" if db["free_disk_bytes"] else ""),
        "Tables:",
    ]
    for t in report["tables"]:
        size = "-" if t["history_bytes"] is None else f"{t['history_bytes']} bytes"
        lines.append(
            f"  {t['table']}: {t['rows']} rows; history {t['history_rows']} versions, {size}, "
            f"+{t['history_rows_last_24h']} in 24 h"
        )
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
