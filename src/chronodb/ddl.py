"""Schema changes on versioned tables: CREATE, ALTER and DROP keep every past shape queryable.

Each runs inside the write transaction the engine opened for it, so the user's table, its
history table, its triggers and the catalog change together or not at all.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.errors import SchemaError, SQLSyntaxError
from chronodb.result import Result
from chronodb.sql import temporal
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


_AFFINITY = {int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB", bool: "INTEGER"}


def _infer(values: list[Any]) -> str:
    kinds = {_AFFINITY.get(type(v)) for v in values if v is not None}
    kinds.discard(None)
    if kinds == {"INTEGER"}:
        return "INTEGER"
    if kinds <= {"INTEGER", "REAL"} and kinds:
        return "REAL"
    if len(kinds) == 1:
        return kinds.pop()  # type: ignore[return-value]
    return ""


def create_from_insert(engine: Engine, sql: str, params: Params) -> bool:
    """Create the missing table of an INSERT from its column list, types from its values.

    The seed's quick start inserts into ``users`` without creating it; a column named ``id``
    whose values are integers becomes the INTEGER PRIMARY KEY.
    """
    try:
        tree = _parse_one(sql)
    except SQLSyntaxError:
        return False
    if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Schema):
        return False
    table = tree.this.this
    name = table.name
    if engine.catalog.current(name) is not None or is_internal(name):
        return False
    columns = [c.name for c in tree.this.expressions]
    if not columns:
        return False
    values: list[list[Any]] = [[] for _ in columns]
    source = tree.args.get("expression")
    if isinstance(source, exp.Values):
        for row in source.expressions:
            for i, cell in enumerate(row.expressions[: len(columns)]):
                values[i].append(_cell_value(cell, params))
    types = [_infer(v) for v in values]
    defs = []
    for col, typ in zip(columns, types, strict=True):
        pk = " PRIMARY KEY" if col.lower() == "id" and typ == "INTEGER" else ""
        defs.append(f"{quote(col)} {typ}{pk}".rstrip())
    if not any("PRIMARY KEY" in d for d in defs) and columns[0].lower() == "id":
        defs[0] += " PRIMARY KEY"
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


def _cell_value(cell: exp.Expr, params: Params) -> Any:
    if isinstance(cell, exp.Literal):
        if cell.is_string:
            return cell.this
        number = float(cell.this)
        return int(number) if number.is_integer() and "." not in cell.this else number
    if isinstance(cell, exp.Neg) and isinstance(cell.this, exp.Literal):
        return -_cell_value(cell.this, params)
    if isinstance(cell, exp.Placeholder):
        if cell.this and isinstance(params, dict):
            return params.get(str(cell.this))
        index = cell.meta.get("index") if cell._meta else None
        if index is not None and isinstance(params, list | tuple) and index <= len(params):
            return params[index - 1]
    if isinstance(cell, exp.Boolean):
        return True
    return None
