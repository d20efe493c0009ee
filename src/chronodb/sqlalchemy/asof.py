"""The ``chronodb_as_of`` execution option: every table a query reads, read as of one point.

The dialects call :func:`as_of_sql` on each statement they execute whose execution options
(the engine's, the connection's, the statement's, merged by SQLAlchemy) hold the option:
a query gets ``AS OF TIMESTAMP``/``AS OF TRANSACTION`` on each table it reads (CTE names
and tables with a temporal clause of their own are left alone); other statements run as
written. The rewrite is cached per statement text and point.

The ORM part: an object loaded with the option remembers its point (``InstanceState.info``)
and the relationship loads made for it (lazy, ``selectinload``, ``subqueryload``) carry
the same point, so a model and its relationships read as of one moment. With the option on
a session's bind every statement of that session carries it anyway.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, Session
from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.sql.dialect import parse
from chronodb.sql.spans import PARSED
from chronodb.sqlalchemy.temporal import point_literal

AS_OF_OPTION = "chronodb_as_of"
"""The execution option's name: a datetime, epoch seconds, an ISO string or ``transaction(n)``."""
_STATE_KEY = "chronodb_as_of"


@lru_cache(maxsize=1024)
def _rewritten(sql: str, backend: str, unit: str, value: int | str) -> str:
    """``sql`` with the clause inserted after each table it reads (the text is otherwise
    kept as written: placeholders, quoting and spelling stay SQLAlchemy's)."""
    try:
        trees = parse(sql, backend)
    except ParseError:
        return sql  # not ours to judge: the database reports it as written
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        return sql
    tree = trees[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    literal = str(value) if unit == "TRANSACTION" else "'" + str(value) + "'"
    clause = f" AS OF {unit} {literal}"
    ends = []
    for table in tree.find_all(exp.Table):
        if table.args.get("version") is not None or not table.name:
            continue
        if not table.args.get("db") and table.name.lower() in ctes:
            continue
        if not isinstance(table.parent, exp.From | exp.Join):
            continue
        parsed = table.meta.get(PARSED)
        if parsed is None or parsed.span is None:
            return sql  # cannot place the clause without the table's text
        ends.append(parsed.span[2])
    for end in sorted(ends, reverse=True):
        sql = sql[:end] + clause + sql[end:]
    return sql


def as_of_sql(sql: str, backend: str, point: object) -> str:
    """``sql`` with every table it reads read as of ``point`` (``sql`` itself if it is not
    a query). ``backend`` is "sqlite" or "postgresql"."""
    unit, value = point_literal(point)
    return _rewritten(sql, backend, unit, value)


def statement_for(dialect_backend: str, statement: str, context: Any) -> str:
    """The statement a dialect sends: rewritten when the execution options ask for a point."""
    if context is None:
        return statement
    point = context.execution_options.get(AS_OF_OPTION)
    if point is None:
        return statement
    return as_of_sql(statement, dialect_backend, point)


class AsOfExecution:
    """Mixed into ChronoDB's dialects: statements run as SQLAlchemy's own dialect runs them,
    each rewritten first when its execution options hold ``chronodb_as_of``."""

    chronodb_backend = "sqlite"

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if context is not None and AS_OF_OPTION in context.execution_options:
            statement = statement_for(self.chronodb_backend, statement, context)
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        cursor.execute(statement_for(self.chronodb_backend, statement, context))


# ---------------------------------------------------------------------- the ORM's loads
def _remember_point(target: object, context: Any) -> None:
    """An object loaded as of a point keeps it, for the relationship loads made for it."""
    options = getattr(context, "execution_options", None) or {}
    point = options.get(AS_OF_OPTION)
    statement = getattr(context, "query", None)
    if point is None and statement is not None:  # the statement's own options
        point = statement.get_execution_options().get(AS_OF_OPTION)
    if point is not None:
        from sqlalchemy import inspect

        inspect(target).info[_STATE_KEY] = point


def _carry_point(orm_execute_state: Any) -> None:
    """A relationship load for an object read as of a point reads as of that point too."""
    if not orm_execute_state.is_select or AS_OF_OPTION in orm_execute_state.execution_options:
        return
    parent = orm_execute_state.lazy_loaded_from
    point = parent.info.get(_STATE_KEY) if parent is not None else None
    if point is not None:
        orm_execute_state.update_execution_options(**{AS_OF_OPTION: point})


_installed = False


def install_orm_hooks() -> None:
    """Listen for ORM loads once per process (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Mapper, "load", _remember_point)
    event.listen(Mapper, "refresh", lambda target, context, attrs: _remember_point(target, context))
    event.listen(Session, "do_orm_execute", _carry_point)
    _installed = True
