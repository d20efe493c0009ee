"""PostgreSQL's answers to the introspection API that the SQLite file answers in
``chronodb/introspect.py``: a table's foreign keys, from ``pg_constraint``."""

from __future__ import annotations

import psycopg

from chronodb.errors import SchemaError
from chronodb.introspect import ForeignKey
from chronodb.pgengine.core import PostgresEngine
from chronodb.postgres.install import qualified

# PostgreSQL's action codes (pg_constraint.confupdtype/confdeltype) as SQLite spells them.
_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

_FOREIGN_KEYS = (
    "SELECT (SELECT array_agg(a.attname ORDER BY i.n) FROM unnest(k.conkey) "
    "WITH ORDINALITY AS i(num, n) JOIN pg_attribute a "
    "ON a.attrelid = k.conrelid AND a.attnum = i.num), "
    "f.relname, (SELECT array_agg(a.attname ORDER BY i.n) FROM unnest(k.confkey) "
    "WITH ORDINALITY AS i(num, n) JOIN pg_attribute a "
    "ON a.attrelid = k.confrelid AND a.attnum = i.num), "
    "k.confupdtype, k.confdeltype "
    "FROM pg_constraint k JOIN pg_class f ON f.oid = k.confrelid "
    "WHERE k.contype = 'f' AND k.conrelid = %s::regclass ORDER BY k.oid"
)


def foreign_keys(engine: PostgresEngine, table: str) -> list[ForeignKey]:
    """``table``'s foreign keys, in the order they were created."""
    if engine.conn.closed:
        engine.reconnect()
    try:
        v = engine.versioned(table)
        if v is None:
            raise SchemaError(f"no such table: {table}", table=table)
        rows = engine.conn.execute(_FOREIGN_KEYS, (qualified(v.schema, v.table),)).fetchall()
    except psycopg.Error as err:
        if engine.conn.closed:
            engine.lost()
        raise engine.backend.translate(err) from err
    return [
        ForeignKey(
            v.table,
            tuple(local),
            other,
            tuple(remote),
            _ACTIONS.get(update, "NO ACTION"),
            _ACTIONS.get(delete, "NO ACTION"),
        )
        for local, other, remote, update, delete in rows
    ]
