"""ChronoDB: a SQLite (or PostgreSQL) database in which every table keeps its full history.

:class:`ChronoDB` is the public facade: it checks its options, opens the backend and the
engine that runs statements, transactions and the catalog (``chronodb/engine`` on SQLite,
``chronodb/pgengine`` on PostgreSQL, chosen by ``chronodb/dialects``), and forwards to it.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronodb import _guard, dialects, introspect
from chronodb.audit.access import SQLiteAccess
from chronodb.audit.leaf import Leaf
from chronodb.audit.trail import AuditTrail
from chronodb.config import check_options
from chronodb.engine import Engine, Params
from chronodb.errors import (
    ArgumentError,
    AuditError,
    ChronoDBError,
    ChronoDBWarning,
    ClosedError,
    NotSupportedError,
    SQLError,
)
from chronodb.optimizer.ml_optimizer import MLOptimizer
from chronodb.read_connection import ReadConnection
from chronodb.result import Result
from chronodb.sql import classify, paramstyle
from chronodb.sql.classify import Route
from chronodb.sql.snapshots import unblob
from chronodb.storage.urls import redact
from chronodb.timepoint import MAX_EPOCH, from_micros
from chronodb.versioning import adoption, history, integrity, timeline

if TYPE_CHECKING:
    from chronodb.pgengine import PostgresEngine

_FAR_FUTURE = MAX_EPOCH  # later than any transaction


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _refuse_closed(db: ChronoDB) -> None:
    """Run before every public method: a closed database says so, whatever the call."""
    if db._engine.closed:
        raise ClosedError(db.path)


def _refuse_unsupported(db: ChronoDB, method: str) -> None:
    """A feature the database's backend does not offer yet raises NotSupportedError."""
    feature = db._dialect.unsupported.get(method)
    if feature is not None:
        raise NotSupportedError(feature, db._dialect.title)


def engine_of(db: ChronoDB) -> Engine:
    """The engine under ``db`` (internal: for ChronoDB's own modules, tools and tests)."""
    return db._engine


def postgres_engine_of(db: ChronoDB) -> PostgresEngine:
    """The engine under ``db`` on PostgreSQL; ArgumentError for a file."""
    from chronodb.pgengine import PostgresEngine

    engine = db._engine
    if not isinstance(engine, PostgresEngine):
        raise ArgumentError(f"{db.path} is not a PostgreSQL database", argument="db", value=db.path)
    return engine


@_guard.guard_class(_refuse_closed, skip=("close",))
class ChronoDB:
    """A system-versioned SQLite database: ordinary SQL, plus every past state of every table.

    ``ChronoDB(":memory:")`` or ``ChronoDB("file.db")``; options: ``user`` recorded with each
    transaction (default: the OS user), ``wal`` (default True), ``durability``
    ("normal" or "full"), ``auto_create_tables`` (an INSERT into a missing table creates it),
    ``retention_days`` (history older than this is pruned on open and by
    :meth:`apply_retention`), ``read_only``, ``timeout`` (seconds to wait for other writers),
    ``adopt`` (default True: tables the file holds unversioned, made by other tools, are
    versioned on open, their rows as first versions; False: UnversionedTablesError instead).

    Every public method raises only :class:`~chronodb.errors.ChronoDBError` subclasses
    (``chronodb/_guard.py``); opening a damaged file raises CorruptDatabaseError, one that is
    not a database at all NotADatabaseError.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        user: str | None = None,
        wal: bool = True,
        durability: str = "normal",
        auto_create_tables: bool = True,
        time_travel: bool = True,
        retention_days: float | None = None,
        read_only: bool = False,
        timeout: float = 30.0,
        compression: bool = False,
        ml_optimizer: Mapping[str, Any] | None = None,
        ledger: bool = True,
        adopt: bool = True,
        **unknown: Any,
    ) -> None:
        if unknown:
            from chronodb.errors import ConfigError

            raise ConfigError(f"Unknown ChronoDB option(s): {', '.join(sorted(unknown))}")
        check_options(
            {
                "path": path,
                "user": user,
                "wal": wal,
                "durability": durability,
                "auto_create_tables": auto_create_tables,
                "time_travel": time_travel,
                "retention_days": retention_days,
                "read_only": read_only,
                "timeout": timeout,
                "compression": compression,
                "ml_optimizer": ml_optimizer,
                "ledger": ledger,
                "adopt": adopt,
            }
        )
        path = str(path)
        dialect = self._dialect = dialects.for_location(path)
        on_server = dialect is dialects.POSTGRES
        self.retention_days = retention_days
        self.compression = compression
        if compression:
            warnings.warn(
                "compression: true is accepted for seed 004's config, but ChronoDB stores "
                "pages uncompressed (SQLite has no page compression in the standard library)",
                ChronoDBWarning,
                stacklevel=2,
            )
        self.options: dict[str, Any] = {"ml_optimizer": dict(ml_optimizer or {})}
        with _guard.opening(redact(path) if on_server else path):
            # WAL once the file is set up: a refused adoption leaves the file as it was.
            backend = dialect.open_backend(
                path,
                wal=False,
                durability=durability,
                timeout=timeout,
                read_only=read_only,
            )
        engine = dialect.engine(
            backend,
            path=backend.path if on_server else path,
            user=user or _os_user(),
            read_only=read_only,
            auto_create_tables=auto_create_tables,
            time_travel=time_travel,
            ledger=ledger,
            adopt=adopt,
        )
        self._engine = engine
        # The engine's execute, bound once: db.execute forwards to it on every call.
        self._execute = engine.execute
        # The learned optimizer (chronodb/optimizer): it counts every statement and times a
        # few; disabled, it costs nothing.
        self.ml_optimizer = MLOptimizer(engine, dialect.planner(engine), ml_optimizer)
        self._observer = self.ml_optimizer.observer
        self._observed = self.ml_optimizer.workload.by_text
        self._health: Any = None  # the dialect's health facts, made by the first report
        if on_server:
            with _guard.opening(engine.path, backend.close):
                engine.open()
            from chronodb.pgengine.audit import PostgresAccess  # psycopg: the postgres extra

            self.audit_trail = AuditTrail(PostgresAccess(engine), self)
            if retention_days is not None and not read_only:
                self.apply_retention()
            return
        with _guard.opening(path, backend.close):
            engine.open()
            if wal:
                backend.use_wal()
            self.audit_trail = AuditTrail(SQLiteAccess(engine), self)
            if retention_days is not None and not read_only:
                self.apply_retention()

    # ----------------------------------------------------------------- options
    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._engine.path

    @property
    def read_only(self) -> bool:
        """Whether the database was opened read-only."""
        return self._engine.read_only

    @property
    def user(self) -> str:
        """The user recorded with each transaction this connection writes."""
        return self._engine.user

    @user.setter
    def user(self, value: str) -> None:
        self._engine.user = value

    @property
    def auto_create_tables(self) -> bool:
        """Whether an INSERT into a missing table creates it."""
        return self._engine.auto_create_tables

    @auto_create_tables.setter
    def auto_create_tables(self, value: bool) -> None:
        self._engine.auto_create_tables = value

    @property
    def time_travel(self) -> bool:
        """Whether temporal clauses (AS OF, FOR SYSTEM_TIME) are allowed."""
        return self._engine.time_travel

    @time_travel.setter
    def time_travel(self, value: bool) -> None:
        self._engine.time_travel = value

    # ----------------------------------------------------------------- setup
    @classmethod
    def from_config(cls, config: str | Path, /, **overrides: Any) -> ChronoDB:
        """Open the database a YAML config file describes (seed 004's keys).

        Keyword overrides win over the file, e.g. ``from_config("c.yaml", path=":memory:")``.
        """
        from chronodb.config import load_config

        options = load_config(config)
        options.update(overrides)
        return cls(**options)

    # ------------------------------------------------------------ transactions
    @property
    def in_transaction(self) -> bool:
        return self._engine.explicit

    @contextmanager
    def transaction(self) -> Iterator[ChronoDB]:
        """``with db.transaction():`` commits on success and rolls back on an exception."""
        with self._engine.transaction():
            yield self

    # ------------------------------------------------------------------ execute
    @_guard.guards_itself
    def execute(self, sql: str, params: Params = None) -> Result:
        """Run one SQL statement; temporal clauses (AS OF, FOR SYSTEM_TIME) work anywhere."""
        try:
            # The learned optimizer (chronodb/optimizer) counts each call and times 1 in N.
            if self._observer is not None:
                # Workload.due, inlined for statements already seen: this runs on every call.
                seen = self._observed.get(sql)
                if seen is None:
                    if self._observer(sql):
                        return self.ml_optimizer.workload.measure(
                            self._execute, self._observed.get(sql), sql, params
                        )
                else:
                    seen.calls += 1
                    if not seen.calls % seen.every and seen.kind is not None:
                        return self.ml_optimizer.workload.measure(self._execute, seen, sql, params)
            # The engine refuses a closed database and translates SQLite's errors.
            return self._execute(sql, params)
        except ChronoDBError:
            raise
        except _guard.FOREIGN as err:
            # The public API's error boundary (_guard.py), here rather than in a wrapper: a
            # wrapper's extra call would cost every statement.
            raise _guard.failure(ChronoDB.execute, err, (self, sql, params), {}) from err

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> Result:
        """Run one write statement for each parameter set, in one transaction: all or
        nothing (inside an open transaction, a failure undoes every parameter set's write
        and leaves the transaction open)."""
        engine = self._engine
        if engine.route(sql) not in (Route.WRITE, Route.READ):
            with engine.whole():
                rows: list[Result] = [self.execute(sql, p) for p in seq_of_params]
            return rows[-1] if rows else Result(None)
        return engine.write_many(sql, seq_of_params)

    def executescript(self, script: str) -> None:
        """Run several statements separated by semicolons, each through :meth:`execute`.

        Unlike sqlite3's, the script is all or nothing: its statements run in one
        transaction (inside an open transaction, a failure undoes the whole script and
        leaves the transaction open). A script that controls transactions itself (BEGIN,
        COMMIT, ROLLBACK) or runs VACUUM runs statement by statement, as it says.
        """
        try:
            if self._dialect is dialects.POSTGRES:
                # PostgreSQL's lexical rules (dollar-quoted bodies kept whole); a piece of
                # comments alone is no statement there.
                pieces = paramstyle.statements(script)
                statements = [s for s in pieces if classify.code_of(s).strip(" \t\r\n;")]
            else:
                statements = [s for s in sqlite3_split(script) if s.strip()]
        except ValueError as err:
            raise SQLError(str(err)) from err
        engine = self._engine
        own = (Route.BEGIN, Route.COMMIT, Route.ROLLBACK, Route.VACUUM)
        if any(engine.route(s) in own for s in statements):
            for statement in statements:
                self.execute(statement)
            return
        with engine.whole():
            for statement in statements:
                self.execute(statement)

    # ------------------------------------------------------------------ history
    def get_change_history(self, table: str, pk: Any) -> list[dict[str, Any]]:
        """Every version of one row, oldest first: operation, values, before, tx, user, hash."""
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import history as pg_history  # psycopg: the postgres extra

            with self._engine.lock:
                return pg_history.change_history(self._engine, table, pk)
        engine = self._engine
        with engine.lock:
            engine.refresh_catalog()
            entries = history.change_history(engine.conn, engine.catalog, table, pk)
            for entry in entries:
                entry["tx_hash"] = self.tx_hash(entry["tx_id"])
            return entries

    def changes(self, table: str, start: Any = None, end: Any = None) -> list[dict[str, Any]]:
        """Rows inserted, updated and deleted in ``(start, end]``, with before and after values."""
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import history as pg_history  # psycopg: the postgres extra

            with self._engine.lock:
                return pg_history.changes(self._engine, table, start, end)
        literal = table.replace("'", "''")
        result = self.execute(
            f"SELECT * FROM chrono_changes('{literal}', ?, ?)",
            [0 if start is None else start, _FAR_FUTURE if end is None else end],
        )
        out = []
        for row in result.to_dicts():
            for side in ("before", "after"):
                row[side] = unblob(json.loads(row[side])) if row[side] is not None else None
            out.append(row)
        return out

    def prune_history(self, older_than: Any, *, force: bool = False) -> int:
        """Forget versions that ended at or before ``older_than``; returns how many went.

        Refuses (AuditError) if a transaction it would amend no longer matches the ledger,
        so that pruning cannot launder tampering; ``force=True`` prunes anyway.
        """
        _refuse_unsupported(self, "prune_history")
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import maintenance  # psycopg: the postgres extra

            with engine.lock:
                return maintenance.prune(engine, older_than, force)

        def run() -> Result:
            engine.index_leaves()  # a leaf on a version about to go is kept, indexed
            r = Result(None)
            r.rowcount, touched = history.prune(
                engine.conn, engine.catalog, older_than, engine.ledger_check(force)
            )
            engine.amend(touched)
            return r

        with engine.lock:
            return engine.run_write(run, ddl=True, kind="PRUNE").rowcount

    def apply_retention(self) -> int:
        """Prune history older than ``retention_days``; returns the number of versions removed."""
        _refuse_unsupported(self, "apply_retention")
        if self.retention_days is None:
            return 0
        try:
            return self.prune_history(time.time() - float(self.retention_days) * 86400)
        except AuditError as err:  # the file still opens, so the user can investigate
            warnings.warn(f"retention not applied: {err}", ChronoDBWarning, stacklevel=2)
            return 0

    def erase(self, table: str, pk: Any, reason: str | None = None, *, force: bool = False) -> int:
        """Remove one row and its whole history (right to erasure); a record of it is kept.

        Refuses (AuditError) if the row's transactions no longer match the ledger, unless
        ``force=True``.
        """
        _refuse_unsupported(self, "erase")
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import maintenance  # psycopg: the postgres extra

            with engine.lock:
                return maintenance.erase(engine, table, pk, reason, force)

        def run() -> Result:
            assert engine.open_tx is not None
            engine.index_leaves()
            r = Result(None)
            r.rowcount, touched = history.erase(
                engine.conn,
                engine.catalog,
                table,
                pk,
                engine.open_tx[0],
                engine.user,
                reason,
                engine.ledger_check(force),
            )
            engine.amend(touched)
            return r

        with engine.lock:
            return engine.run_write(run, ddl=True, kind="ERASE").rowcount

    def check_history(self, *, quick: bool = False) -> list[str]:
        """Problems where data and history disagree (e.g. after a crash); empty means none.

        Checks that SQLite finds the file's pages and indexes sound (``quick``: pages only,
        several times faster, see :meth:`AuditTrail.verify`), that transaction times strictly
        increase, that every version names an existing transaction, and that each table's rows
        equal its rows AS OF the latest transaction. Damage is reported, never raised. On
        PostgreSQL the same checks but the file's run in one snapshot (``quick`` changes
        nothing there), rows compared by their byte images.
        """
        _refuse_unsupported(self, "check_history")
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import maintenance  # psycopg: the postgres extra

            with engine.lock:
                return maintenance.check_history(engine)
        # One snapshot: another process committing between the checks' queries must not make
        # the table and its history look apart.
        with engine.lock, engine.snapshot():
            try:
                engine.refresh_catalog()
            except (sqlite3.DatabaseError, ChronoDBError) as err:
                return [f"the file is damaged: the catalog cannot be read: {err}"]
            return integrity.check_history(engine.conn, engine.catalog, quick=quick)

    # ------------------------------------------------------------------ audit
    def tx_hash(self, tx_id: int) -> str | None:
        """The ledger hash (hex) of a committed transaction, or None."""
        if isinstance(tx_id, bool) or not isinstance(tx_id, int):
            raise ChronoDBError(f"A transaction id is an integer; got {tx_id!r}")
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import history as pg_history  # psycopg: the postgres extra

            with self._engine.lock:
                return pg_history.tx_hash(self._engine, tx_id)
        engine = self._engine
        if engine.ledger is None:
            return None
        with engine.lock:
            digest = engine.ledger.hash_of(tx_id)
        return digest.hex() if digest is not None else None

    def verify_audit_integrity(self) -> bool:
        """Recompute every digest from the stored rows; False if anything was changed."""
        return self.audit_trail.verify().ok

    # ------------------------------------------------------------------ introspection
    def tables(self, as_of: Any = None) -> list[str]:
        """Names of the versioned tables that exist now, or AS OF ``as_of`` (a transaction
        id, or a time)."""
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import history as pg_history  # psycopg: the postgres extra

            with engine.lock:
                return pg_history.tables(engine, as_of)
        with engine.lock:
            engine.refresh_catalog()
            return introspect.tables(engine.catalog, as_of)

    def transactions(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Committed write transactions, newest first: id, time and user; ``limit``: at
        most that many. The transaction that adopted the file's tables (versioned the rows
        other tools wrote) also says so: ``"kind": "adopt"`` and ``"tables"``, how many.
        With the ledger on, each also has ``"kinds"``: its statements' kinds ("INSERT",
        "UPDATE", …) as its leaf records them."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ChronoDBError(f"limit is a whole number, 0 or more; got {limit!r}")
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import history as pg_history  # psycopg: the postgres extra

            with engine.lock:
                return pg_history.transactions(engine, limit)
        with engine.lock:
            rows = timeline.transactions(engine.conn, limit)
            adopted = adoption.recorded(engine.conn)
            ledger = engine.ledger
            leaves = {r[0]: ledger.leaf_of(r[0]) for r in rows} if ledger is not None else {}
        found = [{"tx_id": r[0], "tx_time": from_micros(r[1]), "user": r[2]} for r in rows]
        for entry in found:
            if entry["tx_id"] in adopted:
                entry.update(kind="adopt", tables=len(adopted[entry["tx_id"]]))
            leaf = leaves.get(entry["tx_id"])
            if leaf is not None:
                entry["kinds"] = list(Leaf.decode(leaf[1]).kinds)
        return found

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called; every other method then raises ClosedError."""
        return self._engine.closed

    @property
    def connection(self) -> ReadConnection:
        """The underlying sqlite3 connection, for reads: a view that refuses writes
        (ReadOnlyError) and transaction statements, whose versions would otherwise be filed
        under another transaction. Write through :meth:`execute` or ``chronodb.dbapi``."""
        _refuse_closed(self)
        engine = self._engine
        return ReadConnection(engine.conn, engine.lock)

    def get_health_report(self) -> dict[str, Any]:
        """Status, latency, sizes, alerts and recommendations backed by numbers."""
        from chronodb.optimizer.health import build_report

        engine = self._engine
        if self._health is None:
            # One per database, kept: what it caches between reports (row counts) serves a
            # frequently polled /health.
            self._health = self._dialect.health(engine)
        return build_report(engine, self.ml_optimizer, self._health, self.retention_days)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._engine.close()
        # A closed database's statements are not counted: execute goes straight to the
        # engine, which refuses them with ClosedError.
        self._observer = None

    def __enter__(self) -> ChronoDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ChronoDB {self.path!r} user={self.user!r}>"

    # ------------------------------------------------------------------ introspection
    # (chronodb/introspect.py; the CLI, the HTTP API and GraphQL read these)
    def columns(self, table: str, as_of: Any = None) -> list[introspect.Column]:
        """``table``'s columns now, or AS OF ``as_of`` (a transaction id, or a time)."""
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import history as pg_history  # psycopg: the postgres extra

            with engine.lock:
                return pg_history.columns(engine, table, as_of)
        with engine.lock:
            engine.refresh_catalog()
            return introspect.columns(engine.conn, engine.catalog, table, as_of)

    def foreign_keys(self, table: str) -> list[introspect.ForeignKey]:
        """``table``'s foreign keys, in the order they are declared."""
        _refuse_unsupported(self, "foreign_keys")
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import introspect as pg_introspect  # the postgres extra

            with engine.lock:
                return pg_introspect.foreign_keys(engine, table)
        with engine.lock:
            engine.refresh_catalog()
            return introspect.foreign_keys(engine.conn, engine.catalog, table)

    def views(self) -> list[introspect.View]:
        """The views, with their CREATE VIEW statements, sorted by name."""
        _refuse_unsupported(self, "views")
        engine = self._engine
        if self._dialect is dialects.POSTGRES:
            from chronodb.pgengine import introspect as pg_introspect  # the postgres extra

            with engine.lock:
                return pg_introspect.views(engine)
        with engine.lock:
            return introspect.views(engine.conn)


def sqlite3_split(script: str) -> Iterator[str]:
    """Split a script into complete statements using SQLite's own completeness test."""
    buf = ""
    pieces = script.split(";")
    for i, piece in enumerate(pieces):
        buf += piece + (";" if i < len(pieces) - 1 else "")
        if sqlite3.complete_statement(buf):
            yield buf
            buf = ""
    if buf.strip():
        if not sqlite3.complete_statement(buf + ";"):
            raise ValueError(f"Incomplete statement at the end of the script: {buf.strip()[:80]!r}")
        yield buf
