"""Pruning, erasure and the history check on PostgreSQL, for the facade
(``ChronoDB.prune_history``, ``erase``, ``check_history``), over ``chronodb.postgres.maintain``.

A trim is a write: in a transaction of its own, whose id and leaf come at COMMIT, or in the
open one. The check reads one snapshot: a transaction of its own (REPEATABLE READ), or the
open one.
"""

from __future__ import annotations

from typing import Any

from chronodb.pgengine.core import PostgresEngine
from chronodb.pgengine.history import key_values, table_of, translated
from chronodb.postgres import maintain
from chronodb.result import Result
from chronodb.timepoint import to_micros


def _written(engine: PostgresEngine, removed: Any) -> int:
    """Run ``removed()`` (how many versions a trim removed) as a write; returns its count."""

    def run() -> Result:
        result = Result(None)
        result.rowcount = removed()
        return result

    return engine.run_write(run).rowcount


@translated
def prune(engine: PostgresEngine, older_than: Any, force: bool) -> int:
    """Prune history older than ``older_than`` (see ``ChronoDB.prune_history``)."""
    cut = to_micros(older_than)
    schema = engine.backend.schema
    return _written(engine, lambda: maintain.prune(engine.conn, schema, cut, force=force))


@translated
def erase(engine: PostgresEngine, table: str, pk: Any, reason: str | None, force: bool) -> int:
    """Erase one row and its history (see ``ChronoDB.erase``)."""
    v = table_of(engine, table)
    key = key_values(v, pk)
    return _written(engine, lambda: maintain.erase(engine.conn, v, key, reason, force=force))


@translated
def check_history(engine: PostgresEngine) -> list[str]:
    """Where the tables and their history disagree (see ``ChronoDB.check_history``)."""
    conn, schema = engine.conn, engine.backend.schema
    with conn.transaction():
        if not engine.explicit:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return maintain.check(conn, schema)
