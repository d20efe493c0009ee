"""The engine on PostgreSQL: statements, transactions and the catalog over one connection.

It offers the calls of :class:`chronodb.engine.Engine` that the facade uses (``execute``,
``route``, ``begin``/``commit``/``rollback``, ``transaction``, ``whole``, ``write_many``,
``lock``, ``explicit``, ``closed``). What differs from SQLite: the database versions rows
itself (PL/pgSQL triggers, ``chronodb/postgres``), and a write transaction gets its id when
it commits, so a Result learns ``tx_id``/``tx_time`` after COMMIT, by the transaction's
xid; inside an explicit transaction they are None, and its COMMIT reads them back into
``last_commit``. Inside an explicit transaction each
statement runs in a savepoint, so that a failed statement undoes itself and leaves the
transaction open, as on SQLite.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from chronodb import notes
from chronodb.audit.proofs import leaf_hash
from chronodb.engine.common import Committed, Common
from chronodb.engine.sealing import statement_kind
from chronodb.errors import (
    ChronoDBError,
    ClosedError,
    ReadOnlyError,
    SchemaError,
    SQLError,
    TransactionError,
)
from chronodb.layout import TRANSACTIONS
from chronodb.pgengine import sources, temporal
from chronodb.postgres import (
    Versioned,
    alter,
    bounds,
    horizon,
    lookup,
    outside,
    shapes,
    version_table,
)
from chronodb.postgres import views as pg_views
from chronodb.postgres.create import create_table_sql
from chronodb.postgres.install import qualified
from chronodb.postgres.names import (
    DDL_COUNT,
    HORIZON_FUNCTION,
    LAST_XID_SETTING,
    PREFIX,
    READ_HORIZON_FUNCTION,
    SHAPES,
)
from chronodb.postgres.rows import one
from chronodb.postgres.tables import exists
from chronodb.result import Result
from chronodb.sql import autocreate
from chronodb.sql.classify import Route, code_of
from chronodb.sql.paramstyle import for_psycopg, several_statements
from chronodb.sql.temporal import Uncomputable
from chronodb.storage.postgres import PostgresBackend
from chronodb.timepoint import from_micros
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.views import ViewHistory

if TYPE_CHECKING:
    from chronodb.audit.verified import Verification

Params = Sequence[Any] | Mapping[str, Any] | None
BACKEND = "PostgreSQL"
_CREATE_TABLE = re.compile(
    r"(?:\s|--[^\n]*|/\*.*?\*/)*CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(TEMP|TEMPORARY|UNLOGGED)?\s*"
    r"TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?",
    re.I | re.S,
)
_PART = r'(?:"(?:[^"]|"")+"|[^\s."(]+)'
_NAME = re.compile(rf"({_PART})(?:\s*\.\s*({_PART}))?")
_SCHEMA_CHANGE = re.compile(r"\s*(ALTER|DROP)\s+TABLE\b", re.I)
_ONE_SNAPSHOT = re.compile(r"\b(?:REPEATABLE\s+READ|SERIALIZABLE)\b", re.I)


def _unquote(name: str) -> str:
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


_STALE_SHAPES = (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable)
"""What a statement rendered from shapes another client has since changed fails with."""


class PostgresEngine(Common):
    """One PostgreSQL database's engine; see the module's docstring."""

    def __init__(
        self,
        backend: PostgresBackend,
        *,
        path: str,
        user: str,
        read_only: bool = False,
        auto_create_tables: bool = True,
        time_travel: bool = True,
        adopt: bool = True,
        **ignored: Any,
    ) -> None:
        self.backend = backend
        self.conn = backend.conn
        self.path = path
        self.user = user
        self.read_only = read_only
        self.auto_create_tables = auto_create_tables
        self.time_travel = time_travel
        self.lock = threading.RLock()
        self.routes: dict[str, Route] = {}
        self.plans: dict[str, temporal.Plan] = {}
        self.rendered: dict[tuple[str, tuple[temporal.Source, ...]], str] = {}
        self.tables: dict[str, Versioned] = {}
        self._shapes: Catalog | None = None  # every table's shapes over time, once read
        self._views: ViewHistory | None = None  # every view's definitions, once read
        self._generation: str | None = None  # of the shapes, when they were last looked at
        self.schema_changes = 0
        """Moves with every statement this engine ran that may change the schema or plans
        (DDL, CREATE/DROP INDEX and the other plain statements, a ROLLBACK) and every change
        by others it noticed: the optimizer's schema cookie without a round trip."""
        self._horizon_sql = ""
        self.horizon_inside = False
        """Whether statements may take their horizon inside them (``postgres/bounds.py``)."""
        self.settled = 0
        """The last horizon taken before a statement: a statement's own is not below it."""
        self.explicit = False
        self.last_commit: Committed | None = None
        self._tx_horizon: int | None = None  # the open transaction's, if it has one snapshot
        self.closed = False
        self.ledger = None
        self.last_verification: Verification | None = None  # this connection's (verified.py)
        self._adopt = adopt
        self._commit_and_read = (
            f"SELECT set_config('{LAST_XID_SETTING}', "
            "coalesce(pg_current_xact_id_if_assigned()::text, ''), false); COMMIT; "
            f"SELECT tx_id, tx_time, leaf FROM {qualified(backend.schema, TRANSACTIONS)} "
            f"WHERE xid = nullif(current_setting('{LAST_XID_SETTING}'), '')::xid8"
        )

    # ------------------------------------------------------------------ opening
    def open(self) -> None:
        """Install ChronoDB's objects, adopt the schema's tables, load the catalog."""
        self.backend.prepare(adopt=self._adopt)
        self.forget()
        schema = self.backend.schema
        # The shapes' and views' generation: a new one adds a row, an ended one sets its
        # to_xid; and the count of ALTER and DROP TABLE statements run by anyone.
        shaped, counted, inside = one(
            self.conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, "
                "to_regproc(%s) IS NOT NULL",
                (
                    qualified(schema, SHAPES),
                    qualified(schema, DDL_COUNT),
                    qualified(schema, READ_HORIZON_FUNCTION),
                ),
            )
        )
        # Without shapes: an older layout opened read-only, no shapes recorded; without the
        # count or the function taking the horizon inside a statement, an older one too.
        # That function needs READ COMMITTED, and a primary (a standby's horizon is its
        # replayed records', install.horizon).
        generation = bounds.generation_sql(schema, counted=counted) if shaped else "''"
        self.horizon_inside = (
            shaped and counted and inside and not self.backend.one_snapshot
        ) and not self.backend.standby
        self._horizon_sql = f"SELECT {qualified(schema, HORIZON_FUNCTION)}(), {generation}"
        self.follow_outside()

    def horizon(self) -> int:
        """The id bounding every point the next statement reads, taken before its snapshot:
        now (READ COMMITTED), or before the open transaction's first statement when the
        transaction reads one snapshot (see begin), so that all its reads, AS OF and the
        history calls alike, agree on which transactions exist.

        Taken afresh (``chronodb.postgres.horizon``), it comes with a look at the shapes'
        generation: if another transaction changed the versioned tables since the last
        look, what is cached of them is dropped."""
        if self.explicit and self._tx_horizon is not None:
            return self._tx_horizon
        row = one(self.conn.execute(self._horizon_sql))
        self.settled = max(self.settled, int(row[0]))
        if row[1] != self._generation:
            self.forget()
            self._generation = row[1]
            if self.follow_outside():  # it committed a transaction: take the horizon anew
                return self.horizon()
        return int(row[0])

    def follow_outside(self) -> bool:
        """Follow the schema changes made outside ChronoDB (``postgres/outside.py``) in a
        transaction of their own (a savepoint of the open one); whether there were any.
        A change ChronoDB cannot follow (of a key) is named in a ChronoDBWarning."""
        if self.read_only:
            return False
        conn, schema = self.conn, self.backend.schema
        if not outside.stale(conn, schema):
            return False

        def run() -> Result:
            if outside.follow(conn, schema):  # else another process followed first
                pg_views.record(conn, schema)
                shapes.queue(conn, schema, "ALTER")
            return Result(None)

        self.forget()
        try:
            if self.backend.in_transaction:
                with conn.transaction():
                    run()
            else:
                self.run_write(run)
        except SchemaError as err:
            notes.warn(f"{err}; ChronoDB does not follow this change made outside it")
            return False
        except psycopg.errors.ReadOnlySqlTransaction:
            return False  # a read-only transaction: followed by the next one that may write
        finally:
            self.forget()
        return True

    def forget(self) -> None:
        """Drop what is cached of the schema (after DDL, or a transaction that may have
        run some)."""
        self.schema_changes += 1
        self.tables.clear()
        self.rendered.clear()
        self._shapes = None
        self._views = None

    def shapes(self) -> Catalog:
        """Every versioned table's shapes over time (``chronodb/postgres/shapes.py``),
        read once, then cached until DDL or the end of a transaction."""
        if self._shapes is None:
            self._shapes = (
                shapes.load(self.conn, self.backend.schema)
                if self._generation != ""
                else Catalog.of([])
            )
        return self._shapes

    def views(self) -> ViewHistory:
        """Every view's definitions over time (``chronodb/postgres/views.py``), cached as
        :meth:`shapes` is."""
        if self._views is None:
            self._views = (
                pg_views.load(self.conn, self.backend.schema)
                if self._generation != ""
                else ViewHistory.of([], {})
            )
        return self._views

    def versioned(self, name: str) -> Versioned | None:
        """The versioned table ``name`` (looked up once, then cached until DDL)."""
        found = self.tables.get(name)
        if found is None:
            found = lookup(self.conn, name, self.backend.schema)
            if found is not None:
                self.tables[name] = found
        return found

    # ------------------------------------------------------------------ statements
    def execute(self, sql: str, params: Params = None) -> Result:
        """Run one statement by its route; psycopg's errors leave as ChronoDBErrors."""
        if self.closed:
            raise ClosedError(self.path)
        route = self.route(sql)
        try:
            with self.lock:
                if self.conn.closed:
                    self.reconnect()
                if route is Route.READ:
                    return self._statement(lambda: self._run(sql, params))
                if route is Route.PLAIN or route is Route.VACUUM:
                    self.schema_changes += 1  # CREATE INDEX, DO, ANALYZE: plans may change
                    return self._statement(lambda: self._run(sql, params))
                if route is Route.WRITE:
                    return self._write(sql, params)
                if route is Route.TEMPORAL:
                    return self._past(self._statement, sql, params, read=True)
                if route is Route.TEMPORAL_WRITE:
                    return self._past(self.run_write, sql, params)
                if route is Route.DDL:
                    return self.run_write(lambda: self._ddl(sql, params))
                if route is Route.BEGIN:
                    self.begin(sql)
                elif route is Route.COMMIT:
                    self.commit()
                elif route is Route.ROLLBACK:
                    self.rollback()
                else:  # SAVEPOINT, RELEASE, ROLLBACK TO
                    if not self.explicit:
                        raise TransactionError(
                            f"{sql.strip()[:60]!r}: savepoints work inside a transaction; run "
                            "BEGIN (or use db.transaction()) first"
                        )
                    self.conn.execute(sql)
                return Result(None)
        except psycopg.Error as err:
            if self.conn.closed:
                self.lost()
            error = self.backend.translate(err, sql)
            if route is Route.TEMPORAL or route is Route.TEMPORAL_WRITE:
                error = self._column_error(sql, params, error)
            raise error from err

    def _column_error(self, sql: str, params: Params, error: ChronoDBError) -> ChronoDBError:
        """``error`` saying when a column was added, if a past point lacks it (read after
        the failed statement was undone)."""
        if getattr(error, "column", None) is None or self.conn.closed:
            return error
        text, bound = for_psycopg(sql, params)
        planned = self.plans.get(text)
        if planned is None:
            return error
        try:
            values = temporal.bind(
                planned, bound, horizon(self.conn, self.backend.schema), self._evaluate
            )
            return sources.column_error(self, planned, values, error)
        except (psycopg.Error, ChronoDBError):
            return error

    @contextmanager
    def translating(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, under the lock, for a call other than ``execute`` (history, the
        ledger): connected again if it dropped; psycopg's errors in the ``with`` body leave
        as ChronoDBErrors naming the server."""
        with self.lock:
            if self.conn.closed:
                self.reconnect()
            try:
                yield self.conn
            except psycopg.Error as err:
                if self.conn.closed:
                    self.lost()
                raise self.backend.translate(err) from err

    def lost(self) -> None:
        """The connection dropped: the server undid the open transaction, so it ends here."""
        if self.explicit:
            self.explicit = False
            self.lock.release()

    def reconnect(self) -> None:
        """Connect again after the connection dropped."""
        self.lost()
        self.conn = self.backend.reconnect()

    def _run(self, sql: str, params: Params) -> Result:
        if params is None and several_statements(sql):
            # psycopg's simple query protocol would run them all; sqlite3 refuses, and so
            # does ChronoDB on both backends (executescript runs several).
            raise SQLError("You can only execute one statement at a time.", sql=sql)
        text, bound = for_psycopg(sql, params)
        return _result(self.conn.execute(text, bound))

    def _write(self, sql: str, params: Params) -> Result:
        """A write; an INSERT into a table that does not exist creates it first, in its
        transaction (``auto_create_tables``), as on SQLite."""
        try:
            return self.run_write(lambda: self._run(sql, params))
        except psycopg.errors.UndefinedTable:
            create = self._creation(sql, params)
            if create is None:
                raise
        except psycopg.errors.UndefinedColumn as err:
            # A history trigger naming a column renamed or dropped outside ChronoDB: follow
            # the change, and the write works.
            if PREFIX not in (err.diag.context or "") or not self.follow_outside():
                raise
            return self.run_write(lambda: self._run(sql, params))
        return self.run_write(lambda: self._create_then_run(create, sql, params))

    def _creation(self, sql: str, params: Params) -> str | None:
        """The CREATE TABLE asked for by ``sql`` if it is an INSERT into a missing table and
        tables are created so; else None. (The failed attempt has been undone.)"""
        if not self.auto_create_tables:
            return None
        text, bound = for_psycopg(sql, params)
        parsed = temporal.unescaped(text) if bound is not None else text
        new = autocreate.from_insert(parsed, bound, "postgresql")
        schema = self.backend.schema
        if new is None or exists(self.conn, new.name, new.schema or schema):
            return None  # the missing table is another one the statement reads
        return create_table_sql(new, schema)

    def _create_then_run(self, create: str, sql: str, params: Params) -> Result:
        """Create a table, then run the INSERT that asked for it: one INSERT transaction,
        as on SQLite, whose ledger kinds name the INSERT alone."""
        self._ddl(create, None, noted=False)
        try:
            return self._run(sql, params)
        except BaseException:
            self.forget()  # the table, undone with the statement
            raise

    def _past(
        self,
        run: Callable[[Callable[[], Result]], Result],
        sql: str,
        params: Params,
        read: bool = False,
    ) -> Result:
        """A temporal statement, run by ``run`` (on its own or as a write): with its
        horizon taken inside it where it can be, else, or if that one could not bound the
        statement's snapshot (``bounds.RACED``), with a horizon taken before it. So does a
        statement naming a column or table the cached shapes have and the database no
        longer has (changed outside ChronoDB): the horizon taken before it follows them."""
        if self.horizon_inside and not (self.explicit and self._tx_horizon is not None):
            try:
                return run(lambda: self._temporal(sql, params, read, inside=True))
            except psycopg.Error as err:
                if not bounds.raced(err) and not isinstance(err, _STALE_SHAPES):
                    raise
        return run(lambda: self._temporal(sql, params, read))

    def _temporal(
        self, sql: str, params: Params, read: bool = False, inside: bool = False
    ) -> Result:
        """A temporal statement (``inside``: its horizon taken inside it if its points
        allow); a ``read`` that a point alone made empty says so (a note on the Result, a
        ChronoDBWarning), as on SQLite."""
        planned, final, values = self._bound(sql, params, inside)
        result = _result(self.conn.execute(final, values))
        if read and not result.rows:  # only an empty answer can be the point's fault
            result.notes = sources.empty_notes(self, planned, values)
            for note in result.notes:
                notes.warn(note)
        return result

    def bind_current(self, sql: str, params: Params) -> tuple[str, dict[str, Any]]:
        """The SQL and parameters the server runs for a temporal statement, now."""
        _, final, values = self._bound(sql, params)
        return final, values

    def _bound(
        self, sql: str, params: Params, inside: bool = False
    ) -> tuple[temporal.Plan, str, dict[str, Any]]:
        text, bound = for_psycopg(sql, params)
        planned = self.plans.get(text)
        if planned is None:
            planned = self.plans[text] = temporal.plan(text, escaped=bound is not None)
        final = None
        if inside and self._generation is not None:
            values = temporal.bind(planned, bound, None, self._evaluate, self._generation)
            with contextlib.suppress(temporal.HorizonNeeded):
                final = self._rendered(text, planned, values)
        if final is None:
            values = temporal.bind(planned, bound, self.horizon(), self._evaluate)
            final = self._rendered(text, planned, values)
        return planned, final, values

    def _rendered(self, text: str, planned: temporal.Plan, values: dict[str, Any]) -> str:
        """The SQL of statement ``text`` for what its temporal tables read at the points in
        ``values`` (``sources.source``), rendered once per statement and sources."""
        read = tuple(sources.source(self, planned, i, values) for i in range(len(planned.slots)))
        final = self.rendered.get((text, read))
        if final is None:
            final = self.rendered[text, read] = temporal.render(
                planned,
                read.__getitem__,
                writer=not self.read_only,
                inside=self.horizon_inside,
            )
        return final

    def _evaluate(self, expression: str) -> Any:
        """A point's expression (PostgreSQL's SQL, without columns or parameters), computed
        by the server in the statement's transaction; its numbers as SQLite gives them (an
        int, or a float), so that a point reads the same on both."""
        try:
            value = one(self.conn.execute(f"SELECT {expression}"))[0]
        except psycopg.errors.DataError as err:
            raise Uncomputable(err.diag.message_primary or str(err)) from None
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    def view_plan(self, sql: str, unit: str, kind: str, points: Sequence[str]) -> temporal.Plan:
        """The plan of a view's query ``sql`` read under the temporal clause ``kind`` of the
        point parameters ``points`` (``temporal.view_at``), cached as statements' plans are."""
        text = temporal.view_at(sql, unit, kind, points)
        planned = self.plans.get(text)
        if planned is None:
            planned = self.plans[text] = temporal.plan(text)
        return planned

    def _ddl(self, sql: str, params: Params, *, noted: bool = True) -> Result:
        """A DDL statement in the writing transaction, which gets an id as on SQLite: a
        CREATE TABLE versions the new table; an ALTER or DROP TABLE is followed by the
        versioned tables' shapes, history and triggers (``chronodb/postgres/alter.py``).
        ``noted``: its kind joins the transaction's kinds in the ledger."""
        schema = self.backend.schema
        changes = _SCHEMA_CHANGE.match(code_of(sql))
        if changes is not None:
            self.follow_outside()  # what others changed before, in a savepoint of its own
        tables = alter.before(self.conn, schema) if changes is not None else []
        self.forget()
        result = self._run(sql, params)
        alter.follow(self.conn, schema, tables)
        created = _CREATE_TABLE.match(sql)
        named = _NAME.match(sql, created.end()) if created is not None else None
        if created is not None and created.group(1) is None and named is not None:
            first, second = named.groups()
            qualifier = _unquote(first) if second is not None else schema
            name = _unquote(second if second is not None else first)
            self.tables[name] = version_table(self.conn, name, qualifier)
        pg_views.record(self.conn, schema)
        shapes.queue(self.conn, schema, statement_kind(sql) if noted else None)
        return result

    # ------------------------------------------------------------------ writes
    def _statement(self, run: Callable[[], Result]) -> Result:
        """One statement: in a savepoint inside an explicit transaction (a failure undoes
        only it), else on its own."""
        if not self.explicit:
            return run()
        with self.conn.transaction():
            return run()

    def run_write(self, run: Callable[[], Result], **ignored: Any) -> Result:
        """Run a write in the open transaction, or in one of its own whose id and time,
        given at COMMIT, are set on the Result."""
        with self.lock:
            if self.read_only:
                raise ReadOnlyError(self._read_only_reason())
            if self.explicit:
                return self._statement(run)
            self.backend.set_user(self.user)
            self.conn.execute("BEGIN")
            try:
                result = run()
                made = self._commit_and_read_back()
            except BaseException:
                self._undo_after_failure()
                self.forget()
                raise
            if made is not None:
                result.tx_id, result.tx_time = made.tx_id, made.tx_time
                result.tx_hash = made.tx_hash
            return result

    def _read_only_reason(self) -> str:
        if self.backend.standby:
            return (
                f"This database was opened read-only: {self.backend.server.where} is a "
                "standby; write to its primary"
            )
        return "This database was opened read-only"

    def _commit_and_read_back(self) -> Committed | None:
        """COMMIT the open transaction and read the id, time and leaf COMMIT gave it, in one
        round trip (note the xid, COMMIT, look the xid up); None if it wrote nothing."""
        cursor = self.conn.execute(self._commit_and_read)
        cursor.nextset()
        cursor.nextset()
        row = cursor.fetchone()
        if row is None:
            return None
        tx_hash = None if row[2] is None else leaf_hash(bytes(row[2])).hex()
        return Committed(row[0], from_micros(row[1]), tx_hash)

    def _undo_after_failure(self) -> None:
        """After a failed statement or COMMIT: roll back what is still open (a transaction
        in error refuses the rest of the COMMIT's round trip and stays open)."""
        if self.backend.in_transaction:
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("ROLLBACK")

    def write_many(self, sql: str, seq_of_params: Iterable[Params]) -> Result:
        """Run one write statement for each parameter set, as one write (all or nothing)."""

        def run() -> Result:
            result = Result(None)
            result.rowcount = 0
            with self.conn.cursor() as cursor:
                for params in seq_of_params:
                    text, bound = for_psycopg(sql, params)
                    cursor.execute(text, bound)
                    result.rowcount += max(cursor.rowcount, 0)
            return result

        try:
            return self.run_write(run)
        except psycopg.Error as err:
            raise self.backend.translate(err, sql) from err

    # ------------------------------------------------------------------ transactions
    def begin(self, statement: str = "BEGIN") -> None:
        """BEGIN (``statement``, e.g. with an isolation level): open an explicit transaction,
        holding the lock until it ends.

        Under REPEATABLE READ or SERIALIZABLE the transaction reads one snapshot, taken at
        its first statement, so every point it reads is bounded by a horizon taken now,
        before that snapshot; under READ COMMITTED each statement takes its own.
        """
        self.lock.acquire()
        if self.explicit:
            self.lock.release()
            raise TransactionError("A transaction is already open; COMMIT or ROLLBACK it first")
        try:
            if not self.read_only:
                self.backend.set_user(self.user)
            snapshot = _ONE_SNAPSHOT.search(statement) or self.backend.one_snapshot
            self._tx_horizon = self.horizon() if snapshot else None
            self._control(statement)
        except BaseException:
            self.lock.release()
            raise
        self.explicit = True

    def commit(self) -> None:
        """COMMIT the explicit transaction; ``last_commit`` then names the transaction it
        made (the id PostgreSQL gives at COMMIT, read back in the same round trip)."""
        with self.lock:
            if not self.explicit:
                raise TransactionError("COMMIT without an open transaction")
            try:
                self.last_commit = self._commit_and_read_back()
            except psycopg.Error as err:
                self._undo_after_failure()
                self.last_commit = None
                raise self.backend.translate(err, "COMMIT") from err
            finally:
                self.explicit = False
                self._shapes = None  # the shapes its DDL made now have their ids
                self.lock.release()

    def rollback(self) -> None:
        """ROLLBACK the explicit transaction."""
        with self.lock:
            if not self.explicit:
                raise TransactionError("ROLLBACK without an open transaction")
            try:
                self._control("ROLLBACK")
            finally:
                self.explicit = False
                self.forget()  # DDL it undid
                self.lock.release()

    def _control(self, statement: str) -> None:
        """Run BEGIN, COMMIT or ROLLBACK; psycopg's errors leave as ChronoDBErrors."""
        try:
            self.conn.execute(statement)
        except psycopg.Error as err:
            raise self.backend.translate(err, statement) from err

    @contextmanager
    def whole(self) -> Iterator[None]:
        """A batch of statements as one: in a transaction of its own, or in a savepoint
        inside the open one."""
        with self.lock:
            if self.explicit:
                with self.conn.transaction():
                    yield
                return
            with self.transaction():
                yield

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Roll back an open transaction and close the connection."""
        if self.closed:
            return
        if self.explicit:
            with contextlib.suppress(psycopg.Error, ChronoDBError):
                self.rollback()
        self.backend.close()
        self.closed = True


def _result(cursor: psycopg.Cursor[Any]) -> Result:
    """A Result from a psycopg cursor (``lastrowid`` is None: PostgreSQL has no rowids;
    ``RETURNING`` gives a new row's key)."""
    description = cursor.description
    return Result.of(description, cursor.fetchall() if description else [], cursor.rowcount)
