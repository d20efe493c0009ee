"""What the health report reads from a PostgreSQL database (see ``optimizer/health.py``).

Sizes are the server's (``pg_total_relation_size``, ``pg_database_size``); dead tuples and
the last (auto)vacuum and analyze come from ``pg_stat_user_tables``, and a table's bloat is
estimated as its heap size times its share of dead tuples. History growth counts the
versions whose transaction committed in the last day. WAL: the current LSN, the WAL the
server generated since its statistics were reset (``pg_stat_wal``), and the size of
``pg_wal`` where the role may list it. Replication: each standby's lag from
``pg_stat_replication``, or this server's replay delay if it is a standby. Locks: queries
waiting for a lock (``pg_blocking_pids``, ``pg_stat_activity``) and transactions holding
locks for long. Row counts: ``count(*)`` of a heap up to 1 MB, above it the server's estimate
(``n_live_tup``, else ``reltuples``), marked as such, so a polled report scans no large
table. Statements: ``pg_stat_statements`` when the server loaded it
(``shared_preload_libraries``) and the database has the extension; ChronoDB's own capture
otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from chronodb.audit.verified import report_figures
from chronodb.errors import ChronoDBError, StatementTimeoutError
from chronodb.optimizer.sqlite_health import rule
from chronodb.pgengine.audit import stored
from chronodb.postgres import Versioned, lookup
from chronodb.postgres.names import CATALOG, SEQ, TX_TABLE, XID, qualified, quote

if TYPE_CHECKING:
    from chronodb.pgengine.core import PostgresEngine

_DAY_US = 86_400 * 1_000_000
_VACUUM_MIN_DEAD = 1000
_VACUUM_DEAD_SHARE = 0.20
_STALE = 0.25
_ANALYZE_MIN_ROWS = 1000
_LOCK_WAIT_WARN_S = 5.0
_LOCK_WAIT_S = 2  # the report's own wait for a table's lock before it names the table
_LONG_LOCK_S = 60.0
_LAG_WARN_S = 30.0
_CONNECTIONS_WARN = 0.90
_TOP_STATEMENTS = 10
_COUNT_BELOW_BYTES = 1024 * 1024  # a heap this small is counted: a millisecond's read


class PostgresHealth:
    """The health facts of one PostgreSQL database; each method runs under the engine's lock."""

    backend = "postgresql"

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine

    @property
    def _schema(self) -> str:
        return self._engine.backend.schema

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection; inside the user's transaction, each read in a savepoint."""
        with self._engine.translating() as conn:
            if self._engine.explicit:
                with conn.transaction():
                    yield conn
            else:
                yield conn

    def _rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Any = None) -> tuple[Any, ...]:
        return self._rows(sql, params)[0]

    def _versioned(self) -> list[Versioned]:
        names = self._rows(
            f"SELECT table_name FROM {qualified(self._schema, CATALOG)} ORDER BY table_name"
        )
        with self._conn() as conn:
            found = [lookup(conn, name, self._schema) for (name,) in names]
        return [v for v in found if v is not None]

    def _relation(self, table: str) -> dict[str, Any]:
        """Sizes and tuple statistics of one table of the schema."""
        row = self._one(
            "SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
            "s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, c.reltuples, "
            "extract(epoch FROM greatest(s.last_vacuum, s.last_autovacuum)), "
            "extract(epoch FROM greatest(s.last_analyze, s.last_autoanalyze)) "
            "FROM pg_class AS c LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid "
            "WHERE c.oid = %s::regclass",
            (qualified(self._schema, table),),
        )
        total, heap, live, dead, modified, reltuples, vacuumed, analyzed = row
        live, dead = int(live or 0), int(dead or 0)
        share = dead / (live + dead) if live + dead else 0.0
        return {
            "bytes": int(total),
            "heap_bytes": int(heap),
            # The server's live tuples, moved by every write; where its counters saw nothing
            # (reset, or a standby, which keeps none) the planner's row count.
            "estimate": live if live or dead or reltuples is None else max(int(reltuples), 0),
            "live": live,
            "dead": dead,
            "dead_share": share,
            "bloat_bytes": int(heap * share),
            "modified_since_analyze": None if modified is None else int(modified),
            "rows_in_statistics": None if reltuples is None or reltuples < 0 else int(reltuples),
            "last_vacuum": None if vacuumed is None else float(vacuumed),
            "last_analyze": None if analyzed is None else float(analyzed),
        }

    def tables(self, now_us: int) -> list[dict[str, Any]]:
        if not self._engine.explicit:
            # This session's own writes reach pg_stat_user_tables when it is next idle.
            self._rows("SELECT pg_stat_force_next_flush()")
        out = []
        for v in self._versioned():
            try:
                with self._briefly():
                    out.append(self._table(v, now_us))
            except StatementTimeoutError:
                # Another session holds a lock that keeps readers out (ALTER, VACUUM FULL,
                # LOCK TABLE): the report names the table rather than wait for it.
                out.append({"table": v.table, "history_table": v.hist, "locked": True})
        return out

    @contextmanager
    def _briefly(self) -> Iterator[None]:
        """Reads that give up after :data:`_LOCK_WAIT_S` waiting for a lock (outside the
        user's transaction, whose settings are left alone)."""
        if self._engine.explicit:
            yield
            return
        with self._engine.translating() as conn, conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{_LOCK_WAIT_S}s",))
            yield

    def _rows_of(self, name: str, relation: dict[str, Any]) -> tuple[int, bool]:
        """A table's rows and whether they were counted: a heap small enough to read at
        once is counted, a larger one is the server's estimate (``_relation``)."""
        if relation["heap_bytes"] > _COUNT_BELOW_BYTES:
            return relation["estimate"], False
        (rows,) = self._one(f"SELECT count(*) FROM {qualified(self._schema, name)}")
        return int(rows), True

    def _table(self, v: Versioned, now_us: int) -> dict[str, Any]:
        hist = qualified(self._schema, v.hist)
        table, history = self._relation(v.table), self._relation(v.hist)
        rows, rows_exact = self._rows_of(v.table, table)
        history_rows, history_exact = self._rows_of(v.hist, history)
        # The versions written by transactions of the last day: none of them lies before
        # the first history row those transactions wrote (their least seq_lo).
        day = f"FROM {qualified(self._schema, TX_TABLE)} WHERE tx_time > %(since)s"
        (last_day,) = self._one(
            f"SELECT count(*) FROM {hist} WHERE {SEQ} >= (SELECT min(seq_lo) {day}) "
            f"AND {XID} IN (SELECT xid {day})",
            {"since": now_us - _DAY_US},
        )
        return {
            "table": v.table,
            "rows": rows,
            "rows_exact": rows_exact,
            "table_bytes": table["bytes"],
            "dead_rows": table["dead"],
            "dead_share": round(table["dead_share"], 4),
            "bloat_bytes_estimate": table["bloat_bytes"],
            "last_vacuum": table["last_vacuum"],
            "last_analyze": table["last_analyze"],
            "history_table": v.hist,
            "history_rows": history_rows,
            "history_rows_exact": history_exact,
            "history_bytes": history["bytes"],
            "history_dead_rows": history["dead"],
            "history_dead_share": round(history["dead_share"], 4),
            "history_rows_last_24h": int(last_day),
            "locked": False,
        }

    def database(self) -> dict[str, Any]:
        size, lsn, wal_bytes, wal_records, wal_reset = self._one(
            "SELECT pg_database_size(current_database()), "
            "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
            "ELSE pg_current_wal_lsn() END::text, w.wal_bytes, w.wal_records, "
            "extract(epoch FROM w.stats_reset) FROM pg_stat_wal AS w"
        )
        return {
            "backend": self.backend,
            "path": self._engine.path,
            "size_bytes": int(size),
            "wal_bytes": self._wal_dir_bytes(),
            # The server's disk is not visible to a client.
            "free_disk_bytes": None,
            "disk_bytes": None,
            "wal_lsn": lsn,
            "wal_generated_bytes": int(wal_bytes),
            "wal_records": int(wal_records),
            "wal_stats_since": None if wal_reset is None else float(wal_reset),
        }

    def _wal_dir_bytes(self) -> int | None:
        """The size of ``pg_wal``, or None if this role may not list it (pg_monitor may)."""
        (allowed,) = self._one("SELECT has_function_privilege('pg_ls_waldir()', 'EXECUTE')")
        if not allowed:
            return None
        return int(self._one("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()")[0])

    def server(self) -> dict[str, Any]:
        version, standby, total, here, active, limit = self._one(
            "SELECT current_setting('server_version'), pg_is_in_recovery(), "
            "count(*), count(*) FILTER (WHERE datname = current_database()), "
            "count(*) FILTER (WHERE datname = current_database() AND state = 'active'), "
            "current_setting('max_connections')::int "
            "FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        replicas = (
            [
                {
                    "client": client,
                    "state": state,
                    "lag_bytes": None if lag_bytes is None else int(lag_bytes),
                    "replay_lag_s": None if lag is None else float(lag),
                }
                for client, state, lag_bytes, lag in self._rows(
                    "SELECT coalesce(application_name, client_addr::text), state, "
                    "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), "
                    "extract(epoch FROM replay_lag) FROM pg_stat_replication"
                )
            ]
            if not standby
            else []
        )
        replay_delay = None
        if standby:
            (delay,) = self._one(
                "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
            )
            replay_delay = None if delay is None else float(delay)
        return {
            "version": version,
            "standby": bool(standby),
            "replay_delay_s": replay_delay,
            "connections": {
                "total": int(total),
                "database": int(here),
                "active": int(active),
                "max": int(limit),
            },
            "replication": replicas,
            "lock_waits": self._lock_waits(),
            "long_locks": self._long_locks(),
        }

    def _lock_waits(self) -> list[dict[str, Any]]:
        """This database's queries waiting for a lock, with the sessions they wait for."""
        return [
            {
                "pid": pid,
                "blocked_by": list(blockers),
                "waiting_s": round(float(waiting or 0), 3),
                "lock": lock,
                "query": (query or "")[:200],
            }
            for pid, blockers, waiting, lock, query in self._rows(
                "SELECT a.pid, pg_blocking_pids(a.pid), "
                "extract(epoch FROM now() - coalesce(a.state_change, a.query_start)), "
                "a.wait_event, a.query FROM pg_stat_activity AS a "
                "WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' "
                "AND cardinality(pg_blocking_pids(a.pid)) > 0 "
                "ORDER BY 3 DESC"
            )
        ]

    def _long_locks(self) -> list[dict[str, Any]]:
        """This database's sessions holding locks on relations in a transaction open long."""
        return [
            {
                "pid": pid,
                "state": state,
                "transaction_s": round(float(age), 3),
                "locks": int(locks),
                "query": (query or "")[:200],
            }
            for pid, state, age, locks, query in self._rows(
                "SELECT a.pid, a.state, extract(epoch FROM now() - a.xact_start), "
                "count(l.*), a.query FROM pg_stat_activity AS a "
                "JOIN pg_locks AS l ON l.pid = a.pid AND l.granted "
                "AND l.locktype = 'relation' "
                "WHERE a.datname = current_database() "
                "AND a.xact_start < now() - make_interval(secs => %s) "
                "AND a.pid <> pg_backend_pid() "
                "GROUP BY a.pid, a.state, a.xact_start, a.query ORDER BY 3 DESC",
                (_LONG_LOCK_S,),
            )
        ]

    def stale_statistics(self, tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tables with enough rows never analyzed, or changed by > 25% since."""
        stale = []
        for t in tables:
            if t["locked"] or t["rows"] < _ANALYZE_MIN_ROWS:
                continue
            rel = self._relation(t["table"])
            known, modified = rel["rows_in_statistics"], rel["modified_since_analyze"] or 0
            if rel["last_analyze"] is None or modified > _STALE * max(known or 0, 1):
                stale.append(
                    {
                        "table": t["table"],
                        "rows": t["rows"],
                        "rows_in_statistics": known if rel["last_analyze"] is not None else None,
                    }
                )
        return stale

    def prunable(self, cutoff_us: int) -> int:
        """History versions that ended (a later version of the key committed) by the cutoff."""
        transactions = qualified(self._schema, TX_TABLE)
        total = 0
        for v in self._versioned():
            hist = qualified(self._schema, v.hist)
            same_key = " AND ".join(f"b.{quote(k)} = a.{quote(k)}" for k in v.history_keys)
            (count,) = self._one(
                f"SELECT count(*) FROM {hist} AS a WHERE EXISTS (SELECT 1 FROM {hist} AS b "
                f"JOIN {transactions} AS t ON t.xid = b.{XID} WHERE {same_key} "
                f"AND b.{SEQ} > a.{SEQ} AND t.tx_time <= %s)",
                (cutoff_us,),
            )
            total += int(count)
        return total

    def findings(
        self, database: dict[str, Any], server: dict[str, Any], tables: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Dead tuples to vacuum, blocked queries, long lock holders, lagging replicas, and
        connections near the limit."""
        alerts: list[dict[str, Any]] = []
        recommendations: list[dict[str, Any]] = []
        for t in tables:
            if t["locked"]:
                alerts.append(
                    {
                        "level": "warn",
                        "message": f"{t['table']} is locked by another session: its figures "
                        f"are missing (waited {_LOCK_WAIT_S} s)",
                    }
                )
                continue
            for name, dead, share in (
                (t["table"], t["dead_rows"], t["dead_share"]),
                (t["history_table"], t["history_dead_rows"], t["history_dead_share"]),
            ):
                if dead >= _VACUUM_MIN_DEAD and share >= _VACUUM_DEAD_SHARE:
                    recommendations.append(
                        rule(
                            "vacuum",
                            f"VACUUM (ANALYZE) {qualified(self._schema, name)}",
                            f"{name} holds {dead} dead tuples ({share:.0%} of its tuples)",
                            table=name,
                            dead_rows=dead,
                            dead_share=round(share, 4),
                        )
                    )
        for wait in server["lock_waits"]:
            if wait["waiting_s"] >= _LOCK_WAIT_WARN_S:
                alerts.append(
                    {
                        "level": "warn",
                        "message": f"Session {wait['pid']} has waited {wait['waiting_s']:.1f} s "
                        f"for a lock held by {wait['blocked_by']}: {wait['query'][:120]}",
                    }
                )
        for held in server["long_locks"]:
            alerts.append(
                {
                    "level": "warn",
                    "message": f"Session {held['pid']} ({held['state']}) holds {held['locks']} "
                    f"locks in a transaction open for {held['transaction_s']:.0f} s",
                }
            )
        for replica in server["replication"]:
            lag = replica["replay_lag_s"]
            if lag is not None and lag >= _LAG_WARN_S:
                alerts.append(
                    {"level": "warn", "message": f"Replica {replica['client']} lags {lag:.1f} s"}
                )
        delay = server["replay_delay_s"]
        if delay is not None and delay >= _LAG_WARN_S:
            alerts.append(
                {"level": "warn", "message": f"This standby replays {delay:.1f} s behind"}
            )
        conns = server["connections"]
        if conns["total"] >= _CONNECTIONS_WARN * conns["max"]:
            alerts.append(
                {
                    "level": "warn",
                    "message": f"{conns['total']} of max_connections {conns['max']} are in use",
                }
            )
        return alerts, recommendations

    def statements(self) -> dict[str, Any]:
        """The server's most expensive statements from pg_stat_statements, if it has them."""
        installed = self._rows("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not installed:
            return {
                "source": "chronodb",
                "server_statements": None,
                "pg_stat_statements": "not installed in this database",
            }
        try:
            rows = self._rows(
                "SELECT query, calls, total_exec_time, mean_exec_time, rows "
                "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                "WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT %s",
                (_TOP_STATEMENTS,),
            )
        except ChronoDBError as err:  # installed, but the server did not preload the library
            return {
                "source": "chronodb",
                "server_statements": None,
                "pg_stat_statements": f"unavailable: {str(err).splitlines()[0]}",
            }
        return {
            "source": "chronodb+pg_stat_statements",
            "server_statements": [
                {
                    "query": query[:500],
                    "calls": int(calls),
                    "total_ms": round(float(total), 3),
                    "mean_ms": round(float(mean), 4),
                    "rows": int(n),
                }
                for query, calls, total, mean, n in rows
            ],
            "pg_stat_statements": "available",
        }

    def ledger(self) -> dict[str, Any]:
        """The ledger's last verification, by any process (``audit/verified.py``), and its
        size."""
        (transactions,) = self._one(
            f"SELECT count(*) FROM {qualified(self._schema, TX_TABLE)} WHERE leaf IS NOT NULL"
        )
        with self._conn() as conn:
            found = stored(conn, self._schema)
        last = report_figures(found, self._engine.last_verification)
        return {"present": True, **last, "sealed_transactions": int(transactions)}
