"""What the health report reads from a SQLite file (see ``health.py``): table and history
sizes (``dbstat``), pages, the WAL file, free disk, statistics and prunable history; and the
file's own advice: checkpoint a large WAL, VACUUM free pages.

Row counts are exact: ``count(*)``, kept until the file changes (``PRAGMA data_version``,
this connection's changes, the schema cookie), so polling an idle file scans nothing. The
last day's versions are a rowid range at the end of each history, found by a binary
search (``tables.seq_after``), not a scan."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronodb.audit.verified import load, report_figures
from chronodb.layout import SEQ, TX
from chronodb.optimizer.plan import quote
from chronodb.versioning.tables import qualified, seq_after
from chronodb.versioning.timeline import tx_at

if TYPE_CHECKING:
    from chronodb.engine import Engine

_STALE = 0.25  # statistics older than a 25% change in a table's rows are stale
_ANALYZE_MIN_ROWS = 1000
_WAL_WARN_BYTES = 64 * 1024 * 1024
_FREE_PAGES_SHARE = 0.25
_FREE_PAGES_MIN_BYTES = 4 * 1024 * 1024
_DAY_US = 86_400 * 1_000_000


def rule(kind: str, sql: str, reason: str, **evidence: Any) -> dict[str, Any]:
    """A recommendation made by a rule, with the numbers behind it."""
    return {"kind": kind, "sql": sql, "source": "rule", "reason": reason, "evidence": evidence}


class SQLiteHealth:
    """The health facts of one SQLite database; every method runs under the engine's lock."""

    backend = "sqlite"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Per table: the count(*) and the state of the file it was taken in (see _state).
        self._counts: dict[str, tuple[tuple[int, int, int], int]] = {}

    def _state(self) -> tuple[int, int, int] | None:
        """What a count holds for: the file's data version (another connection committed),
        this connection's total changes (it wrote) and the schema cookie (a table was
        dropped or made again); None inside a transaction, whose writes a ROLLBACK may
        undo without moving any of them."""
        engine = self._engine
        if engine.conn.in_transaction:
            return None
        version = self._scalar("PRAGMA main.data_version")
        return version, engine.backend.total_changes(), engine.backend.schema_cookie()

    def _count(self, table: str, state: tuple[int, int, int] | None) -> int:
        """The exact number of rows of ``table``, counted again only when the file changed
        since the last count (``state``, see :meth:`_state`)."""
        cached = self._counts.get(table)
        if state is not None and cached is not None and cached[0] == state:
            return cached[1]
        rows = int(self._scalar(f"SELECT count(*) FROM {qualified(table)}"))
        if state is not None:
            self._counts[table] = (state, rows)
        return rows

    def _scalar(self, sql: str, params: Any = ()) -> Any:
        row = self._engine.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _bytes_of(self, names: list[str]) -> int | None:
        """Bytes used by tables and their indexes (dbstat), or None if dbstat is missing."""
        try:
            marks = ", ".join("?" for _ in names)
            return int(
                self._scalar(
                    f"SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({marks})", names
                )
            )
        except Exception:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
            return None

    def tables(self, now_us: int) -> list[dict[str, Any]]:
        engine = self._engine
        out = []
        # Transactions of the last day: those after the last one before it, whose versions
        # are the end of each history (history order is transaction order).
        before_day = tx_at(engine.conn, now_us - _DAY_US - 1)
        state = self._state()
        for version in sorted(engine.catalog.live_tables(), key=lambda v: v.name):
            name, hist = version.name, version.hist
            history_indexes = [
                r[0]
                for r in engine.conn.execute(
                    "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?", (hist,)
                )
            ]
            indexes = [
                r[0]
                for r in engine.conn.execute(
                    "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?", (name,)
                )
            ]
            out.append(
                {
                    "table": name,
                    "rows": self._count(name, state),
                    "rows_exact": True,
                    "table_bytes": self._bytes_of([name, *indexes]),
                    "dead_rows": None,  # SQLite reuses a deleted row's space in its page
                    "history_table": hist,
                    "history_rows": self._count(hist, state),
                    "history_rows_exact": True,
                    "history_bytes": self._bytes_of([hist, *history_indexes]),
                    "history_rows_last_24h": self._scalar(
                        f"SELECT count(*) FROM {qualified(hist)} "
                        f"WHERE {SEQ} >= {seq_after(qualified(hist), '?1')}",
                        (before_day,),
                    ),
                    "locked": False,  # the report reads on the engine's own connection
                }
            )
        return out

    def database(self) -> dict[str, Any]:
        engine = self._engine
        page_size = self._scalar("PRAGMA page_size")
        page_count = self._scalar("PRAGMA page_count")
        info: dict[str, Any] = {
            "backend": self.backend,
            "path": engine.path,
            "size_bytes": page_size * page_count,
            "wal_bytes": 0,
            "free_disk_bytes": None,
            "disk_bytes": None,
            "page_size": page_size,
            "page_count": page_count,
            "free_pages": self._scalar("PRAGMA freelist_count"),
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

    def server(self) -> None:
        """A file has no server: no connections, replicas or lock waits to report."""
        return None

    def stale_statistics(self, tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tables with enough rows whose sqlite_stat1 row count is missing or off by > 25%."""
        analyzed: dict[str, int] = {}
        if self._scalar("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"):
            for table, stat in self._engine.conn.execute("SELECT tbl, stat FROM sqlite_stat1"):
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

    def prunable(self, cutoff_us: int) -> int:
        """History versions that ended (a later version of the key exists) before the cutoff."""
        engine = self._engine
        older = tx_at(engine.conn, cutoff_us - 1)
        if not older:
            return 0
        total = 0
        for version in engine.catalog.live_tables():
            hist = qualified(version.hist)
            same_key = " AND ".join(f"b.{quote(k)} IS a.{quote(k)}" for k in version.keys) or "1"
            total += int(
                self._scalar(
                    f"SELECT count(*) FROM {hist} AS a WHERE EXISTS (SELECT 1 FROM {hist} AS b "
                    f"WHERE {same_key} AND b.{TX} > a.{TX} AND b.{TX} <= ?)",
                    (older,),
                )
            )
        return total

    def findings(
        self, database: dict[str, Any], server: None, tables: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The file's alerts and advice: a large WAL, many free pages."""
        alerts: list[dict[str, Any]] = []
        recommendations: list[dict[str, Any]] = []
        wal_bytes = database["wal_bytes"]
        if wal_bytes > _WAL_WARN_BYTES:
            alerts.append({"level": "warn", "message": f"The WAL is {wal_bytes / 2**20:.1f} MiB"})
            recommendations.append(
                rule(
                    "checkpoint",
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                    f"the WAL holds {wal_bytes} bytes; a checkpoint folds it into the file",
                    wal_bytes=wal_bytes,
                )
            )
        free_pages, page_count = database["free_pages"] or 0, database["page_count"]
        free_bytes = free_pages * database["page_size"]
        if free_bytes >= _FREE_PAGES_MIN_BYTES and free_pages > _FREE_PAGES_SHARE * page_count:
            recommendations.append(
                rule(
                    "vacuum",
                    "VACUUM",
                    f"{free_pages} of {page_count} pages ({free_bytes} bytes) are free",
                    free_pages=free_pages,
                    page_count=page_count,
                )
            )
        return alerts, recommendations

    def statements(self) -> dict[str, Any]:
        """Where the workload figures come from: ChronoDB's own capture only."""
        return {"source": "chronodb", "server_statements": None}

    def ledger(self) -> dict[str, Any]:
        """The ledger's last verification, by any process (``audit/verified.py``)."""
        engine = self._engine
        return {"present": True, **report_figures(load(engine.conn), engine.last_verification)}
