"""The write path: every write runs in the open transaction or in one of its own, recorded,
versioned by the triggers, sealed into the ledger and committed."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from chronodb import ddl as ddl_mod
from chronodb.engine.sealing import statement_kind
from chronodb.engine.state import EngineState
from chronodb.errors import ReadOnlyError
from chronodb.result import Result
from chronodb.storage.sqlite_errors import missing_table, translate
from chronodb.timepoint import from_micros

if TYPE_CHECKING:
    from chronodb.engine.core import Engine, Params


class Writes(EngineState):
    """The part of :class:`~chronodb.engine.Engine` that runs writes."""

    def run_write(
        self,
        run: Callable[[], Result],
        *,
        ddl: bool = False,
        kind: str | None = None,
        sql: str | None = None,
    ) -> Result:
        """Run a write inside the open transaction, or in one of its own.

        ``run`` does the writing and returns its Result, on which the transaction's id,
        time and hash are set. ``ddl``: it changes the schema (the catalog is checked first
        and reloaded after a failure). ``sql``: the statement; its first keyword is the
        ledger's ``kind`` unless one is given, and the table it writes a hint for the
        ledger's seal. Every autocommit write runs this, so without the ledger it skips
        what only the ledger reads.
        """
        ledger = self.ledger
        # Check for an open transaction under the lock: another thread's is not ours to join.
        with self.lock:
            if ledger is not None:
                kind = kind or statement_kind(sql or "")
                if kind not in self._kinds:
                    self._kinds.append(kind)
            if self.explicit:
                return self._write_in_transaction(run, ddl, sql)
            if self.read_only:
                raise ReadOnlyError("This database was opened read-only")
            backend = self.backend
            backend.begin(single=True)
            try:
                tx = self._allocate()
                if ledger is not None:
                    self._note_target(sql, ddl)
                self.tx_has_ddl = ddl
                if ddl:
                    self.refresh_catalog()
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
                    self.reload_catalog()
                raise
            finally:
                self.open_tx = None
                if ledger is not None:
                    self._kinds = []
                    self._amendments = []
        return result

    def _write_alone(self, sql: str, params: Params) -> Result:
        """A plain write statement outside a transaction: the commonest write.

        It runs in one call of the backend (:meth:`SQLiteBackend.write_alone`), not step by
        step through :meth:`run_write` and the transaction state it keeps for longer
        transactions. In an explicit transaction that already has its id (the commonest
        write of a batch) it does here only what :meth:`_write_in_transaction` would do for
        it. Otherwise (a transaction's first write, read-only, a table still to be created)
        it takes :meth:`run_write`'s way.
        """
        with self.lock:
            if self.explicit:
                tx = self.open_tx
                if tx is not None and self._aborted is None:
                    try:
                        result = Result(self.conn.execute(sql, () if params is None else params))
                    except sqlite3.OperationalError as err:
                        if not missing_table(err):
                            raise
                        return self.run_write(lambda: self._run_write(sql, params), sql=sql)
                    if self.ledger is not None:
                        self._note_statement(sql)
                    rowcount = result.rowcount
                    if rowcount > 0:
                        self._rows_written += rowcount
                    result.tx_id, result.tx_time = tx[0], from_micros(tx[1])
                    return result
            elif not self.read_only:
                seal = None if self.ledger is None else self._sealer(sql)
                try:
                    result, tx, tx_hash = self.backend.write_alone(
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
                        if isinstance(tx_hash, bytes):  # the leaf (see Sealing._sealer)
                            result.sealed(tx_hash)
                        else:
                            result.tx_hash = tx_hash
                    return result
            return self.run_write(lambda: self._run_write(sql, params), sql=sql)

    def _write_in_transaction(
        self, run: Callable[[], Result], ddl: bool, sql: str | None
    ) -> Result:
        self._refuse_if_aborted()
        tx = self._ensure_tx()
        self._note_target(sql, ddl)
        if ddl:
            with self.atomic():
                self.tx_has_ddl = True
                self.refresh_catalog()
                result = run()
        else:
            result = run()
        if not ddl:
            self._rows_written += max(result.rowcount, 0)
        result.tx_id, result.tx_time = tx[0], from_micros(tx[1])
        return result

    def _run_write(self, sql: str, params: Params) -> Result:
        try:
            return Result(self.conn.execute(sql, () if params is None else params))
        except sqlite3.OperationalError as err:
            missing = missing_table(err)
            if missing:
                self.refresh_catalog()
            if missing and self.auto_create_tables:
                # The table is created and the INSERT run again as one step: if the INSERT
                # fails, no table is left behind in an open transaction either.
                with self.atomic():
                    # Writes is only ever a part of Engine.
                    if ddl_mod.create_from_insert(cast("Engine", self), sql, params):
                        return Result(self.conn.execute(sql, () if params is None else params))
            raise

    def write_many(self, sql: str, seq_of_params: Iterable[Params]) -> Result:
        """Run one write statement for each parameter set, as one write (all or nothing)."""
        try:
            with self.lock, self.atomic():
                return self.run_write(
                    lambda: Result(self.conn.executemany(sql, cast(Iterable[Any], seq_of_params))),
                    sql=sql,
                )
        except sqlite3.Error as err:
            self.note_abort(err)
            raise translate(err, sql) from err
