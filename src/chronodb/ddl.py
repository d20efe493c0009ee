"""Schema changes on versioned tables: CREATE, ALTER and DROP keep every past shape queryable.

Each runs inside the write transaction the engine opened for it, so the user's table, its
history table, its triggers and the catalog change together or not at all.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.errors import SchemaError, SQLSyntaxError
from chronodb.result import Result
from chronodb.sql import autocreate, temporal
from chronodb.sql.classify import plain_view_statement
from chronodb.sql.dialect import parse
from chronodb.versioning import views
from chronodb.versioning.tables import (
    close_version,
    create_triggers,
    drop_triggers,
    is_internal,
    new_shape,
    quote,
    register_table,
    unversioned_tables,
)

if TYPE_CHECKING:
    from chronodb.engine import Engine, Params


def _parse_one(sql: str) -> exp.Expr:
    try:
        trees = parse(sql)
    except ParseError as err:
        raise temporal.syntax_error(err, sql) from None
    if len(trees) != 1:
        raise SQLSyntaxError("Expected exactly one statement", sql=sql, position=0)
    return trees[0]


def _has_version(tree: exp.Expr) -> bool:
    return any(True for _ in tree.find_all(exp.Version)) or any(
        s.args.get("chrono_as_of") for s in tree.find_all(exp.Select)
    )


def run_ddl(engine: Engine, sql: str, params: Params) -> Result:
    """Run one DDL statement, then record the views' definitions if it changed any (a
    CREATE or DROP VIEW, or an ALTER TABLE whose renames SQLite wrote into views)."""
    assert engine.open_tx is not None
    if plain_view_statement(sql):
        result = Result(engine.conn.execute(sql, () if params is None else params))
    else:
        result = _run(engine, sql, params, *engine.open_tx)
    views.record(engine.conn, *engine.open_tx)
    engine.reload_catalog()
    return result


def _run(engine: Engine, sql: str, params: Params, tx: int, us: int) -> Result:
    conn = engine.conn
    tree = _parse_one(sql)
    if isinstance(tree, exp.Create):
        run_sql, bound = sql, (() if params is None else params)
        if _has_version(tree):
            run_sql, bound = engine.bind(sql, params)
        cur = conn.execute(run_sql, bound)
        kind = (tree.args.get("kind") or "").upper()
        temporary = any(
            isinstance(p, exp.TemporaryProperty) for p in tree.find_all(exp.TemporaryProperty)
        )
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        name = target.name
        in_main = (target.db or "main").lower() == "main"  # not CREATE TABLE temp.x
        versionable = kind == "TABLE" and not temporary and in_main and not is_internal(name)
        if versionable and engine.catalog.current(name) is None:
            register_table(conn, name, tx, us)
        return Result(cur)
    if isinstance(tree, exp.Alter):
        return _alter(engine, sql, tree, tx, us)
    if isinstance(tree, exp.Drop):
        tables = [t for t in tree.find_all(exp.Table) if _in_main(conn, t)]
        versions = [engine.catalog.current(t.name) for t in tables]
        cur = conn.execute(sql, () if params is None else params)
        for sv in versions:
            if sv is not None:
                close_version(conn, sv, tx, us)
        return Result(cur)
    cur = conn.execute(sql, () if params is None else params)
    # A statement sqlglot could not parse (CREATE TABLE ... WITHOUT ROWID): version what it made.
    for name in unversioned_tables(conn, engine.catalog):
        register_table(conn, name, tx, us)
    return Result(cur)


def _in_main(conn: sqlite3.Connection, table: exp.Table) -> bool:
    """Whether a statement naming ``table`` changes the file's table of that name: SQLite
    looks for an unqualified name among the connection's TEMP tables first."""
    if table.db:
        return table.db.lower() == "main"
    shadow = conn.execute(
        "SELECT 1 FROM sqlite_temp_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
        (table.name,),
    )
    return shadow.fetchone() is None


def _alter(engine: Engine, sql: str, tree: exp.Alter, tx: int, us: int) -> Result:
    conn = engine.conn
    name = tree.this.name
    old = engine.catalog.current(name) if _in_main(conn, tree.this) else None
    if old is None:
        return Result(conn.execute(sql))
    renamed: dict[str, str] = {}
    new_name = name
    for action in tree.args.get("actions") or []:
        if isinstance(action, exp.RenameColumn):
            renamed[action.this.name] = action.args["to"].name
        elif isinstance(action, exp.AlterRename):
            new_name = action.this.name
    drop_triggers(conn, old)
    try:
        cur = conn.execute(sql)
    except sqlite3.Error:
        create_triggers(conn, old)
        raise
    sv = new_shape(conn, old, new_name, renamed, tx, us)
    create_triggers(conn, sv)
    return Result(cur)


_TYPES = {
    "integer": "INTEGER",
    "real": "REAL",
    "text": "TEXT",
    "blob": "BLOB",
    "boolean": "INTEGER",
}


def create_from_insert(engine: Engine, sql: str, params: Params) -> bool:
    """Create the missing table of an INSERT from its column list, types from its values
    (``sql/autocreate.py``): a column named ``id`` whose values are integers becomes the
    INTEGER PRIMARY KEY."""
    new = autocreate.from_insert(sql, params)
    if new is None or engine.catalog.current(new.name) is not None:
        return False
    name = new.name
    defs = [
        f"{quote(c.name)} {_TYPES.get(c.kind, '')}{' PRIMARY KEY' if c.primary else ''}".rstrip()
        for c in new.columns
    ]
    assert engine.open_tx is not None
    engine.note_ddl()
    conn = engine.conn
    try:
        conn.execute(f"CREATE TABLE {quote(name)} ({', '.join(defs)})")
    except sqlite3.Error as err:
        raise SchemaError(f"Could not create table {name!r}: {err}", table=name) from err
    register_table(conn, name, *engine.open_tx)
    engine.reload_catalog()
    return True
