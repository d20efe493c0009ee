"""ChronoDB: a SQLite database in which every table keeps its full history."""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import re
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chronodb import _guard, introspect, notes
from chronodb import ddl as ddl_mod
from chronodb.audit import ledger as ledger_mod
from chronodb.audit.digests import EMPTY as EMPTY_DIGEST
from chronodb.audit.digests import table_digests
from chronodb.audit.guard import check_unchanged
from chronodb.audit.leaf import Amendment
from chronodb.audit.ledger import Ledger
from chronodb.audit.trail import AuditTrail
from chronodb.config import check_options
from chronodb.errors import (
    AuditError,
    ChronoDBError,
    ChronoDBWarning,
    ClosedError,
    ReadOnlyError,
    SQLError,
    TransactionError,
    UnversionedTablesError,
)
from chronodb.layout import ATOMIC
from chronodb.optimizer.ml_optimizer import MLOptimizer
from chronodb.result import Result
from chronodb.sql import pointnotes, temporal
from chronodb.sql.classify import Route, classify, savepoint_of, write_target
from chronodb.sql.snapshots import unblob
from chronodb.storage.sqlite import SQLiteBackend
from chronodb.storage.sqlite_errors import missing_table, translate
from chronodb.timepoint import MAX_EPOCH, from_micros
from chronodb.versioning import adoption, history, integrity, timeline
from chronodb.versioning.catalog import CATALOG_STATEMENTS, Catalog
from chronodb.versioning.tables import install_triggers, unversioned_tables
from chronodb.versioning.upgrade import FORMAT, file_format, upgrade
from chronodb.versioning.vacuum import renumbered_tables

Params = Sequence[Any] | Mapping[str, Any] | None
_ROUTE_CACHE_LIMIT = 20_000
# The two routes of nearly every call, as plain names: an enum member's lookup on its class
# costs about 50 ns in Python 3.11, twice per statement.
_READ, _WRITE = Route.READ, Route.WRITE
_CATALOG_OBJECTS = frozenset(re.findall(r"IF NOT EXISTS (\w+)", " ".join(CATALOG_STATEMENTS)))
_LEDGER_OBJECTS = ledger_mod.OBJECTS
_FAR_FUTURE = MAX_EPOCH  # later than any transaction
_EXPLAIN = re.compile(r"\s*EXPLAIN(?:\s+QUERY\s+PLAN)?\s", re.I)


_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\w+)", re.S)


@functools.lru_cache(maxsize=4096)
def statement_kind(sql: str) -> str:
    """The statement's first keyword (INSERT, UPDATE, ...), recorded in the ledger."""
    found = _FIRST_WORD.match(sql)
    return found.group(1).upper() if found else "WRITE"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class _Mark:
    """What a transaction had done when a savepoint was made."""

    amendments: int
    kinds: int
    rows_written: int
    changes: int


def _refuse_closed(db: ChronoDB) -> None:
    """Run before every public method: a closed database says so, whatever the call."""
    if db._closed:
        raise ClosedError(db.path)


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
        self.path = str(path)
        self.user = user or _os_user()
        self.auto_create_tables = auto_create_tables
        self.time_travel = time_travel
        self.retention_days = retention_days
        self.read_only = read_only
        self.compression = compression
        if compression:
            warnings.warn(
                "compression: true is accepted for seed 004's config, but ChronoDB stores "
                "pages uncompressed (SQLite has no page compression in the standard library)",
                ChronoDBWarning,
                stacklevel=2,
            )
        self.options: dict[str, Any] = {"ml_optimizer": dict(ml_optimizer or {})}
        with _guard.opening(self.path):
            # WAL once the file is set up: a refused adoption leaves the file as it was.
            self._backend = SQLiteBackend(
                self.path,
                wal=False,
                durability=durability,
                timeout=timeout,
                read_only=read_only,
            )
        self._conn = self._backend.conn
        self._lock = threading.RLock()
        self._catalog = Catalog()
        self._routes: dict[str, Route] = {}
        self._plans: dict[str, temporal.Plan] = {}
        self._tx: tuple[int, int] | None = None  # (tx_id, tx_time_us) of the open transaction
        self._explicit = False
        # Why SQLite rolled the open explicit transaction back by itself (ON CONFLICT
        # ROLLBACK, RAISE(ROLLBACK), a full disk), until COMMIT or ROLLBACK ends it.
        self._aborted: str | None = None
        self._changes_at_alloc = 0
        self._rows_written = 0  # rows the open transaction's statements changed themselves
        # Tables the open transaction's statements name (None: some statement named none the
        # seal can rely on); the ledger's seal reads these first. See write_target.
        self._targets: set[str] | None = None
        self._tx_has_ddl = False
        self._closed = False
        # The learned optimizer (chronodb/optimizer): None when disabled, so it costs nothing.
        self.ml_optimizer = MLOptimizer(self, ml_optimizer)
        self._observer = self.ml_optimizer.observer
        self._observed = self.ml_optimizer.workload._texts
        # The audit ledger: statement kinds and pruning/erasure amendments of the open
        # transaction, sealed into one leaf just before COMMIT.
        self._ledger: Ledger | None = None
        self._ledger_wanted = ledger
        # Whether opening versions the tables the file holds unversioned (adoption.py).
        self._adopt = adopt
        self._kinds: list[str] = []
        self._amendments: list[Amendment] = []
        # The open transaction's savepoints, oldest first: (name, and the transaction's
        # state when it was made), so that ROLLBACK TO forgets what it undid.
        self._savepoints: list[tuple[str, _Mark]] = []
        self._last_verification: tuple[float, bool] | None = None
        with _guard.opening(self.path, self._backend.close):
            self._setup()
            if wal:
                self._backend.use_wal()
            self._backend.on_foreign_commit = self._follow_schema
            if ledger:
                self._ledger = Ledger(self._conn, self._catalog)
            self.audit_trail = AuditTrail(self)
            if retention_days is not None and not read_only:
                self.apply_retention()

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

    def _setup(self) -> None:
        found = file_format(self._conn)
        if found is not None and found > FORMAT:
            raise ChronoDBError(
                f"{self.path} was written by a newer ChronoDB (file format {found}; this "
                f"version reads up to {FORMAT})"
            )
        if self.read_only:
            if found is None:
                raise ReadOnlyError(
                    f"{self.path} is not a ChronoDB file yet; open it once without read_only "
                    "to version its tables"
                )
            if found < FORMAT:
                raise ReadOnlyError(
                    f"{self.path} is in an earlier ChronoDB file format ({found}, now "
                    f"{FORMAT}); open it once without read_only to upgrade it"
                )
            self._reload_catalog()
            return
        with self._lock:
            # Opening a ready file takes no write lock: it must not wait for other writers.
            if self._setup_needed(found):
                self._create_catalog()
            self._reload_catalog()

    def _create_catalog(self) -> None:
        """Create the catalog tables and version every table not yet versioned."""
        self._backend.begin()
        try:
            for statement in CATALOG_STATEMENTS:
                self._conn.execute(statement)
            if self._ledger_wanted:
                ledger_mod.create(self._conn)
            self._catalog.load(self._conn)
            if (file_format(self._conn) or 0) < FORMAT:
                upgrade(self._conn, self._catalog)
            missing = unversioned_tables(self._conn, self._catalog)
            if missing and not self._adopt:
                raise UnversionedTablesError(self.path, missing)
            if missing:
                tx, us = self._allocate()
                adoption.version_tables(self._conn, missing, tx, us)
                adoption.record(self._conn, missing, tx)
                self._catalog.load(self._conn)
                if self._ledger_wanted:
                    self._kinds = adoption.kinds(missing)
                    self._ledger = Ledger(self._conn, self._catalog)
                    self._seal((tx, us))
            self._backend.commit()
        except BaseException:
            self._backend.rollback()
            raise
        finally:
            self._tx = None

    def _setup_needed(self, found: int | None) -> bool:
        """Whether the catalog is missing or in an earlier format, or a table is unversioned."""
        present = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_schema")}
        if not present.issuperset(_CATALOG_OBJECTS):
            return True
        if self._ledger_wanted and not present.issuperset(_LEDGER_OBJECTS):
            return True
        if found is None or found < FORMAT:
            return True
        self._catalog.load(self._conn)
        return bool(unversioned_tables(self._conn, self._catalog))

    def _reload_catalog(self) -> None:
        """Load the catalog and remake this connection's history triggers, from one snapshot
        of the file: outside a transaction each statement would see the file as another
        process left it just then, and the triggers could follow a schema newer than the
        catalog's cookie says (the next write would then not remake them)."""
        with self._snapshot():
            self._load_catalog()

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Read one state of the file throughout: a read transaction, unless one is open."""
        if self._conn.in_transaction:
            yield
            return
        conn = self._conn
        conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")  # keeps the TEMP triggers a catalog load made meanwhile
        except sqlite3.Error:
            # On a damaged file sqlite3 can report a read's earlier error at COMMIT, which
            # still ends the transaction; one that did not end is undone, and the catalog
            # loaded in it is forgotten so that the next check loads it again.
            if not conn.in_transaction:
                return
            conn.execute("ROLLBACK")
            self._catalog.schema_cookie = None
            raise

    def _load_catalog(self) -> None:
        self._catalog.load(self._conn)
        self._plans.clear()
        if not self.read_only:
            install_triggers(self._conn, self._catalog)

    def _follow_schema(self) -> None:
        """Another connection committed: take in its schema changes before this one writes.

        The versioning triggers are this connection's own (``tables.CURRENT_TX``), so a table
        another process created or altered is versioned here only once they are made again.
        """
        if self._backend.schema_cookie() != self._catalog.schema_cookie:
            self._reload_catalog()

    # ------------------------------------------------------------ transactions
    @property
    def in_transaction(self) -> bool:
        return self._explicit

    def _allocate(self) -> tuple[int, int]:
        tx = self._backend.allocate_tx(time.time_ns() // 1000, self.user)
        self._tx = tx
        self._changes_at_alloc = self._backend.total_changes()
        self._rows_written = 0
        self._targets = set()
        self._tx_has_ddl = False
        return tx

    def _ensure_tx(self) -> tuple[int, int]:
        if self.read_only:
            raise ReadOnlyError("This database was opened read-only")
        return self._tx or self._allocate()

    def _begin(self) -> None:
        # Lock first: another thread's open transaction is waited for, not an error.
        self._lock.acquire()
        if self._explicit:
            self._lock.release()
            raise TransactionError("A transaction is already open; COMMIT or ROLLBACK it first")
        try:
            if not self.read_only:
                self._backend.begin()
            else:
                self._conn.execute("BEGIN")
        except BaseException:
            self._lock.release()
            raise
        self._explicit = True
        self._aborted = None
        self._tx = None
        self._savepoints = []

    def _finish_tx(self) -> None:
        """Drop the transaction record if the transaction changed nothing."""
        # No change beyond the statements' own rows means no trigger wrote a version.
        changed = self._backend.total_changes() - self._changes_at_alloc
        unchanged = changed <= self._rows_written
        if self._tx is not None and not self._tx_has_ddl and unchanged:
            self._backend.discard_tx()
        elif self._tx is not None:
            self._seal(self._tx)
        self._kinds = []
        self._amendments = []

    def _commit(self) -> None:
        with self._lock:
            if not self._explicit:
                raise TransactionError("COMMIT without an open transaction")
            if self._aborted is not None:
                reason = self._aborted
                self._rollback()
                raise TransactionError(
                    f"COMMIT: SQLite rolled this transaction back after an error ({reason}); "
                    "none of it was committed"
                )
            try:
                self._finish_tx()
                self._backend.commit()
            except BaseException as err:
                # A failed COMMIT (e.g. busy past the timeout) must not leave the lock held.
                self._rollback()
                if isinstance(err, sqlite3.Error):
                    raise translate(err) from err
                raise
            self._explicit = False
            self._tx = None
            self._lock.release()

    def _rollback(self) -> None:
        with self._lock:
            if not self._explicit:
                raise TransactionError("ROLLBACK without an open transaction")
            had_ddl = self._tx_has_ddl
            try:
                self._rolled_back()
            finally:
                self._explicit = False
                self._aborted = None
                self._tx = None
                self._lock.release()
            if had_ddl:
                self._reload_catalog()

    def _rolled_back(self) -> None:
        self._backend.rollback()
        if self._ledger is not None:
            self._ledger.rolled_back()

    def _note_abort(self, err: BaseException) -> None:
        """After an error: if SQLite rolled the whole open transaction back, so does ChronoDB.

        The transaction then refuses writes until COMMIT or ROLLBACK ends it: run on their
        own, they would commit one by one, and a later COMMIT would keep part of a
        transaction that was meant to be all or nothing.
        """
        if not self._explicit or self._aborted is not None or self._conn.in_transaction:
            return
        self._aborted = str(err) or type(err).__name__
        self._tx = None
        self._savepoints = []
        self._rolled_back()
        self._refresh_catalog()  # a CREATE or ALTER it undid

    def _refuse_if_aborted(self) -> None:
        if self._aborted is not None:
            raise TransactionError(
                f"SQLite rolled this transaction back after an error ({self._aborted}); "
                "ROLLBACK (or COMMIT) to end it before writing again"
            )

    @contextmanager
    def transaction(self) -> Iterator[ChronoDB]:
        """``with db.transaction():`` commits on success and rolls back on an exception."""
        self._begin()
        try:
            yield self
        except BaseException:
            if self._explicit:
                self._rollback()
            raise
        else:
            if self._explicit:
                self._commit()

    def _seal(self, tx: tuple[int, int]) -> str | None:
        """Append the open transaction's leaf to the ledger; returns its hash (hex)."""
        if self._ledger is None:
            return None
        written = self._backend.total_changes() - self._changes_at_alloc
        targets = None if self._amendments or self._tx_has_ddl else self._targets
        digest = self._seal_leaf(
            tx, written, written - self._rows_written, self._kinds, self._amendments, targets
        )
        self._kinds = []
        self._amendments = []
        return digest

    def _seal_leaf(
        self,
        tx: tuple[int, int],
        written: int,
        versions: int,
        kinds: list[str],
        amendments: list[Any],
        targets: Iterable[str] | None,
    ) -> str:
        """Append transaction ``tx``'s leaf to the ledger; returns its hash (hex).

        ``written``: rows changed since its record; ``versions``: how many of those are
        history versions; ``targets``: the tables its statements write, a hint for finding
        them (None: not known).
        """
        assert self._ledger is not None
        if self._backend.compiled:
            # SQLite compiled something: perhaps because another connection changed the
            # schema (a table it created, which this write filled). The leaf must count that
            # table's versions, so the catalog is brought up to date first.
            self._refresh_catalog()
        tables = None
        if targets:
            found = [self._catalog.current(name) for name in targets]
            if all(found):
                tables = {sv.table_id for sv in found if sv is not None}
        digest = self._ledger.seal(
            tx[0],
            tx[1],
            self.user,
            kinds,
            amendments,
            written,
            tables=tables,
            versions=versions,
        )
        return digest.hex()

    def _note_target(self, sql: str | None, ddl: bool) -> None:
        """Add the table ``sql`` writes to the seal's hint (only the ledger reads it)."""
        if self._ledger is None or self._targets is None:
            return
        target = None if sql is None or ddl else write_target(sql)
        if target is None:
            self._targets = None
        else:
            self._targets.add(target)

    def _write(
        self,
        run: Any,
        *,
        ddl: bool = False,
        kind: str | None = None,
        sql: str | None = None,
    ) -> Result:
        """Run a write inside the open transaction, or in one of its own.

        ``sql``: the statement; its first keyword is the ledger's ``kind`` unless one is
        given, and the table it writes a hint for the ledger's seal. Every autocommit write
        runs this, so without the ledger it skips what only the ledger reads (those calls
        were about 1.2 µs of each autocommit UPDATE).
        """
        ledger = self._ledger
        # Check for an open transaction under the lock: another thread's is not ours to join.
        with self._lock:
            if ledger is not None:
                kind = kind or statement_kind(sql or "")
                if kind not in self._kinds:
                    self._kinds.append(kind)
            if self._explicit:
                return self._write_in_transaction(run, ddl, sql)
            if self.read_only:
                raise ReadOnlyError("This database was opened read-only")
            backend = self._backend
            backend.begin(single=True)
            try:
                tx = self._allocate()
                if ledger is not None:
                    self._note_target(sql, ddl)
                self._tx_has_ddl = ddl
                if ddl:
                    self._refresh_catalog()
                result = run()
                changed = backend.total_changes() - self._changes_at_alloc
                if ddl or backend.settle(changed, result.rowcount):
                    self._rows_written = 0 if ddl else max(result.rowcount, 0)
                    tx_hash = self._seal(tx) if ledger is not None else None
                    backend.commit()
                    result.tx_id, result.tx_time = tx[0], from_micros(tx[1])
                    result.tx_hash = tx_hash
            except BaseException:
                self._rolled_back()
                if ddl:
                    self._reload_catalog()
                raise
            finally:
                self._tx = None
                if ledger is not None:
                    self._kinds = []
                    self._amendments = []
        return result

    def _write_alone(self, sql: str, params: Params) -> Result:
        """A plain write statement outside a transaction: the commonest write.

        It runs in one call of the backend (:meth:`SQLiteBackend.write_alone`), not step by
        step through :meth:`_write` and the transaction state it keeps for longer
        transactions: measured in memory, about 0.7 µs less per autocommit UPDATE, and 1.1 µs
        with the ledger. Inside a transaction, read-only, or on a table still to be created,
        it takes that way.
        """
        with self._lock:
            if not self._explicit and not self.read_only:
                seal = None if self._ledger is None else self._sealer(sql)
                try:
                    result, tx, tx_hash = self._backend.write_alone(
                        sql,
                        () if params is None else params,
                        time.time_ns() // 1000,
                        self.user,
                        Result,
                        seal,
                    )
                except BaseException as err:
                    self._rolled_back()  # the backend rolled back; the ledger forgets its seal
                    if not isinstance(err, sqlite3.OperationalError) or not missing_table(err):
                        raise
                else:
                    if tx is not None:
                        result.tx_id, result.tx_time = tx[0], from_micros(tx[1])
                        result.tx_hash = tx_hash
                    return result
            return self._write(lambda: self._run_write(sql, params), sql=sql)

    def _sealer(self, sql: str) -> Callable[[tuple[int, int], int, int], str]:
        """The ledger's seal of a one-statement transaction running ``sql``, for
        :meth:`SQLiteBackend.write_alone` to call with its counts before the commit."""
        kind, target = statement_kind(sql), write_target(sql)
        targets = None if target is None else (target,)

        def seal(tx: tuple[int, int], changed: int, own: int) -> str:
            return self._seal_leaf(tx, changed, changed - max(own, 0), [kind], [], targets)

        return seal

    def _write_in_transaction(self, run: Any, ddl: bool, sql: str | None) -> Result:
        self._refuse_if_aborted()
        tx = self._ensure_tx()
        self._note_target(sql, ddl)
        if ddl:
            with self._atomic():
                self._tx_has_ddl = True
                self._refresh_catalog()
                result = run()
        else:
            result = run()
        if not ddl:
            self._rows_written += max(result.rowcount, 0)
        result.tx_id, result.tx_time = tx[0], from_micros(tx[1])
        return result

    # ------------------------------------------------------------------ execute
    @_guard.guards_itself
    def execute(self, sql: str, params: Params = None, *, _timed: bool = False) -> Result:
        """Run one SQL statement; temporal clauses (AS OF, FOR SYSTEM_TIME) work anywhere."""
        if self._closed:
            raise ClosedError(self.path)
        try:
            # The learned optimizer (chronodb/optimizer) counts each call and times 1 in N.
            if self._observer is not None and not _timed:
                # Workload.due, inlined for statements already seen: this runs on every call.
                seen = self._observed.get(sql)
                if seen is None:
                    if self._observer(sql):
                        return self.ml_optimizer.workload.measure(self.execute, sql, params)
                else:
                    seen.calls += 1
                    if not seen.calls % seen.every and seen.kind is not None:
                        return self.ml_optimizer.workload.measure(self.execute, sql, params)
            route = self._routes.get(sql)
            if route is None:
                route = self._route(sql)
            if route is _READ:
                with self._lock:
                    cur = self._conn.execute(sql, () if params is None else params)
                    return Result(cur)
            if route is _WRITE:
                return self._write_alone(sql, params)
            if route is Route.TEMPORAL:
                with self._lock:
                    try:
                        result = Result(self._temporal_read(sql, params))
                    except sqlite3.Error as err:
                        raise self._point_error(translate(err, sql), sql, params) from err
                    if not result.rows:  # only an empty answer can be the point's fault
                        self._note_empty(result, sql, params)
                    return result
            if route is Route.TEMPORAL_WRITE:
                with self._lock:
                    # Bound inside the write transaction, after it followed the schema.
                    return self._write(
                        lambda: Result(self._conn.execute(*self._bind(sql, params))), sql=sql
                    )
            if route is Route.DDL:
                with self._lock:
                    return self._write(lambda: self._ddl(sql, params), ddl=True, sql=sql)
            if route is Route.BEGIN:
                self._begin()
                return Result(None)
            if route is Route.COMMIT:
                self._commit()
                return Result(None)
            if route is Route.ROLLBACK:
                self._rollback()
                return Result(None)
            if route is Route.SAVEPOINT:
                return self._savepoint(sql)
            if route is Route.VACUUM:
                return self._vacuum(sql, params)
            with self._lock:
                return Result(self._conn.execute(sql, () if params is None else params))
        except sqlite3.Error as err:
            self._note_abort(err)
            raise translate(err, sql) from err
        except ChronoDBError as err:
            self._note_abort(err)
            raise
        except _guard.FOREIGN as err:
            # The public API's error boundary (_guard.py), here rather than in a wrapper: a
            # wrapper's extra call would cost every statement.
            raise _guard.failure(ChronoDB.execute, err, (self, sql, params), {}) from err

    def _savepoint(self, sql: str) -> Result:
        """SAVEPOINT, RELEASE or ROLLBACK TO, inside a transaction opened with BEGIN.

        The transaction's record is written before its first savepoint: a ROLLBACK TO must
        not undo it, or later writes would be filed under the transaction before.
        """
        with self._lock:
            if not self._explicit:
                raise TransactionError(
                    f"{sql.strip()[:60]!r}: savepoints work inside a transaction; run BEGIN "
                    "(or use db.transaction()) first, so that ChronoDB records it"
                )
            self._refuse_if_aborted()
            if not self.read_only and self._tx is None:
                self._ensure_tx()
            result = Result(self._conn.execute(sql))
            action = savepoint_of(sql)
            if action is not None:
                self._mark_savepoint(*action)
            if self._tx_has_ddl:
                self._reload_catalog()  # ROLLBACK TO may have undone a CREATE or ALTER
            return result

    def _mark_savepoint(self, action: str, name: str) -> None:
        """Follow SQLite's savepoint stack; ROLLBACK TO forgets what it undid.

        A prune or erase rolled back must not have its digests recorded, and rows changed
        then must not count as versions (``total_changes`` never goes down).
        """
        if action == "SAVEPOINT":
            self._savepoints.append((name, self._mark()))
            return
        names = [entry[0] for entry in self._savepoints]
        if name not in names:
            return
        depth = len(names) - 1 - names[::-1].index(name)
        mark = self._savepoints[depth][1]
        if action == "RELEASE":
            del self._savepoints[depth:]
            return
        del self._savepoints[depth + 1 :]
        self._undo_to(mark)

    def _mark(self) -> _Mark:
        """What the open transaction has done so far (see :meth:`_undo_to`)."""
        changes = self._backend.total_changes()
        return _Mark(len(self._amendments), len(self._kinds), self._rows_written, changes)

    def _undo_to(self, mark: _Mark) -> None:
        """Forget what the transaction did after ``mark``, which SQLite has just undone."""
        del self._amendments[mark.amendments :]
        del self._kinds[mark.kinds :]
        self._rows_written = mark.rows_written
        self._changes_at_alloc += self._backend.total_changes() - mark.changes

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """Make a write of several steps all or nothing inside an explicit transaction.

        SQLite undoes one failed statement and keeps the transaction open; DDL, a table
        created for an INSERT, executemany and executescript are several statements, so a
        savepoint around them undoes all their steps (and what ChronoDB noted of them) when
        one fails. Outside a transaction the write runs in one of its own, rolled back whole.
        """
        if not self._explicit:
            yield
            return
        if not self.read_only:
            self._ensure_tx()  # the transaction's record stays outside the savepoint
        mark, depth, had_ddl = self._mark(), len(self._savepoints), self._tx_has_ddl
        conn = self._conn
        conn.execute(f"SAVEPOINT {ATOMIC}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # a statement's ON CONFLICT ROLLBACK ends it all
                conn.execute(f"ROLLBACK TO {ATOMIC}")
                conn.execute(f"RELEASE {ATOMIC}")
            del self._savepoints[depth:]
            self._undo_to(mark)
            self._tx_has_ddl = had_ddl
            self._refresh_catalog()  # the catalog of a CREATE or ALTER just undone
            raise
        conn.execute(f"RELEASE {ATOMIC}")

    def _vacuum(self, sql: str, params: Params) -> Result:
        """VACUUM, unless it could give rows of a rowid-keyed table another row's history.

        VACUUM INTO is routed as a plain statement: it writes a copy and keeps rowids
        (tests/chronodb/versioning/test_vacuum.py holds SQLite to that).
        """
        with self._lock:
            self._refresh_catalog()
            at_risk = renumbered_tables(self._conn, self._catalog)
            if at_risk:
                raise SQLError(
                    f"VACUUM refused: it may give new rowids to the rows of "
                    f"{', '.join(repr(t) for t in at_risk)} (no INTEGER PRIMARY KEY, and "
                    "rowids no longer run 1 to n), whose history is kept by rowid. "
                    "Give such a table an INTEGER PRIMARY KEY to make its rows' identity stable",
                    sql=sql,
                )
            return Result(self._conn.execute(sql, () if params is None else params))

    def _route(self, sql: str) -> Route:
        if not isinstance(sql, str):
            raise SQLError(f"SQL must be a string, not {type(sql).__name__}")
        route = classify(sql)
        if route in (Route.TEMPORAL, Route.TEMPORAL_WRITE) and not self.time_travel:
            from chronodb.errors import TemporalError

            raise TemporalError("Time travel is disabled (features.time_travel.enabled: false)")
        if len(self._routes) > _ROUTE_CACHE_LIMIT:
            self._routes.clear()
        self._routes[sql] = route
        return route

    def _run_write(self, sql: str, params: Params) -> Result:
        try:
            return Result(self._conn.execute(sql, () if params is None else params))
        except sqlite3.OperationalError as err:
            missing = missing_table(err)
            if missing:
                self._refresh_catalog()
            if missing and self.auto_create_tables:
                # The table is created and the INSERT run again as one step: if the INSERT
                # fails, no table is left behind in an open transaction either.
                with self._atomic():
                    if ddl_mod.create_from_insert(self, sql, params):
                        return Result(self._conn.execute(sql, () if params is None else params))
            raise

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> Result:
        """Run one write statement for each parameter set, in one transaction: all or
        nothing (inside an open transaction, a failure undoes every parameter set's write
        and leaves the transaction open)."""
        route = self._routes.get(sql) or self._route(sql)
        if route not in (Route.WRITE, Route.READ):
            with self._whole():
                rows: list[Result] = [self.execute(sql, p) for p in seq_of_params]
            return rows[-1] if rows else Result(None)
        try:
            with self._lock, self._atomic():
                return self._write(
                    lambda: Result(self._conn.executemany(sql, seq_of_params)), sql=sql
                )
        except sqlite3.Error as err:
            self._note_abort(err)
            raise translate(err, sql) from err

    def executescript(self, script: str) -> None:
        """Run several statements separated by semicolons, each through :meth:`execute`.

        Unlike sqlite3's, the script is all or nothing: its statements run in one
        transaction (inside an open transaction, a failure undoes the whole script and
        leaves the transaction open). A script that controls transactions itself (BEGIN,
        COMMIT, ROLLBACK) or runs VACUUM runs statement by statement, as it says.
        """
        try:
            statements = [s for s in sqlite3_split(script) if s.strip()]
        except ValueError as err:
            raise SQLError(str(err)) from err
        own = (Route.BEGIN, Route.COMMIT, Route.ROLLBACK, Route.VACUUM)
        if any((self._routes.get(s) or self._route(s)) in own for s in statements):
            for statement in statements:
                self.execute(statement)
            return
        with self._whole():
            for statement in statements:
                self.execute(statement)

    @contextmanager
    def _whole(self) -> Iterator[None]:
        """Run a batch of statements as one: in a transaction of its own, or atomically
        inside the open one."""
        with self._lock:
            if self._explicit:
                with self._atomic():
                    yield
                return
            with self.transaction():
                yield

    # ------------------------------------------------------------------ temporal
    def _refresh_catalog(self) -> bool:
        """Reload the catalog if any connection, in any process, changed the schema since.

        Returns whether it did.
        """
        self._backend.compiled = False
        if self._backend.schema_cookie() == self._catalog.schema_cookie:
            return False
        self._reload_catalog()
        return True

    def _temporal_read(self, sql: str, params: Params) -> sqlite3.Cursor:
        """Run a temporal query, checking the schema only when SQLite compiled something.

        Another process's DDL makes SQLite recompile our cached statements (see
        ``SQLiteBackend._on_compile``); a statement compiled from a stale catalog is run again.
        """
        if self._backend.compiled:
            self._refresh_catalog()
        final, bound = self._bind_current(sql, params)
        try:
            cursor = self._conn.execute(final, bound)
        except sqlite3.OperationalError:
            if not self._refresh_catalog():
                raise
            final, bound = self._bind_current(sql, params)
            return self._conn.execute(final, bound)
        if self._backend.compiled and self._refresh_catalog():
            final, bound = self._bind_current(sql, params)
            cursor = self._conn.execute(final, bound)
        return cursor

    def _bind(self, sql: str, params: Params) -> tuple[str, Any]:
        """The SQL and parameters for a temporal statement, after checking the schema."""
        self._refresh_catalog()
        return self._bind_current(sql, params)

    def _bind_current(self, sql: str, params: Params) -> tuple[str, Any]:
        """The SQL and parameters for a temporal statement, trusting the loaded catalog."""
        planned = self._plans.get(sql)
        if planned is None:
            explain = _EXPLAIN.match(sql)
            if explain is not None:
                # EXPLAIN [QUERY PLAN] of a temporal statement: plan the statement (blanked
                # prefix, so error positions stay those of the text given), explain the rewrite.
                head = explain.group(0)
                final, bound = self._bind_current(" " * len(head) + sql[len(head) :], params)
                return head + final.lstrip(), bound
            planned = temporal.plan(sql, self._catalog)
            self._plans[sql] = planned
        return temporal.bind(planned, params, self._catalog, self._evaluate)

    def _point_values(self, sql: str, params: Params) -> tuple[temporal.Plan, list[int]] | None:
        """The plan of temporal ``sql`` and its points for ``params``, if it was planned."""
        planned = self._plans.get(sql)
        if planned is None:
            return None
        try:
            return planned, temporal.point_values(planned, params, self._evaluate)
        except (ChronoDBError, sqlite3.Error):
            return None

    def _note_empty(self, result: Result, sql: str, params: Params) -> None:
        """Warn, and note on ``result``, when a point alone makes a read empty."""
        found = self._point_values(sql, params)
        if found is None:
            return
        result.notes = pointnotes.empty_notes(*found, self._catalog)
        for note in result.notes:
            notes.warn(note)

    def _point_error(self, error: ChronoDBError, sql: str, params: Params) -> ChronoDBError:
        """``error``, naming the point and the column's arrival if the point lacked it."""
        found = self._point_values(sql, params)
        if found is None:
            return error
        return pointnotes.column_error(error, *found, self._catalog)

    def _evaluate(self, expression: str) -> Any:
        return self._conn.execute(f"SELECT {expression}").fetchone()[0]

    def _ddl(self, sql: str, params: Params) -> Result:
        return ddl_mod.run_ddl(self, sql, params)

    # ------------------------------------------------------------------ history
    def get_change_history(self, table: str, pk: Any) -> list[dict[str, Any]]:
        """Every version of one row, oldest first: operation, values, before, tx, user, hash."""
        with self._lock:
            self._refresh_catalog()
            entries = history.change_history(self._conn, self._catalog, table, pk)
            for entry in entries:
                entry["tx_hash"] = self.tx_hash(entry["tx_id"])
            return entries

    def changes(self, table: str, start: Any = None, end: Any = None) -> list[dict[str, Any]]:
        """Rows inserted, updated and deleted in ``(start, end]``, with before and after values."""
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

    def _guard(self, force: bool) -> Any:
        """What prune/erase ask before removing versions: do they still match the ledger?"""
        if self._ledger is None or force:
            return None
        return lambda txs: check_unchanged(self._conn, self._catalog, txs)

    def prune_history(self, older_than: Any, *, force: bool = False) -> int:
        """Forget versions that ended at or before ``older_than``; returns how many went.

        Refuses (AuditError) if a transaction it would amend no longer matches the ledger,
        so that pruning cannot launder tampering; ``force=True`` prunes anyway.
        """

        def run() -> Result:
            self._index_leaves()  # a leaf on a version about to go is kept, indexed
            r = Result(None)
            r.rowcount, touched = history.prune(
                self._conn, self._catalog, older_than, self._guard(force)
            )
            self._amend(touched)
            return r

        with self._lock:
            return self._write(run, ddl=True, kind="PRUNE").rowcount

    def apply_retention(self) -> int:
        """Prune history older than ``retention_days``; returns the number of versions removed."""
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

        def run() -> Result:
            assert self._tx is not None
            self._index_leaves()
            r = Result(None)
            r.rowcount, touched = history.erase(
                self._conn,
                self._catalog,
                table,
                pk,
                self._tx[0],
                self.user,
                reason,
                self._guard(force),
            )
            self._amend(touched)
            return r

        with self._lock:
            return self._write(run, ddl=True, kind="ERASE").rowcount

    def _store_leaves(self, *, merkle: bool = True) -> bool:
        """Index the ledger's pending leaves (and, ``merkle``, store their tree nodes) in a
        write transaction of its own. False if this connection cannot now: read-only, or
        inside a transaction; its ledger then keeps the unindexed leaves in memory."""
        ledger = self._ledger
        assert ledger is not None
        if self.read_only or self._explicit:
            ledger.refresh()
            return False
        with self._lock:
            self._backend.begin()
            try:
                self._refresh_catalog()  # the leaves on tables another process made
                ledger.index()
                if merkle:
                    ledger.catch_up()
                self._backend.commit()
            except BaseException:
                self._backend.rollback()
                raise
        return True

    def _index_leaves(self) -> None:
        """Index the ledger's leaves still on history tails (inside a write transaction)."""
        if self._ledger is not None:
            self._ledger.index()

    def check_history(self, *, quick: bool = False) -> list[str]:
        """Problems where data and history disagree (e.g. after a crash); empty means none.

        Checks that SQLite finds the file's pages and indexes sound (``quick``: pages only,
        several times faster, see :meth:`AuditTrail.verify`), that transaction times strictly
        increase, that every version names an existing transaction, and that each table's rows
        equal its rows AS OF the latest transaction. Damage is reported, never raised.
        """
        # One snapshot: another process committing between the checks' queries must not make
        # the table and its history look apart.
        with self._lock, self._snapshot():
            try:
                self._refresh_catalog()
            except (sqlite3.DatabaseError, ChronoDBError) as err:
                return [f"the file is damaged: the catalog cannot be read: {err}"]
            return integrity.check_history(self._conn, self._catalog, quick=quick)

    def _amend(self, touched: set[tuple[int, int]]) -> None:
        """Record the new digests of earlier transactions whose versions were just removed."""
        if self._ledger is None:
            return
        by_tx: dict[int, set[int]] = {}
        for tx_id, table_id in touched:
            by_tx.setdefault(tx_id, set()).add(table_id)
        for tx_id in sorted(by_tx):
            now = {t: (n, d) for t, n, d in table_digests(self._conn, self._catalog, tx_id)}
            for table_id in sorted(by_tx[tx_id]):
                versions, digest = now.get(table_id, (0, EMPTY_DIGEST))
                self._amendments.append(Amendment(tx_id, table_id, versions, digest))

    # ------------------------------------------------------------------ audit
    def tx_hash(self, tx_id: int) -> str | None:
        """The ledger hash (hex) of a committed transaction, or None."""
        if isinstance(tx_id, bool) or not isinstance(tx_id, int):
            raise ChronoDBError(f"A transaction id is an integer; got {tx_id!r}")
        if self._ledger is None:
            return None
        with self._lock:
            digest = self._ledger.hash_of(tx_id)
        return digest.hex() if digest is not None else None

    def verify_audit_integrity(self) -> bool:
        """Recompute every digest from the stored rows; False if anything was changed."""
        return self.audit_trail.verify().ok

    # ------------------------------------------------------------------ introspection
    def tables(self, as_of: Any = None) -> list[str]:
        """Names of the versioned tables that exist now, or AS OF ``as_of`` (a transaction
        id, or a time)."""
        with self._lock:
            self._refresh_catalog()
            return introspect.tables(self._catalog, as_of)

    def transactions(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Committed write transactions, newest first: id, time and user; ``limit``: at
        most that many. The transaction that adopted the file's tables (versioned the rows
        other tools wrote) also says so: ``"kind": "adopt"`` and ``"tables"``, how many."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ChronoDBError(f"limit is a whole number, 0 or more; got {limit!r}")
        with self._lock:
            rows = timeline.transactions(self._conn, limit)
            adopted = adoption.recorded(self._conn)
        found = [{"tx_id": r[0], "tx_time": from_micros(r[1]), "user": r[2]} for r in rows]
        for entry in found:
            if entry["tx_id"] in adopted:
                entry.update(kind="adopt", tables=len(adopted[entry["tx_id"]]))
        return found

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called; every other method then raises ClosedError."""
        return self._closed

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying sqlite3 connection, for reads. A write made through it bypasses
        ChronoDB's transactions: its versions are filed under this connection's last one."""
        _refuse_closed(self)
        return self._conn

    def get_health_report(self) -> dict[str, Any]:
        """Status, latency, sizes, alerts and recommendations backed by numbers."""
        from chronodb.optimizer.health import health_report

        return health_report(self)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self._closed:
            return
        if self._explicit:
            self._rollback()
        if self._ledger is not None and not self.read_only:
            # A file at rest has its leaves indexed (readers manage without, though).
            with contextlib.suppress(sqlite3.Error, ChronoDBError):
                self._store_leaves(merkle=False)
        self._backend.close()
        self._closed = True

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
        with self._lock:
            self._refresh_catalog()
            return introspect.columns(self._conn, self._catalog, table, as_of)

    def foreign_keys(self, table: str) -> list[introspect.ForeignKey]:
        """``table``'s foreign keys, in the order they are declared."""
        with self._lock:
            self._refresh_catalog()
            return introspect.foreign_keys(self._conn, self._catalog, table)

    def views(self) -> list[introspect.View]:
        """The views, with their CREATE VIEW statements, sorted by name."""
        with self._lock:
            return introspect.views(self._conn)


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
