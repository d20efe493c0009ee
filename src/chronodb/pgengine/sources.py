"""Which shape of a table a temporal reference reads on PostgreSQL, from the shapes over
time (``chronodb/postgres/shapes.py``), so that answers match SQLite's.

AS OF a point, a table reads the columns it had then, under the names of then: a column
added later is not there (:func:`column_error` says when it was added, as on SQLite), a
column dropped since still is. A table dropped, or renamed away, reads AS OF before; at a
point where no table had the name it reads no rows. A range (``FOR SYSTEM_TIME ...``) reads
the name's newest shape, its versions ending where a dropped table ended. A table whose
shape never changed, and whose name no other table had, reads as it is now, with no lookup.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from chronodb.errors import ChronoDBError, SchemaError
from chronodb.layout import PG_VIEW_POINT
from chronodb.pgengine import temporal
from chronodb.postgres import Versioned
from chronodb.postgres.shapes import PENDING
from chronodb.sql.pointnotes import column_error_at, empty_notes_at, point_text
from chronodb.versioning.catalog import SchemaVersion

if TYPE_CHECKING:
    from chronodb.pgengine.core import PostgresEngine


_PARAM = PG_VIEW_POINT
"""In the values a view's query is planned with: the statement's parameters of its points."""


def versioned_of(schema: str, shape: SchemaVersion) -> Versioned:
    """A past shape as a :class:`Versioned` reading its history columns."""
    names = tuple(c.name for c in shape.columns)
    stored = tuple(c.hist for c in shape.columns)
    return Versioned(
        schema,
        shape.name,
        shape.hist,
        tuple(c.name for c in shape.key_columns),
        names,
        shape.table_id,
        () if stored == names else stored,
    )


def _point(
    plan: temporal.Plan, index: int, values: Mapping[str, Any], settled: int = 0
) -> tuple[str, int]:
    """(kind, value) of the slot's point: a transaction id (at most the horizon, since a
    shape begun later is not seen), or a time in µs.

    With the horizon to be taken inside the statement (None in ``values``), an id up to
    ``settled`` (a horizon taken earlier, which the statement's is not below) is its own
    bound; a larger one raises :class:`temporal.HorizonNeeded`."""
    _, _, indexes, unit = plan.slots[index]
    value = values[temporal.point_param(indexes[0])]
    if unit == "TRANSACTION":
        horizon = values[temporal.HORIZON]
        if horizon is None:
            if value > settled:
                raise temporal.HorizonNeeded
            return "TRANSACTION", value
        return "TRANSACTION", min(value, horizon)
    return "TIMESTAMP", value


def source(
    engine: PostgresEngine, plan: temporal.Plan, index: int, values: Mapping[str, Any]
) -> temporal.Source:
    """What slot ``index`` of ``plan`` reads, its points bound to ``values``."""
    name, kind, _, _ = plan.slots[index]
    live = engine.versioned(name)
    book = engine.shapes()
    latest = book.latest(name)
    if live is not None and (
        latest is None  # recorded before shapes were
        or (book.earliest(name) is latest and len(book.versions_of(live.number)) == 1)
    ):
        return temporal.Source(live)
    if latest is None and live is None:
        return _view(engine, plan, index, values)
    if latest is None:
        raise temporal.unknown(plan, name)
    schema = engine.backend.schema
    if kind == "AS OF":
        unit, value = _point(plan, index, values, engine.settled)
        then = book.at_tx(name, value) if unit == "TRANSACTION" else book.at_us(name, value)
        if then is None:
            empty = tuple((c.name, c.decl_type or "text") for c in latest.columns)
            return temporal.Source(None, empty=empty)
        if then.to_tx is None and live is not None and then.table_id == live.number:
            return temporal.Source(live)
        return temporal.Source(versioned_of(schema, then), past=True)
    if latest.to_tx is None and live is not None:
        return temporal.Source(live)
    until = None
    if latest.to_tx is not None and latest.to_tx != PENDING and latest.to_us is not None:
        until = (latest.to_tx, latest.to_us)
    return temporal.Source(versioned_of(schema, latest), until=until)


def _view(
    engine: PostgresEngine, plan: temporal.Plan, index: int, values: Mapping[str, Any]
) -> temporal.Source:
    """A view read with a temporal clause, as on SQLite: AS OF a point, its definition then;
    over a range, its definition now; each table it reads under the same clause."""
    name, kind, indexes, unit = plan.slots[index]
    history = engine.views()
    if not history.known(name):
        raise temporal.unknown(plan, name)
    if kind == "AS OF":
        unit, value = _point(plan, index, values, engine.settled)
        sql = history.at(name, unit, value)
        if sql is None:
            raise SchemaError(f"no such table: {name} AS OF {point_text(unit, value)}", table=name)
    else:
        sql = history.latest(name)
        if sql is None:
            raise SchemaError(f"no such table: {name}", table=name, sql=plan.sql)
    # The statement's parameters of the points (a view in a view: the outer view's).
    params = values.get(_PARAM) or tuple(temporal.point_param(i) for i in indexes)
    inner = engine.view_plan(sql, unit, kind, params)
    inner_values = {**values, _PARAM: params}
    if kind == "AS OF":  # what each table's shape is chosen by
        point = values[temporal.point_param(indexes[0])]
        inner_values.update({temporal.point_param(i): point for i in range(len(inner.points))})
    body = temporal.render(
        inner,
        lambda i: source(engine, inner, i, inner_values),
        lambda i: str(inner.points[i].param),
        writer=not engine.read_only,
        inside=engine.horizon_inside,
    )
    return temporal.Source(None, sql=body)


def _as_of(
    plan: temporal.Plan, values: Mapping[str, Any]
) -> Iterator[tuple[str, str, int, str | None]]:
    """(table, kind, value, expression) of each slot read AS OF one point (a statement
    that took its horizon inside has run: its points stand as given)."""
    for index, (name, kind, indexes, _) in enumerate(plan.slots):
        if kind == "AS OF":
            point = _point(plan, index, values, sys.maxsize)
            yield name, *point, plan.points[indexes[0]].expression


def column_error(
    engine: PostgresEngine, plan: temporal.Plan, values: Mapping[str, Any], error: ChronoDBError
) -> ChronoDBError:
    """``error`` naming the point and when the column was added, if it names a column a
    table read AS OF a point did not have yet (as on SQLite); else ``error``."""
    refs = [(table, kind, value) for table, kind, value, _ in _as_of(plan, values)]
    return column_error_at(error, refs, engine.shapes())


def empty_notes(
    engine: PostgresEngine, plan: temporal.Plan, values: Mapping[str, Any]
) -> list[str]:
    """Why each table read AS OF its point must be empty there (as on SQLite): one note per
    table whose point comes before its first shape."""
    return empty_notes_at(_as_of(plan, values), engine.shapes())
