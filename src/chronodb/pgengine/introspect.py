"""What a PostgreSQL database holds beyond its tables: foreign keys and views, in the
shapes ``chronodb.introspect`` gives for SQLite (:class:`~chronodb.introspect.ForeignKey`,
:class:`~chronodb.introspect.View`), read from PostgreSQL's catalogs.

A view's statement is PostgreSQL's own rendering of its query (``pg_get_viewdef``) after
``CREATE VIEW name AS``: PostgreSQL keeps no text as written.
"""

from __future__ import annotations

import re

from chronodb.introspect import ForeignKey, View
from chronodb.pgengine.core import PostgresEngine
from chronodb.pgengine.history import table_of, translated
from chronodb.postgres.names import PREFIX, qualified, quote

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
_FOREIGN_KEYS = (
    "SELECT (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.conkey) "
    "WITH ORDINALITY AS k(num, n) JOIN pg_attribute a ON a.attrelid = c.conrelid "
    "AND a.attnum = k.num), o.relname, "
    "(SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.confkey) "
    "WITH ORDINALITY AS k(num, n) JOIN pg_attribute a ON a.attrelid = c.confrelid "
    "AND a.attnum = k.num), c.confupdtype, c.confdeltype "
    "FROM pg_constraint c JOIN pg_class o ON o.oid = c.confrelid "
    "WHERE c.conrelid = %s::regclass AND c.contype = 'f' ORDER BY c.oid"
)

_VIEWS = (
    "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
    "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'v' "
    "AND left(c.relname, %s) <> %s ORDER BY c.relname"
)


@translated
def foreign_keys(engine: PostgresEngine, table: str) -> list[ForeignKey]:
    """``table``'s foreign keys, in the order they were made; SchemaError if it is no
    versioned table now."""
    engine.horizon()  # drops a stale cache of the tables
    v = table_of(engine, table)
    rows = engine.conn.execute(_FOREIGN_KEYS, (qualified(v.schema, v.table),)).fetchall()
    return [
        ForeignKey(
            v.table,
            tuple(columns),
            other,
            tuple(others),
            _ACTIONS.get(on_update, on_update),
            _ACTIONS.get(on_delete, on_delete),
        )
        for columns, other, others, on_update, on_delete in rows
    ]


@translated
def views(engine: PostgresEngine) -> list[View]:
    """The user's views in the database's schema (not ChronoDB's own), sorted by name."""
    schema = engine.backend.schema
    rows = engine.conn.execute(_VIEWS, (quote(schema), len(PREFIX), PREFIX)).fetchall()
    return [
        View(name, f"CREATE VIEW {_name(name)} AS {' '.join(body.split()).rstrip(';')}")
        for name, body in rows
    ]


def _name(name: str) -> str:
    """``name`` as SQL writes it: quoted only where PostgreSQL needs it."""
    return name if _PLAIN.fullmatch(name) else quote(name)
