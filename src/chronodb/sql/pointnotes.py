"""Notes on a time-travel read that names a point where the table, or a column, was not.

An ``AS OF`` point before a table's first transaction can only read nothing, as can an
unquoted date (``AS OF TIMESTAMP 2026-12-07`` is the arithmetic 2026 - 12 - 07, seconds
after 1970). These functions say so, naming the table's first transaction, and name when
a column that a past point lacks was added. They run only after a read came back empty or
failed, so they cost nothing on the common path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from chronodb.errors import ChronoDBError, SchemaError
from chronodb.formatting import iso_time
from chronodb.sql.temporal import Plan
from chronodb.timepoint import from_micros
from chronodb.versioning.catalog import Catalog, SchemaVersion

_UNQUOTED_DATE = re.compile(r"^\s*\d{4}\s*-\s*\d{1,2}\s*-\s*\d{1,2}\b")


def point_text(kind: str, value: int) -> str:
    """A point as SQL names it: ``TRANSACTION n`` or ``TIMESTAMP '<ISO time>'``."""
    if kind == "TRANSACTION":
        return f"TRANSACTION {value}"
    return f"TIMESTAMP '{iso_time(from_micros(value))}'"


def _when(us: int) -> str:
    return iso_time(from_micros(us))


def _as_of(plan: Plan, values: list[int]) -> Iterator[tuple[str, str, int, str | None]]:
    """(table, kind, value, expression) of each table reference read AS OF one point."""
    for ref in plan.tables:
        if ref.kind == "AS OF" and ref.points:
            point = plan.points[ref.points[0]]
            yield ref.name, point.kind, values[ref.points[0]], point.expression


def _before(version: SchemaVersion, kind: str, value: int) -> bool:
    return value < (version.from_tx if kind == "TRANSACTION" else version.from_us)


def empty_notes(plan: Plan, values: list[int], catalog: Catalog) -> list[str]:
    """Why each table read AS OF its point must be empty there, one note per table."""
    return empty_notes_at(_as_of(plan, values), catalog)


def empty_notes_at(refs: Iterable[tuple[str, str, int, str | None]], catalog: Catalog) -> list[str]:
    """:func:`empty_notes` for the tables read AS OF a point given as (table, kind, value,
    expression): kind "TRANSACTION" (value an id) or "TIMESTAMP" (value in µs), and the
    point's SQL if an expression gave it."""
    notes: list[str] = []
    for table, kind, value, expression in refs:
        first = catalog.earliest(table)
        if first is None or not _before(first, kind, value):
            continue
        note = (
            f"{table} AS OF {point_text(kind, value)} is before the table existed: "
            f"its first transaction is {first.from_tx}, at {_when(first.from_us)}"
        )
        if expression is not None and _UNQUOTED_DATE.match(expression):
            date = re.sub(r"\s+", "", expression)
            note += f"; {date} without quotes is arithmetic: write AS OF TIMESTAMP '{date}'"
        if note not in notes:
            notes.append(note)
    return notes


def column_error(
    error: ChronoDBError, plan: Plan, values: list[int], catalog: Catalog
) -> ChronoDBError:
    """``error`` naming the point and when the column was added, if it is a column that a
    table read AS OF a point did not have yet; else ``error`` unchanged."""
    refs = [(table, kind, value) for table, kind, value, _ in _as_of(plan, values)]
    return column_error_at(error, refs, catalog)


def column_error_at(
    error: ChronoDBError, refs: Iterable[tuple[str, str, int]], catalog: Catalog
) -> ChronoDBError:
    """:func:`column_error` for the tables read AS OF a point given as (table, kind,
    value): kind "TRANSACTION" (value an id) or "TIMESTAMP" (value in µs)."""
    column = getattr(error, "column", None)
    if not isinstance(error, SchemaError) or not column:
        return error
    for table, kind, value in refs:
        latest = catalog.latest(table)
        if latest is None:
            continue
        then = catalog.at_tx(table, value) if kind == "TRANSACTION" else catalog.at_us(table, value)
        if then is not None and then.column(column) is not None:
            continue  # this table had it then: the column is another's
        added = next(
            (
                shape
                for shape in catalog.versions_of(latest.table_id)
                if shape.column(column) is not None and _before(shape, kind, value)
            ),
            None,
        )
        if added is None:
            continue
        first = catalog.earliest(table)
        existed = (
            ""
            if then is not None or first is None
            else (f" (the table's first transaction is {first.from_tx}, at {_when(first.from_us)})")
        )
        return SchemaError(
            f"no such column: {column} in {table} AS OF {point_text(kind, value)}{existed}; "
            f"{column} was added in transaction {added.from_tx}, at {_when(added.from_us)}",
            table=table,
            column=column,
            sql=error.sql,
            position=error.position,
        )
    return error
